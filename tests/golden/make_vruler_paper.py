"""Regenerate ``vruler_paper.json`` by running the released V-NIAH / V-NIAH-D construction loops.

Not part of the test run. Needs a clone of ``Wiselnn570/VideoRoPE`` (commit 7712ca3f; a bare clone works):

    python tests/golden/make_vruler_paper.py /path/to/VideoRoPE > tests/golden/vruler_paper.json

The released scripts build each sample inside ``inference()``: the ``for num_frames ...`` loop
of ``vision_niah_d/eval_vision_niah.py`` (V-NIAH) and of
``videorope_plus/v_ruler/eval/eval_v_ruler_interrupt.py`` (V-NIAH-D). This script takes that
loop from the file at HEAD and runs it unchanged with stand-ins for the model's inputs: one
token per temporal slot (``IMAGE_TOKENS = 1``), haystack slot ``i`` holding the value ``i``,
needle ``k`` the value ``-(k + 1)`` and its distractor ``-(k + 101)``, and a forward pass that
records the slot sequence instead of scoring it. Python's ``random`` is seeded as the scripts
seed it at import (24242424) and nothing else draws from it before the loop. The settings are
the published ones (``scripts/v_niah_d.sh``, ``eval_debug_interrupt.sh``: slots 100..2900 by
200 up to ``--max_frame_num 3000``, ``--depth_interval 0.2``, five needles). Printed per
sample: slots, depth, needle index, the needle's slot, the distractor's slot (or null) and the
number of slots; only these numbers are committed, never the authors' code.
"""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import torch

FILES = {"v-niah": "vision_niah_d/eval_vision_niah.py",
         "v-niah-d": "videorope_plus/v_ruler/eval/eval_v_ruler_interrupt.py"}  # fmt: skip
SEED, NEEDLES = 24242424, 5
ARGS = SimpleNamespace(min_frame_num=100, max_frame_num=3000, frame_interval=200, depth_interval=0.2)


def _loop(repo: str, path: str) -> ast.For:
    """The ``for num_frames`` loop of ``inference()`` in ``path`` at the repository's HEAD."""
    text = subprocess.run(["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout
    inference = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "inference")
    loop = next(n for n in inference.body if isinstance(n, ast.For) and ast.unparse(n.target) == "num_frames")
    return ast.Module(body=[loop], type_ignores=[])


def _run(repo: str, task: str) -> list[list]:
    records = []

    def forward(args, video_se, accelerator, model, input_embeds, *rest):
        sequence = input_embeds[0, :, 0].long().tolist()
        needle = next(i for i, v in enumerate(sequence) if -NEEDLES <= v < 0)
        lure = next((i for i, v in enumerate(sequence) if v <= -101), None)
        records.append([state["frames"], state["depth"], -sequence[needle] - 1, needle, lure, len(sequence)])
        return 1

    state = {}
    one = lambda value: torch.full((1, 1), float(value))  # noqa: E731  a slot of one token
    empty = torch.zeros(1, 0, 1)
    stub = SimpleNamespace(device="cpu", is_main_process=True, print=lambda *a, **k: None)
    namespace = {
        "args": ARGS, "np": np, "torch": torch, "gc": SimpleNamespace(collect=lambda: None), "tqdm": lambda x: x,
        "IMAGE_TOKENS": 1, "accelerator": stub, "model": None, "tokenizer": SimpleNamespace(pad_token_id=0),
        "haystack_embeddings": torch.arange(ARGS.max_frame_num, dtype=torch.float32)[:, None],
        "preprompt_embeddings": empty, "postprompt_embeddings": empty,
        "needle_embedding_list": [one(-(k + 1)) for k in range(NEEDLES)],
        "needle_embedding_interrupt_list": [one(-(k + 101)) for k in range(NEEDLES)],
        "question_embeding_list": [empty] * NEEDLES, "answer_embedding_list": [empty] * NEEDLES,
        "answer_id_list": [None] * NEEDLES, "all_accuries": [], "eval_forward": forward, "print": lambda *a: None,
    }  # fmt: skip
    code = compile(_loop(repo, FILES[task]), FILES[task], "exec")

    class Watch(dict):  # the loop variables, for the record
        def __setitem__(self, key, value):
            if key in ("num_frames", "depth"):
                state["frames" if key == "num_frames" else "depth"] = float(value) if key == "depth" else value
            super().__setitem__(key, value)

    random.seed(SEED)
    exec(code, Watch(namespace))  # noqa: S102
    return records


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"repository": "Wiselnn570/VideoRoPE", "commit": commit, "files": FILES, "seed": SEED, "needles": NEEDLES,
           "args": vars(ARGS), "columns": ["slots", "depth", "needle", "needle_slot", "distractor_slot", "total_slots"],
           "tasks": {task: _run(repo, task) for task in FILES}}  # fmt: skip
    json.dump(out, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
