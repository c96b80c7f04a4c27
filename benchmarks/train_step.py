"""Positional overhead in training: tokens per second of one training step for each layout,
against stock M-RoPE (the unpatched model) on the same tiny Qwen2-VL, in one run.

    python benchmarks/train_step.py --out benchmarks/results/train_step-cpu.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os

import torch
import transformers
from common import device, median_seconds
from positions import video_prompt

import videorope
from videorope.io import write_json
from videorope.rope import LAYOUTS
from videorope.testing import tiny_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results/train_step-cpu.json")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--threads", type=int, help="torch threads (1 is steadier on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    stock = tiny_model("qwen2_vl", attn_implementation="sdpa").train()
    inputs = video_prompt(stock.config, args.frames, 8, 8)
    vc = stock.config.vision_config
    inputs["pixel_values_videos"] = torch.randn(
        int(inputs["video_grid_thw"].prod()), vc.in_channels * vc.temporal_patch_size * vc.patch_size**2
    )
    inputs["labels"] = inputs["input_ids"].clone()
    tokens = int(inputs["input_ids"].numel())
    models = {"stock-mrope": stock}
    models.update({layout: videorope.apply(copy.deepcopy(stock), layout=layout) for layout in LAYOUTS.names()})

    def step(model):
        def run():
            model.zero_grad(set_to_none=True)
            model(**inputs).loss.backward()

        return run

    seconds = median_seconds({name: step(m) for name, m in models.items()}, args.repeats)
    result = {
        "benchmark": "train_step",
        "device": device(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "load_average_at_start": list(os.getloadavg()),
        "tokens_per_step": tokens,
        "repeats": args.repeats,
        "tokens_per_second": {k: tokens / v for k, v in seconds.items()},
        "time_vs_stock_mrope": {k: v / seconds["stock-mrope"] for k, v in seconds.items()},
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
