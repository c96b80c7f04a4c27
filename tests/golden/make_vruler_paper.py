"""Regenerate ``vruler_paper.json`` by running the released V-RULER construction loops.

Not part of the test run. Needs a clone of ``Wiselnn570/VideoRoPE`` (commit 7712ca3f; a bare clone works):

    python tests/golden/make_vruler_paper.py /path/to/VideoRoPE > tests/golden/vruler_paper.json

The released scripts build each sample inside ``inference()``, in its ``for num_frames ...``
loop (files in ``FILES``: V-NIAH, V-NIAH-D, counting, ordering, multi-key multi-value). This
script takes that loop from the file at HEAD and runs it unchanged with stand-ins for the
model's inputs: one token per temporal slot (``IMAGE_TOKENS = 1``), haystack slot ``i``
holding the value ``i``, item ``j`` of needle set ``k`` the value ``-(1000 k + j + 1)`` (its
V-NIAH-D distractor ``-(1000 k + 1000)``), as many items per set as the released needle file
lists (``DATA``), and a forward pass that records where the inserted images landed instead of
scoring. Python's ``random`` is seeded as the scripts seed it at import (24242424) and nothing
else draws from it before the loop. The settings are the published ones (``scripts/*.sh``:
slots 100..2900 by 200 up to ``--max_frame_num 3000``, ``--depth_interval 0.2``, five needle
sets). Only the resulting numbers are committed, never the authors' code.
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

FILES = {
    "v-niah": "vision_niah_d/eval_vision_niah.py",
    "v-niah-d": "videorope_plus/v_ruler/eval/eval_v_ruler_interrupt.py",
    "counting": "videorope_plus/v_ruler/eval/eval_v_ruler_counting.py",
    "ordering": "videorope_plus/v_ruler/eval/eval_v_ruler_order_frames.py",
    "multi-key-multi-value": "videorope_plus/v_ruler/eval/eval_v_ruler_multi_key_multi_value.py",
}
DATA = {  # the needle files the published scripts read: only their needle counts are used
    "counting": "videorope_plus/v_ruler/data/counting.json",
    "ordering": "videorope_plus/v_ruler/data/ordering.json",
    "multi-key-multi-value": "videorope_plus/v_ruler/data/multi_key_multi_value.json",
}
SEED, SETS, LURE = 24242424, 5, 999
ARGS = SimpleNamespace(min_frame_num=100, max_frame_num=3000, frame_interval=200, depth_interval=0.2)


def _show(repo: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
    ).stdout


def _loop(repo: str, path: str) -> ast.Module:
    """The ``for num_frames`` loop of ``inference()`` in ``path`` at the repository's HEAD."""
    inference = next(n for n in ast.parse(_show(repo, path)).body
                     if isinstance(n, ast.FunctionDef) and n.name == "inference")  # fmt: skip
    loop = next(n for n in inference.body if isinstance(n, ast.For) and ast.unparse(n.target) == "num_frames")
    return ast.Module(body=[loop], type_ignores=[])


def _sizes(repo: str, task: str) -> list[int]:
    """Needles per set of ``task`` (one for V-NIAH and V-NIAH-D), as the released loaders parse them."""
    if task not in DATA:
        return [1] * SETS
    paths = [e["path"] for e in json.loads(_show(repo, DATA[task]))]
    return [len(ast.literal_eval(p) if isinstance(p, str) else p) for p in paths]


def _run(repo: str, task: str) -> list[list]:
    """Per sample: slots, depth, needle set, total slots and [slot, item] of each inserted image
    in sequence order (item -1: the distractor)."""
    records, state = [], {}
    sizes = _sizes(repo, task)

    def forward(args, video_se, accelerator, model, input_embeds, *rest):
        sequence = input_embeds[0, :, 0].long().tolist()
        inserts = [[i, -v - 1] for i, v in enumerate(sequence) if v < 0]
        cell = [state["num_frames"], state["depth"]]
        index = sum(r[:2] == cell for r in records)  # the loops visit the sets in file order
        assert all(item // 1000 == index for _, item in inserts), "one needle set per sample"
        inserts = [[i, -1 if item % 1000 == LURE else item % 1000] for i, item in inserts]
        records.append([*cell, index, len(sequence), inserts])
        return 1

    one = lambda value: torch.full((1, 1), float(value))  # noqa: E731  a slot of one token
    empty = torch.zeros(1, 0, 1)
    items = [[one(-(1000 * k + j + 1)) for j in range(n)] for k, n in enumerate(sizes)]

    class Watch(dict):  # the loop variables, for the record
        def __setitem__(self, key, value):
            if key in ("num_frames", "depth"):
                state[key] = float(value) if key == "depth" else value
            super().__setitem__(key, value)

    single = task in ("v-niah", "v-niah-d")
    namespace = Watch({
        "args": ARGS, "np": np, "torch": torch, "random": random, "gc": SimpleNamespace(collect=lambda: None),
        "tqdm": lambda x: x, "print": lambda *a, **k: None, "IMAGE_TOKENS": 1, "model": None,
        "accelerator": SimpleNamespace(device="cpu", is_main_process=True, print=lambda *a, **k: None),
        "tokenizer": SimpleNamespace(pad_token_id=0),
        "haystack_embeddings": torch.arange(ARGS.max_frame_num, dtype=torch.float32)[:, None],
        "preprompt_embeddings": empty, "postprompt_embeddings": empty,
        "needle_embedding_list": [s[0] for s in items] if single else items,
        "needle_embedding_interrupt_list": [one(-(1000 * k + LURE + 1)) for k in range(len(sizes))],
        "question_embeding_list": [empty] * len(sizes), "answer_embedding_list": [empty] * len(sizes),
        "answer_id_list": [None] * len(sizes), "all_accuries": [], "eval_forward": forward,
    })  # fmt: skip
    random.seed(SEED)
    exec(compile(_loop(repo, FILES[task]), FILES[task], "exec"), namespace)  # noqa: S102
    return records


STACK_FILES = {"template": "videorope_plus/v_ruler/eval/eval_v_ruler_lengthy_multimodal_stack.py",
               "grading": "videorope_plus/v_ruler/eval/check_lengthy_multimodal_stack.py"}  # fmt: skip
STACK_CONTEXTS = range(224000, 296001, 8000)  # scripts/lengthy_multimodal_stack.sh
STACK_DEPTHS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # its --depth 3.14
ITEMS = [  # made-up LongVideoBench-style items: repeated and padded candidates included
    {"question": "What is on the table?", "candidates": ["a cup", "a lamp", "a book"], "correct_choice": 1},
    {"question": "Which colour?", "candidates": ["red", "blue", "red", "green "], "correct_choice": 0},
    {"question": "How many?", "candidates": ["1", "2", "3", "4", "5 "], "correct_choice": 4},
]
REPLIES = [
    "(B) a lamp",
    "B",
    " The answer is C.",
    "The best answer is (D)",
    "Answer: E",
    "The correct option is A",
    "I think the answer is b",
    "none",
    "The answer",
    "Best answer:Best option: (A)",
    "",
    "Option: (C) three",
    "Best answer: C",
    "Best option: D",
]  # the last two: the original reads the B of "Best"


def _function(text: str, name: str, namespace: dict):
    """Function ``name`` (top level or nested) of ``text`` compiled into ``namespace``."""
    node = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    exec(compile(ast.Module(body=[node], type_ignores=[]), name, "exec"), namespace)  # noqa: S102
    return namespace[name]


def _stack(repo: str) -> dict:
    """The lengthy multimodal stack: filler repeats (the released assignments to ``noise_time``,
    ``pre_noise`` and ``post_noise``, run per context, depth and filler token count), questions
    (``qa_template``) and grading (``extract_characters_regex``)."""
    template = _show(repo, STACK_FILES["template"])
    noise = [n for n in ast.walk(ast.parse(template)) if isinstance(n, ast.Assign)
             and ast.unparse(n.targets[0]) in ("noise_time", "pre_noise", "post_noise")]  # fmt: skip
    noise.sort(key=lambda n: n.lineno)
    repeats = []
    for context in STACK_CONTEXTS:
        for tokens in (9, 10, 11):
            for depth in STACK_DEPTHS:
                encode = lambda text, tokens=tokens: [0] * tokens  # noqa: E731
                args = SimpleNamespace(max_training_length=float(context - 32768))  # argparse type=float
                ns = {"math": __import__("math"), "args": args, "depth": depth, "noise_text": "N.",
                      "processor": SimpleNamespace(tokenizer=SimpleNamespace(encode=encode))}  # fmt: skip
                exec(compile(ast.Module(body=noise, type_ignores=[]), "noise", "exec"), ns)  # noqa: S102
                repeats.append([context, tokens, depth, len(ns["pre_noise"]) // 2, len(ns["post_noise"]) // 2])
    qa = _function(template, "qa_template", {})
    grade = _function(_show(repo, STACK_FILES["grading"]), "extract_characters_regex", {"re": __import__("re")})
    return {"files": STACK_FILES, "repeats": repeats, "items": ITEMS, "questions": [list(qa(i)) for i in ITEMS],
            "replies": REPLIES, "letters": [grade(r) for r in REPLIES]}  # fmt: skip


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"repository": "Wiselnn570/VideoRoPE", "commit": commit, "files": FILES, "data": DATA, "seed": SEED,
           "args": vars(ARGS), "sizes": {task: _sizes(repo, task) for task in FILES},
           "columns": ["slots", "depth", "set", "total_slots", "inserts [slot, item (-1: distractor)]"],
           "tasks": {task: _run(repo, task) for task in FILES}, "stack": _stack(repo)}  # fmt: skip
    json.dump(out, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
