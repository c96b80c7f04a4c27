"""Shared test helpers: padded multimodal batches for the tiny VL models (no processor needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest
import torch

if not torch.cuda.is_available():
    # Kernel tests run Triton's interpreter without a GPU; it must be set before any kernel
    # is compiled, so here, before the test modules import them.
    os.environ.setdefault("TRITON_INTERPRET", "1")


def make_vl_batch(config: Any, rows: Sequence[Sequence[tuple]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Left-padded inputs for a tiny Qwen-VL model, as a processor would build them.

    ``rows`` holds one segment list per sample in MERGED grid units: ``("text", n)``,
    ``("image", H, W)``, ``("video", T, H, W)``. Each vision block is wrapped in
    vision_start / vision_end tokens; Qwen3-VL videos get a 2-token timestamp before each
    frame, as its processor does. Text tokens are random ids below 240.
    """
    g = torch.Generator().manual_seed(seed)
    vc = config.vision_config
    merge, patch, tpatch = vc.spatial_merge_size, vc.patch_size, vc.temporal_patch_size
    per_frame = config.model_type == "qwen3_vl"
    ids, types, grids = [], [], {"image": [], "video": []}

    def text(n: int, row_ids: list, row_types: list) -> None:
        row_ids += torch.randint(0, 240, (n,), generator=g).tolist()
        row_types += [0] * n

    for segments in rows:
        row_ids, row_types = [], []
        for kind, *dims in segments:
            if kind == "text":
                text(dims[0], row_ids, row_types)
                continue
            T, H, W = (1, *dims) if kind == "image" else dims
            grids[kind].append([T, H * merge, W * merge])
            token = config.image_token_id if kind == "image" else config.video_token_id
            code = 1 if kind == "image" else 2
            frames = [H * W] * T if (per_frame and kind == "video") else [T * H * W]
            for n in frames:
                if per_frame and kind == "video":
                    text(2, row_ids, row_types)  # timestamp "<t s>"
                row_ids += [config.vision_start_token_id] + [token] * n + [config.vision_end_token_id]
                row_types += [0] + [code] * n + [0]
        ids.append(row_ids)
        types.append(row_types)
    L = max(map(len, ids))
    batch = {
        "input_ids": torch.tensor([[0] * (L - len(r)) + r for r in ids]),
        "mm_token_type_ids": torch.tensor([[0] * (L - len(r)) + r for r in types]),
        "attention_mask": torch.tensor([[0] * (L - len(r)) + [1] * len(r) for r in ids]),
    }
    dim = vc.in_channels * tpatch * patch * patch
    for kind, key, pix in (
        ("image", "image_grid_thw", "pixel_values"),
        ("video", "video_grid_thw", "pixel_values_videos"),
    ):
        if grids[kind]:
            thw = torch.tensor(grids[kind])
            batch[key] = thw
            batch[pix] = torch.randn(int(thw.prod(-1).sum()), dim, generator=g)
    return batch


@pytest.fixture
def vl_batch():
    return make_vl_batch


def passkey_prompt(tokenizer: Any, repeats: int) -> torch.Tensor:
    """A chat prompt (1, L) hiding the pass key 6150472 between ``repeats`` noise paragraphs on
    each side (SmolLM2 retrieves it)."""
    noise = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
    needle = "The pass key is 6150472. Remember it. 6150472 is the pass key. "
    text = "There is a pass key hidden in this text. " + noise * repeats + needle + noise * repeats
    return tokenizer.apply_chat_template([{"role": "user", "content": text + "What is the pass key?"}],
                                         add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)["input_ids"]  # fmt: skip


def every_other_channel_plan(config: Any):
    """A FourierPlan keeping every other channel of K and V exact, shifted by layer and head."""
    from videorope.cache import FourierPlan

    heads, layers, head_dim = config.num_key_value_heads, config.num_hidden_layers, config.head_dim
    kept = tuple(tuple(tuple(range((layer + h) % 2, head_dim, 2)) for h in range(heads)) for layer in range(layers))
    return FourierPlan(kept, kept, head_dim)


def run_two_processes(*cli_args: str, timeout: int = 600) -> None:
    """``videorope`` CLI under torchrun with two CPU processes (gloo), a free rendezvous port."""
    import os
    import subprocess
    import sys
    import tempfile

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "videorope.cli", *cli_args]  # fmt: skip
    # not from the checkout: `python -m` puts the working directory first on sys.path, where the
    # repository's kernels/ would shadow the hub's `kernels` package that transformers imports
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=timeout,
                   cwd=tempfile.gettempdir())  # fmt: skip


_HOLD = """
import sys, time
from videorope.io import exclusive
with exclusive(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def hold():
    """``hold(folder)``: another process that holds ``folder`` as its writer (killed at teardown)."""
    import subprocess
    import sys

    procs = []

    def start(folder):
        proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "holding"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """A tiny random Llama checkpoint folder with its character-level tokenizer (trained at 512)."""
    from videorope.testing import tiny_model, tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder
