"""One decoding step of attention over the FourierAttention cache against full-cache decoding.

Llama-3-8B attention shapes (32 query heads, 8 KV heads, head dim 128, bf16), one sequence
of ``--lengths`` cached tokens. The Fourier cache holds 4 sinks and a 1020-token window
exact; in the middle each KV head keeps ``1 - --compressed`` of its K and V channels exact
(0.76 compressed: the paper's schedule on average) and the rest as ``--frequencies`` fp32
DFT bins over a period planned for 256 more tokens. Cases, timed in alternation:

- ``fourier``: :func:`videorope.kernels.fourier_decode.fourier_decode` (the query projection
  and the merge included);
- ``reference``: :func:`videorope.cache.views.reference_attention` (rebuild K/V, then dense
  attention), up to ``--reference-up-to`` tokens;
- ``sdpa``: the full cache (B, 8, L, 128) through PyTorch SDPA with GQA;
- ``flash``: ``flash_attn_with_kvcache`` on the full cache, where flash-attn is installed.

Bytes are what each cache holds (what a decode step must read). The floor is those bytes at
the read bandwidth measured in the same run (a device copy); the effective bandwidth is
bytes / time. Needs a CUDA GPU (the kernel's CPU path is Triton's interpreter, for tests).

    python benchmarks/fourier_decode.py --out benchmarks/results/fourier_decode-h100.json
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import torch
import torch.nn.functional as F
from common import copy_seconds, device, median_seconds

from videorope.cache.views import CompressedView, FourierView, reference_attention
from videorope.io import write_json

LLAMA3_8B = {"q_heads": 32, "kv_heads": 8, "head_dim": 128, "sinks": 4, "window": 1020}


def _flash():
    try:
        from flash_attn import flash_attn_with_kvcache
    except ImportError:
        return None
    return flash_attn_with_kvcache


def _compressed(g, middle: int, compressed: float, frequencies: int, period: int) -> CompressedView:
    """Random K or V middle: per head its own exact channels, the rest as fp32 bins."""
    s, dev = LLAMA3_8B, "cuda"
    H, D = s["kv_heads"], s["head_dim"]
    order = torch.stack([torch.randperm(D, generator=g, device=dev) for _ in range(H)])
    keep = round((1 - compressed) * D)
    kept, dropped = order[:, :keep].sort(-1).values, order[:, keep:].sort(-1).values
    randn = partial(torch.randn, generator=g, device=dev)
    bins = [randn(1, H, frequencies, D - keep) for _ in range(2)]
    return CompressedView(randn(1, H, middle, keep, dtype=torch.bfloat16), kept, dropped, *bins, None, None, period)


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _sync(fn, *args, **kwargs) -> None:
    fn(*args, **kwargs)
    torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="8192,32768,131072")
    parser.add_argument("--compressed", type=float, default=0.76, help="share of each head's channels as bins")
    parser.add_argument("--frequencies", type=int, default=512)
    parser.add_argument("--reference-up-to", type=int, default=32768)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/fourier_decode.py needs a CUDA GPU; the kernel's correctness tests run on the CPU")
    from videorope.kernels.fourier_decode import fourier_decode

    s, flash, rows = LLAMA3_8B, _flash(), []
    H, D, exact = s["kv_heads"], s["head_dim"], s["sinks"] + s["window"] + 1
    for length in map(int, args.lengths.split(",")):
        g = torch.Generator(device="cuda").manual_seed(0)
        randn = partial(torch.randn, generator=g, device="cuda", dtype=torch.bfloat16)
        q = randn(1, s["q_heads"], 1, D)
        k, v = randn(1, H, length, D), randn(1, H, length, D)  # the full cache
        period = length + 256 - s["sinks"] - s["window"]
        middle = tuple(_compressed(g, length - exact, args.compressed, args.frequencies, period) for _ in range(2))
        view = FourierView((k[:, :, :4], v[:, :, :4]), middle, (k[:, :, 4:1024], v[:, :, 4:1024]),
                           (k[:, :, -1:], v[:, :, -1:]), "triton")  # fmt: skip
        scale = D**-0.5
        sdpa = partial(F.scaled_dot_product_attention, scale=scale, enable_gqa=True)
        cases = {"fourier": partial(_sync, fourier_decode, q, view, scale), "sdpa": partial(_sync, sdpa, q, k, v)}
        if length <= args.reference_up_to:
            cases["reference"] = partial(_sync, reference_attention, q, view, scale)
        if flash is not None:
            kf, vf = k.transpose(1, 2).contiguous(), v.transpose(1, 2).contiguous()  # (B, L, Hkv, D)
            cases["flash"] = partial(_sync, flash, q.transpose(1, 2).contiguous(), kf, vf, softmax_scale=scale)
        seconds = median_seconds(cases, args.repeats, warmup=3)
        full_bytes = _nbytes(k, v)
        fourier_bytes = 2 * exact * H * D * k.element_size() + sum(_nbytes(m.exact, m.c_cos, m.c_sin) for m in middle)
        bandwidth = full_bytes / copy_seconds(full_bytes)  # bytes read per second by a copy
        held = {"fourier": fourier_bytes, "reference": fourier_bytes, "sdpa": full_bytes, "flash": full_bytes}
        row = {"length": length, "ms": {n: 1e3 * t for n, t in seconds.items()},
               "bytes": {"fourier": fourier_bytes, "full": full_bytes}, "bytes_ratio": fourier_bytes / full_bytes,
               "read_bandwidth_GBps": bandwidth / 1e9,
               "effective_GBps": {n: held[n] / t / 1e9 for n, t in seconds.items()},
               "fraction_of_floor": fourier_bytes / bandwidth / seconds["fourier"],
               "latency_vs_sdpa": seconds["fourier"] / seconds["sdpa"]}  # fmt: skip
        if "reference" in seconds:  # the kernel's answer, checked in the same run
            error = (fourier_decode(q, view, scale) - reference_attention(q, view, scale)).abs().max()
            row["max_abs_error_vs_reference"] = error.item()
        if "flash" in seconds:
            row["latency_vs_flash"] = seconds["fourier"] / seconds["flash"]
        print(row)
        rows.append(row)
    write_json(args.out, {"device": device(), "shapes": s, "dtype": "bfloat16", "compressed": args.compressed,
                          "frequencies": args.frequencies, "coefficient_dtype": "float32", "repeats": args.repeats,
                          "flash_attn": flash is not None, "results": rows})  # fmt: skip


if __name__ == "__main__":
    main()
