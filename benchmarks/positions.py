"""Cost of videorope's positions against stock transformers, as ratios from one run.

1. Building 3D positions for one video of 128 frames x 144 tokens (18,432 tokens, plus
   text) with the patched ``get_rope_index`` (any layout) vs the stock Qwen2-VL one.
2. Prefill of a tiny Qwen2-VL patched with videorope vs the stock model on the same input.

    python benchmarks/positions.py --out benchmarks/results/positions-cpu.json
"""

from __future__ import annotations

import argparse
import copy
import json
from functools import partial

import torch
import transformers
from common import device, median_seconds

import videorope
from videorope.io import write_json
from videorope.testing import tiny_model


def video_prompt(config, frames: int, h: int, w: int, text: int = 16) -> dict[str, torch.Tensor]:
    """One row: text, vision_start, frames*h*w video tokens, vision_end, text (merged grid h x w)."""
    n = frames * h * w
    ids = (
        [1] * text
        + [config.vision_start_token_id]
        + [config.video_token_id] * n
        + [config.vision_end_token_id]
        + [1] * text
    )
    types = [0] * (text + 1) + [2] * n + [0] * (text + 1)
    merge = config.vision_config.spatial_merge_size
    return {
        "input_ids": torch.tensor([ids]),
        "mm_token_type_ids": torch.tensor([types]),
        "video_grid_thw": torch.tensor([[frames, h * merge, w * merge]]),
        "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
    }


def bench_positions(repeats: int) -> dict[str, object]:
    stock = tiny_model("qwen2_vl")
    inputs = video_prompt(stock.config, 128, 12, 12)
    fns = {"stock": partial(stock.model.get_rope_index, **inputs)}
    for layout in ("mrope", "videorope", "qwen3"):
        fns[layout] = partial(videorope.apply(copy.deepcopy(stock), layout=layout).model.get_rope_index, **inputs)
    seconds = median_seconds(fns, repeats)
    out: dict[str, object] = {"tokens": int(inputs["input_ids"].shape[1]), "seconds": seconds}
    out.update({f"{k}_vs_stock": v / seconds["stock"] for k, v in seconds.items() if k != "stock"})
    return out


def bench_prefill(repeats: int) -> dict[str, object]:
    stock = tiny_model("qwen2_vl", attn_implementation="sdpa")
    patched = videorope.apply(copy.deepcopy(stock), layout="videorope")
    inputs = video_prompt(stock.config, 32, 8, 8)
    dim = (
        stock.config.vision_config.in_channels
        * stock.config.vision_config.temporal_patch_size
        * stock.config.vision_config.patch_size**2
    )
    inputs["pixel_values_videos"] = torch.randn(int(inputs["video_grid_thw"].prod()), dim)

    def run(model):
        with torch.no_grad():
            model(**inputs)

    seconds = median_seconds({"stock": lambda: run(stock), "videorope": lambda: run(patched)}, repeats)
    return {
        "tokens": int(inputs["input_ids"].shape[1]),
        "seconds": seconds,
        "videorope_vs_stock": seconds["videorope"] / seconds["stock"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results/positions-cpu.json")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    result = {
        "benchmark": "positions",
        "device": device(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "positions_128x144": bench_positions(args.repeats),
        "prefill_tiny_qwen2_vl": bench_prefill(args.repeats),
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
