"""The original V-RULER construction (``videorope.vruler.paper``) against the released loops of
``Wiselnn570/VideoRoPE`` at 7712ca3f (V-NIAH: ``vision_niah_d/eval_vision_niah.py``; V-NIAH-D,
counting, ordering, multi-key multi-value: ``videorope_plus/v_ruler/eval/eval_v_ruler_*.py``),
run on stand-in inputs at the published settings (``tests/golden/make_vruler_paper.py``).
Every one of the 2,175 samples must put each needle and distractor in the same slot."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from videorope.vruler import paper

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "vruler_paper.json").read_text())


def _sweep(task: str):
    """(slots, depth, needle set) in the released loop order."""
    args, sizes = GOLDEN["args"], GOLDEN["sizes"][task]
    last = task != "multi-key-multi-value"
    return [(n, d, k) for n in paper.slot_counts(args["min_frame_num"], args["max_frame_num"], args["frame_interval"])
            for d in paper.depths(args["depth_interval"], last) for k in range(len(sizes))]  # fmt: skip


def _inserts(task: str, slots: int, depth: float, k: int, rng) -> tuple[int, list[list[int]]]:
    """videorope's total slots and [slot, item] inserts (item -1: the distractor)."""
    n = GOLDEN["sizes"][task][k]
    if task in ("v-niah", "v-niah-d"):
        p = paper.place(slots, depth, rng.random() if task == "v-niah-d" else None)
        lure = [] if p.distractor is None else [[p.distractor, -1]]
        return p.total, sorted([[p.needle, 0], *lure])
    if task == "multi-key-multi-value":
        placed = paper.window_slots(slots, depth, n, rng, GOLDEN["args"]["depth_interval"])
    else:
        placed = paper.spread_slots(slots, n)
    return slots + n, [[s, j] for j, s in enumerate(placed)]


@pytest.mark.parametrize("task", ["v-niah", "v-niah-d", "counting", "ordering", "multi-key-multi-value"])
def test_every_sample_lands_where_the_released_loop_puts_it(task):
    records, sweep = GOLDEN["tasks"][task], _sweep(task)
    assert [tuple(r[:3]) for r in records] == sweep  # the same grid, depths to the last bit
    rng = random.Random(GOLDEN["seed"])  # one generator for the sweep, as the scripts' `random`
    got = [_inserts(task, n, d, k, rng) for n, d, k in sweep]
    assert got == [(r[3], r[4]) for r in records]


def test_the_needle_slot_truncates_as_the_original_int_does():
    assert [paper.needle_slot(7, 0.5), paper.needle_slot(10, 0.29), paper.needle_slot(100, 1.0)] == [3, 2, 100]


def test_the_side_rule_is_exercised_on_every_branch():
    sweep, rng = _sweep("v-niah-d"), random.Random(GOLDEN["seed"])
    sides = {
        paper.distractor_side(n, paper.needle_slot(n, d), u)
        for (n, d, _), u in zip(sweep, (rng.random() for _ in sweep), strict=True)
    }
    assert sides == {None, "before", "after"}


def test_lettered_prompts_put_the_answer_letter_last():
    prompt, letter = paper.lettered("What is on the sign?", ["cat", "dog", "owl"], "owl")
    assert letter == "C"
    assert prompt == "\nWhat is on the sign?\nA. cat\nB. dog\nC. owl\n" + paper.LETTER_INSTRUCTION
    with pytest.raises(ValueError, match="must be one of"):
        paper.lettered("Q?", ["a", "b"], "c")


def test_the_stacks_filler_questions_and_grading_equal_the_released_code():
    stack = GOLDEN["stack"]
    got = [[c, t, d, *paper.noise_repeats(c, t, d)] for c, t, d, *_ in stack["repeats"]]
    assert got == stack["repeats"]
    assert {r[0] for r in got} == set(paper.STACK_CONTEXTS) and {r[2] for r in got} == set(paper.STACK_DEPTHS)
    questions = [
        list(paper.option_question(i["question"], i["candidates"], i["correct_choice"])) for i in stack["items"]
    ]
    assert questions == stack["questions"]
    assert [paper.answer_letter(r) for r in stack["replies"]] == stack["letters"]


def test_the_fixed_prefixes_read_the_answer_after_best_answer():
    assert paper.answer_letter("Best answer: C") == "B"  # the original's reading
    assert paper.answer_letter("Best answer: C", prefixes="fixed") == "C"
    with pytest.raises(ValueError, match="prefixes must be one of"):
        paper.answer_letter("A", prefixes="lenient")


STACK = json.loads((Path(__file__).parents[1] / "golden" / "vruler_stack.json").read_text())["cases"]


@pytest.mark.parametrize("case", STACK, ids=lambda c: "{frames}f-{fps:g}fps-{height}x{width}".format(**c["case"]))
def test_the_stack_reads_the_frames_and_size_qwen_vl_utils_reads(case):
    c = case["case"]
    frames = paper.stack_frames(c["frames"], c["fps"])
    assert frames == case["indices"]
    assert (
        list(paper.stack_size(c["height"], c["width"], len(frames), c["min_pixels"], c["visual_tokens"]))
        == case["size"]
    )


@pytest.mark.parametrize("case", [c for c in STACK if c["case"]["frames"] * c["case"]["height"] < 40_000])
def test_the_stacks_frames_are_the_pixels_qwen_vl_utils_feeds(case, tmp_path):
    """Decoded with decord at the golden indices and resized as torchvision does: every frame's
    sum equals the library's (uint8 rounding included)."""
    from videorope.vruler.haystack import write_haystack
    from videorope.vruler.manifest import Sample
    from videorope.vruler.materialize import materialize

    c = case["case"]
    write_haystack(tmp_path / "v.mp4", c["frames"], c["height"], c["width"], c["fps"], seed=c["seed"], progress=False)
    sample = Sample(id="s", task="t", question="q", answer="a", scoring="exact", frame_count=len(case["indices"]),
                    depth=0.0, seed=0, haystack="v.mp4", haystack_range=(0, 0, 1),
                    haystack_frames=tuple(case["indices"]), context={"size": case["size"]})  # fmt: skip
    frames = materialize(sample, tmp_path)
    assert list(frames.shape[1:3]) == case["size"]
    assert frames.reshape(len(frames), -1).sum(1, dtype=np.int64).tolist() == case["sums"]
