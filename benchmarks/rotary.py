"""The Triton multimodal rotary against what users run today, forward and forward+backward.

Qwen2-VL-7B shapes (28 query heads, 4 KV heads, head dim 128, bf16) at ``--lengths`` tokens,
the HF attention layout (B, H, L, D), one sequence. Cases, timed in alternation:

- ``hf``: transformers' Qwen2-VL path, cos/sin building included: ``Qwen2VLRotaryEmbedding``
  on (3, B, L) positions, then the modeling file's ``apply_rotary_pos_emb``;
- ``reference``: videorope's PyTorch path (``cos_sin`` + ``apply_rotary``);
- ``triton``: :func:`videorope.kernels.rotary.rotary`;
- ``liger``: Liger-Kernel's ``liger_multimodal_rotary_pos_emb`` where it is installed (it takes
  the M-RoPE sections and cos/sin, built by the HF module and not timed);
- ``floor``: q and k read and written once at the copy bandwidth measured in the same run.

Needs a CUDA GPU (the kernel's CPU path is Triton's interpreter, for tests only).

    python benchmarks/rotary.py --out benchmarks/results/rotary-h100.json
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import torch
import transformers
from common import copy_seconds, device, median_seconds
from transformers.models.qwen2_vl import modeling_qwen2_vl as hf

from videorope.io import write_json
from videorope.kernels.rotary import rotary, rotary_reference
from videorope.known_configs import load_config
from videorope.rope import rotary_table
from videorope.rope.scaling import RopeSpec

QWEN2VL = {"q_heads": 28, "kv_heads": 4, "head_dim": 128, "base": 1_000_000.0, "sections": [16, 24, 24]}


def _liger():
    try:
        from liger_kernel.transformers.qwen2vl_mrope import liger_multimodal_rotary_pos_emb
    except ImportError:
        return None
    return liger_multimodal_rotary_pos_emb


def _hf_path(rope, positions, q, k):
    """What transformers runs: cos/sin from the rotary module, then the rotation."""
    cos, sin = rope(q, positions)
    return hf.apply_rotary_pos_emb(q, k, cos, sin)


def _run(fn, q, k, backward: bool) -> None:
    oq, ok = fn(q, k)
    if backward:
        torch.autograd.backward((oq, ok), (torch.ones_like(oq), torch.ones_like(ok)))
    torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="2048,8192,32768")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/rotary.py needs a CUDA GPU; the kernel's correctness tests run on the CPU")

    s = QWEN2VL
    config = transformers.AutoConfig.for_model(**load_config("Qwen2-VL-7B")).get_text_config()
    table = rotary_table(RopeSpec(s["head_dim"], s["base"], 32768), "mrope", "none",
                         allocation_options={"sections": s["sections"]})  # fmt: skip
    hf_rope = hf.Qwen2VLRotaryEmbedding(config=config).cuda()
    liger = _liger()
    rows = []
    for length in map(int, args.lengths.split(",")):
        g = torch.Generator(device="cuda").manual_seed(0)
        q = torch.randn(1, s["q_heads"], length, s["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
        k = torch.randn(1, s["kv_heads"], length, s["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
        t = torch.arange(length, device="cuda")  # a video-like walk: h and w cycle within each frame
        positions = torch.stack([t // 256, t % 256 // 16, t % 16])[:, None].float()

        ours = {"positions": positions, "table": table, "head_axis": 1}
        cases = {"hf": partial(_hf_path, hf_rope, positions.long()), "reference": partial(rotary_reference, **ours),
                 "triton": partial(rotary, **ours)}  # fmt: skip
        if liger is not None:
            cos, sin = hf_rope(q, positions.long())
            cases["liger"] = lambda q, k, cos=cos, sin=sin: liger(q, k, cos, sin, s["sections"])
        moved = 2 * (q.numel() + k.numel()) * q.element_size()  # read and written once
        floor = copy_seconds(moved) / 2  # a copy of `moved` bytes moves twice as many
        for backward in (False, True):
            inputs = [t.detach().requires_grad_(backward) for t in (q, k)]
            seconds = median_seconds({n: partial(_run, fn, *inputs, backward) for n, fn in cases.items()},
                                     args.repeats, warmup=3)  # fmt: skip
            floor_s = floor * (3 if backward else 1)  # the backward moves the gradients once more
            row = {"length": length, "pass": "forward+backward" if backward else "forward",
                   "ms": {n: 1e3 * t for n, t in seconds.items()}, "floor_ms": 1e3 * floor_s,
                   "speedup_vs_hf": seconds["hf"] / seconds["triton"],
                   "fraction_of_floor": floor_s / seconds["triton"]}  # fmt: skip
            if "liger" in seconds:
                row["speedup_vs_liger"] = seconds["liger"] / seconds["triton"]
            print(row)
            rows.append(row)
    write_json(args.out, {"device": device(), "shapes": s, "dtype": "bfloat16", "repeats": args.repeats,
                          "liger": liger is not None, "results": rows})  # fmt: skip


if __name__ == "__main__":
    main()
