"""The ``<task>@paper`` presets build their manifests with the original's construction
(``videorope.vruler.paper``, golden-tested in ``test_paper.py``): needles fill whole two-frame
slots at the original's slots, the haystack is a contiguous 1-fps prefix, V-NIAH-D and
multi-key multi-value draw from one generator in sweep order, the question is the set's
prompt and the answer its letter; the original's needle files load as they are."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videorope.models import load_model
from videorope.vruler import paper
from videorope.vruler.manifest import read_manifest
from videorope.vruler.materialize import materialize
from videorope.vruler.report import report
from videorope.vruler.runner import EvalConfig, _messages, evaluate, read_results
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite
from videorope.vruler.tasks.paper import SETS, load_sets

SLOTS, DEPTHS = (8, 10), (0.0, 0.5, 1.0)


def _config(tasks: dict, **overrides) -> SuiteConfig:
    settings = {
        "name": "paper-test",
        "frame_counts": SLOTS,
        "depths": DEPTHS,
        "samples_per_cell": 5,
        "haystack": HaystackConfig(frames=2 * max(SLOTS), height=32, width=64, fps=1.0),
        "tasks": tasks,
    }
    return SuiteConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper-suite")
    tasks = {"v-niah@paper": {}, "v-niah-d@paper": {"cycle": 3}, "counting@paper": {}, "ordering@paper": {},
             "multi-key-multi-value@paper": {}}  # fmt: skip
    generate_suite(_config(tasks), out, progress=False)
    return out, read_manifest(out / "manifest.jsonl")


def _slots(sample, role: str) -> list[int]:
    frames = [i.position for i in sample.inserts if i.role == role]
    assert frames[1::2] == [f + 1 for f in frames[0::2]] and all(f % 2 == 0 for f in frames[0::2])  # whole slots
    return [f // 2 for f in frames[0::2]]


def test_needles_fill_the_originals_slots_in_sweep_order(suite):
    _, samples = suite
    by_task = {}
    for s in samples:
        by_task.setdefault(s.task, []).append(s)
    u, window = random.Random(paper.SEED), random.Random(paper.SEED)
    for s in by_task["v-niah@paper"]:
        assert _slots(s, "needle") == [paper.place(s.context["slots"], s.depth).needle]
    for s in by_task["v-niah-d@paper"]:
        p = paper.place(s.context["slots"], s.depth, u.random(), cycle=3)
        assert (_slots(s, "needle"), _slots(s, "distractor")) == (
            [p.needle],
            [] if p.distractor is None else [p.distractor],
        )
    assert any(_slots(s, "distractor") for s in by_task["v-niah-d@paper"])
    for task, place in (("counting@paper", None), ("ordering@paper", None), ("multi-key-multi-value@paper", window)):
        for s in by_task[task]:
            n = SETS[task.split("@")[0]][int(s.id.rsplit("/", 1)[1])]
            expected = (paper.spread_slots(s.context["slots"], n) if place is None
                        else paper.window_slots(s.context["slots"], s.depth, n, place))  # fmt: skip
            assert _slots(s, "needle") == expected


def test_samples_ask_the_sets_prompt_after_a_contiguous_one_fps_prefix(suite):
    out, samples = suite
    s = next(s for s in samples if s.task == "v-niah@paper" and s.context["slots"] == 10)
    assert s.haystack_range == (0, 20, 1) and s.frame_count == 22 and s.scoring == "exact"
    assert s.answer in "ABCD" and s.question.startswith("\n") and s.question.endswith(paper.LETTER_INSTRUCTION)
    assert s.context["system"] == paper.SYSTEM_PROMPT
    frames = materialize(s, out)
    needle = _slots(s, "needle")[0]
    assert frames.shape == (22, 32, 64, 3) and np.array_equal(frames[2 * needle], frames[2 * needle + 1])


def _original_files(folder: Path) -> tuple[Path, Path]:
    """A V-NIAH-D file and a multi-key multi-value file in the original's format (made up)."""
    (folder / "images").mkdir(parents=True)
    for name in ("kite", "kite_lure", "lamp", "lamp_lure", "a", "b", "c"):
        Image.new("RGB", (60, 30), (len(name) * 30, 90, 150)).save(folder / "images" / f"{name}.png")
    prompt = "\nWhere is the {}?\nA. left\nB. right"
    lures = [{"path": f"{n}.png", "interrupt_path": f"{n}_lure.png", "prompt": prompt.format(n),
              "answer": "B"} for n in ("kite", "lamp")]  # fmt: skip
    multi = [{"path": "['a.png', 'b.png', 'c.png']", "prompt": "Which letters?\nA. a, b\nB. a, b, c", "answer": "B"}]
    (folder / "v_niah_d.json").write_text(json.dumps(lures))
    (folder / "multi_key_multi_value.json").write_text(json.dumps(multi))
    return folder / "v_niah_d.json", folder / "multi_key_multi_value.json"


def test_the_originals_needle_files_load_and_their_images_are_stretched(tmp_path):
    lures, multi = _original_files(tmp_path / "original")
    sets = load_sets(lures)
    assert [Path(s.images[0]).name for s in sets] == ["kite.png", "lamp.png"]
    assert [Path(s.distractor).name for s in sets] == ["kite_lure.png", "lamp_lure.png"] and sets[0].answer == "B"
    assert [Path(i).name for i in load_sets(multi)[0].images] == ["a.png", "b.png", "c.png"]
    tasks = {"v-niah-d@paper": {"needles": str(lures), "cycle": 3}}
    out = tmp_path / "suite"
    generate_suite(_config(tasks, samples_per_cell=2), out, progress=False)
    s = read_manifest(out / "manifest.jsonl")[0]
    assert s.question == "\nWhere is the kite?\nA. left\nB. right" and s.context["resize"] == "stretch"
    frame = materialize(s, out)[2 * _slots(s, "needle")[0]]
    assert np.array_equal(frame, np.asarray(Image.open(tmp_path / "original/images/kite.png").resize((64, 32))))


def test_a_cell_needs_every_set_and_a_missing_image_is_named(tmp_path):
    lures, _ = _original_files(tmp_path / "original")
    with pytest.raises(ValueError, match="set samples_per_cell to 2"):
        generate_suite(_config({"v-niah-d@paper": {"needles": str(lures)}}), tmp_path / "a", progress=False)
    (tmp_path / "original/images/lamp_lure.png").unlink()
    with pytest.raises(FileNotFoundError, match="lamp_lure.png"):
        load_sets(lures)
    with pytest.raises(ValueError, match="needs 24 frames at 1 fps"):
        generate_suite(_config({"v-niah@paper": {}}, frame_counts=(12,),
                               haystack=HaystackConfig(frames=16, height=32, width=64, fps=1.0)),
                       tmp_path / "b", progress=False)  # fmt: skip


def test_a_paper_suite_runs_with_the_system_turn_and_reports_as_the_original(suite, tmp_path):
    out, samples = suite
    rows = [s for s in samples if s.task == "v-niah@paper"]
    _, processor = load_model("tiny:qwen2_vl")
    chat = processor.apply_chat_template(_messages(rows[0], processor.tokenizer), tokenize=False)
    assert chat.startswith(f"<|im_start|>system\n{paper.SYSTEM_PROMPT}<|im_end|>")
    assert chat.count(paper.SYSTEM_PROMPT) == 1
    config = EvalConfig(str(out), "tiny:qwen2_vl", str(tmp_path / "run"), tasks=("v-niah@paper",), batch_size=5)
    results = read_results(evaluate(config, progress=False))
    assert {r["frame_count"] for r in results} == set(SLOTS)  # the grid is in slots
    report([tmp_path / "run"], tmp_path / "report")
    table = json.loads((tmp_path / "report" / "run-v-niah@paper-all_accuracies.json").read_text())
    assert [(c["Num. Frame"], c["Frame Depth"]) for c in table] == [
        (n, round(d * 100, -1)) for n in SLOTS for d in DEPTHS
    ]
    cells = {(r["frame_count"], r["depth"]) for r in results}
    assert len(results) == 5 * len(cells) and "**V-RULER** | **-**" in (tmp_path / "report" / "report.md").read_text()
