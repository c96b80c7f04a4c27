"""FourierCache against transformers' DynamicCache: bytes held and the time of one decoding step.

The caches are filled with ``L`` random tokens per layer in the shapes of ``--model`` (its
config only; SmolLM2-135M: 30 layers, 3 KV heads of 64, 9 query heads), then one decoding
step is timed: every layer's ``update`` plus SDPA over what it returns (GQA), as the model's
attention runs it. FourierCache uses the reference path (the compressed middle is rebuilt in
every step); the Triton decode kernel of issue 8 replaces it. The channel plan has the
inverted-pyramid counts (which channels are kept does not change bytes or time). Bytes are
``nbytes()`` of each cache, exact; the per-part breakdown is recorded.

    python benchmarks/fourier_cache.py --out benchmarks/results/fourier_cache-cpu.json
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.nn.functional as F
from common import device, median_seconds
from transformers import DynamicCache

from videorope.cache import FourierCache, FourierPlan
from videorope.cache.plan import kv_shape
from videorope.io import write_json
from videorope.models import load_text_config

REPLY = 64


def _fill(cache, layers: int, heads: int, length: int, head_dim: int, dtype, dev) -> None:
    g = torch.Generator(device=dev).manual_seed(0)
    for i in range(layers):
        k, v = torch.randn(2, 1, heads, length, head_dim, generator=g, device=dev, dtype=dtype)
        cache.update(k, v, i)


def _step(cache, layers: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for i in range(layers):
        keys, values = cache.update(k, v, i)
        F.scaled_dot_product_attention(q, keys, values, enable_gqa=True)
    if q.is_cuda:
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="whose cache shapes (config only; default smollm2)")
    parser.add_argument("--lengths", default="2048,4096,8192,16384")
    parser.add_argument("--window", type=int, default=1020)
    parser.add_argument("--sinks", type=int, default=4)
    parser.add_argument("--frequencies", type=int, default=512)
    parser.add_argument("--schedule", default="inverted-pyramid")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    config = load_text_config(args.model)
    layers, heads, head_dim = kv_shape(config)
    q_heads = config.num_attention_heads
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    errors = torch.rand(layers, heads, head_dim, generator=torch.Generator().manual_seed(0))
    plan = FourierPlan.from_errors(errors, errors, args.schedule)
    results = []
    for length in map(int, args.lengths.split(",")):
        full = DynamicCache()
        fourier = FourierCache(plan, max_length=length + REPLY, sinks=args.sinks, window=args.window,
                               frequencies=args.frequencies)  # fmt: skip
        for cache in (full, fourier):
            _fill(cache, layers, heads, length, head_dim, dtype, dev)
        full_bytes = sum(t.numel() * t.element_size() for layer in full.layers for t in (layer.keys, layer.values))
        g = torch.Generator(device=dev).manual_seed(1)
        q = torch.randn(1, q_heads, 1, head_dim, generator=g, device=dev, dtype=dtype)
        k, v = torch.randn(2, 1, heads, 1, head_dim, generator=g, device=dev, dtype=dtype)
        seconds = median_seconds({name: partial(_step, c, layers, q, k, v) for name, c in
                                  (("full", full), ("fourier", fourier))}, args.repeats)  # fmt: skip
        breakdown = fourier.breakdown()
        row = {"length": length, "full_bytes": full_bytes, "fourier_bytes": fourier.nbytes(),
               "bytes_ratio": fourier.nbytes() / full_bytes, "fourier_breakdown": breakdown,
               "full_step_ms": 1e3 * seconds["full"], "fourier_step_ms": 1e3 * seconds["fourier"],
               "step_time_ratio": seconds["fourier"] / seconds["full"]}  # fmt: skip
        print(f"{length:>6}: bytes x{row['bytes_ratio']:.3f} ({fourier.nbytes() / 2**20:.1f} vs "
              f"{full_bytes / 2**20:.1f} MiB), step {row['fourier_step_ms']:.1f} vs {row['full_step_ms']:.1f} ms "
              f"(x{row['step_time_ratio']:.1f})")  # fmt: skip
        results.append(row)
    write_json(args.out, {"device": device(), "model": args.model, "dtype": str(dtype),
                          "shapes": {"layers": layers, "kv_heads": heads, "q_heads": q_heads, "head_dim": head_dim},
                          "cache": {"schedule": args.schedule, "compressed_fraction": plan.compressed_fraction(),
                                    "sinks": args.sinks, "window": args.window, "frequencies": args.frequencies,
                                    "max_length": f"length + {REPLY}"},
                          "repeats": args.repeats, "results": results})  # fmt: skip


if __name__ == "__main__":
    main()
