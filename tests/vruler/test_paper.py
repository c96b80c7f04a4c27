"""The original V-NIAH / V-NIAH-D construction (``videorope.vruler.paper``) against the released
loops: ``Wiselnn570/VideoRoPE`` at 7712ca3f, ``vision_niah_d/eval_vision_niah.py`` (V-NIAH) and
``videorope_plus/v_ruler/eval/eval_v_ruler_interrupt.py`` (V-NIAH-D), run on stand-in inputs at
the published settings (``tests/golden/make_vruler_paper.py``). Every one of the 2 x 450
samples must land its needle and distractor in the same slot; and the original's needle files
load as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videorope.vruler import paper

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "vruler_paper.json").read_text())


def _sweep():
    """(slots, depth) in the released loop order, each repeated once per needle."""
    args = GOLDEN["args"]
    return [(n, d) for n in paper.slot_counts(args["min_frame_num"], args["max_frame_num"], args["frame_interval"])
            for d in paper.depths(args["depth_interval"]) for _ in range(GOLDEN["needles"])]  # fmt: skip


@pytest.mark.parametrize("task", ["v-niah", "v-niah-d"])
def test_every_sample_lands_where_the_released_loop_puts_it(task):
    records, sweep = GOLDEN["tasks"][task], _sweep()
    assert [(r[0], r[1]) for r in records] == sweep  # the same grid, depths to the last bit
    u = paper.draws(len(records), GOLDEN["seed"]) if task == "v-niah-d" else [None] * len(records)
    got = [paper.place(n, d, u[k]) for k, (n, d) in enumerate(sweep)]
    assert [[p.needle, p.distractor, p.total] for p in got] == [r[3:] for r in records]


def test_the_needle_slot_truncates_as_the_original_int_does():
    assert [paper.needle_slot(7, 0.5), paper.needle_slot(10, 0.29), paper.needle_slot(100, 1.0)] == [3, 2, 100]


def test_the_side_rule_is_exercised_on_every_branch():
    sides = {paper.distractor_side(n, paper.needle_slot(n, d), u) for (n, d), u in zip(_sweep(), paper.draws(450))}
    assert sides == {None, "before", "after"}


def test_lettered_prompts_put_the_answer_letter_last():
    prompt, letter = paper.lettered("What is on the sign?", ["cat", "dog", "owl"], "owl")
    assert letter == "C"
    assert prompt == "\nWhat is on the sign?\nA. cat\nB. dog\nC. owl\n" + paper.LETTER_INSTRUCTION
    with pytest.raises(ValueError, match="must be one of"):
        paper.lettered("Q?", ["a", "b"], "c")


def _needle_file(folder: Path, lure: bool) -> Path:
    (folder / "images").mkdir(parents=True)
    entries = []
    for name in ("kite", "lamp"):
        (folder / "images" / f"{name}.png").write_bytes(b"png")
        entry = {"path": f"{name}.png", "prompt": f"\nWhere is the {name}?\nA. left\nB. right", "answer": "B"}
        if lure:
            (folder / "images" / f"{name}_lure.png").write_bytes(b"png")
            entry["interrupt_path"] = f"{name}_lure.png"
        entries.append(entry)
    (folder / "dataset.json").write_text(json.dumps(entries))
    return folder / "dataset.json"


@pytest.mark.parametrize("lure", [False, True])
def test_the_originals_needle_files_load_as_they_are(tmp_path, lure):
    needles = paper.load_paper_needles(_needle_file(tmp_path, lure))
    assert [Path(n.image).name for n in needles] == ["kite.png", "lamp.png"]
    assert needles[0].prompt.startswith("\nWhere is the kite?") and needles[0].answer == "B"
    assert [n.distractor and Path(n.distractor).name for n in needles] == (
        ["kite_lure.png", "lamp_lure.png"] if lure else [None, None])  # fmt: skip


def test_a_missing_needle_image_or_field_is_named(tmp_path):
    source = _needle_file(tmp_path, lure=True)
    (tmp_path / "images" / "lamp_lure.png").unlink()
    with pytest.raises(FileNotFoundError, match="lamp_lure.png"):
        paper.load_paper_needles(source)
    source.write_text(json.dumps([{"path": "kite.png", "answer": "B"}]))
    with pytest.raises(ValueError, match="lacks \\['prompt'\\]"):
        paper.load_paper_needles(source)
