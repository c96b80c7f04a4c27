"""LLaDA sampling speed with and without the approximate prompt cache, and what it changes.

For each prompt length, ``generate`` fills ``--gen`` tokens (one block, ``--steps`` steps,
greedy) with no cache, then with a :class:`~videorope.llada.cache.PromptCache` refreshed
every ``--refresh`` steps, stored exact and Fourier-compressed (half of each head's channels
as DFT bins). Reported: generated tokens per second, the speed-up over no cache, the share
of generated tokens equal to the no-cache reply, and the cache's bytes. Models: the tiny
random LLaDA scaled up a little (CPU), or LLaDA-8B shapes with random weights
(``--model 8b``, GPU, bf16). Random weights make the agreement a mechanics check, not a
quality measure; the real model's accuracy change needs real weights.

    python benchmarks/llada_sampler.py --out benchmarks/results/llada_sampler-cpu.json
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from common import device

from videorope.cache import FourierOptions, FourierPlan
from videorope.io import write_json
from videorope.llada import LLaDAConfig, LLaDAModelLM, tiny_llada
from videorope.llada.cache import PromptCache
from videorope.llada.sampler import generate

SMALL = {"d_model": 256, "n_heads": 4, "n_layers": 4, "mlp_hidden_size": 512, "vocab_size": 256,
         "max_sequence_length": 4096, "mask_token_id": 255, "eos_token_id": 254, "pad_token_id": 254}  # fmt: skip


def _model(kind: str) -> torch.nn.Module:
    if kind == "small":
        return tiny_llada(**SMALL)
    with torch.device("cuda"):
        model = LLaDAModelLM(LLaDAConfig()).to(torch.bfloat16)  # LLaDA-8B shapes, random weights
    return model.eval()


def _half_plan(config) -> FourierPlan:
    kept = tuple(tuple(tuple(range(h % 2, config.head_dim, 2)) for h in range(config.n_kv_heads))
                 for _ in range(config.n_layers))  # fmt: skip
    return FourierPlan(kept, kept, config.head_dim)


def _timed(fn) -> tuple[torch.Tensor, float]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["small", "8b"], default="small")
    parser.add_argument("--lengths", default="256,1024,2048", help="prompt lengths")
    parser.add_argument("--gen", type=int, default=32)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--refresh", default="4,8")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = _model(args.model)
    dev = model.device
    rows = []
    sample = partial(generate, model, gen_length=args.gen, block_length=args.gen, steps=args.steps, progress=False)
    for length in map(int, args.lengths.split(",")):
        prompt = torch.randint(0, 200, (1, length), generator=torch.Generator().manual_seed(0)).to(dev)
        generate(model, prompt[:, :16], gen_length=1, block_length=1, steps=1, progress=False)  # warm up
        plain, plain_s = _timed(partial(sample, prompt))
        row = {"prompt": length, "no_cache": {"tokens_per_s": args.gen / plain_s}}
        options = FourierOptions(max_length=length, sinks=4, window=min(128, length // 4), frequencies=32)
        for refresh in map(int, args.refresh.split(",")):
            for store, extra in (("exact", {}), ("fourier", {"plan": _half_plan(model.config), "options": options})):
                cache = PromptCache(length, refresh, **extra)
                out, seconds = _timed(partial(sample, prompt, prompt_cache=cache))
                row[f"{store}_refresh{refresh}"] = {
                    "tokens_per_s": args.gen / seconds, "speedup": plain_s / seconds,
                    "agreement": (out[:, length:] == plain[:, length:]).float().mean().item(),
                    "cache_bytes": cache.nbytes(),
                }  # fmt: skip
        print(row)
        rows.append(row)
    write_json(args.out, {"device": device(), "model": args.model, "gen_length": args.gen, "steps": args.steps,
                          "results": rows})  # fmt: skip


if __name__ == "__main__":
    main()
