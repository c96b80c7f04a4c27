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
        assert _slots(s, "needle") == [paper.place(s.context["count"], s.depth).needle]
    for s in by_task["v-niah-d@paper"]:
        p = paper.place(s.context["count"], s.depth, u.random(), cycle=3)
        assert (_slots(s, "needle"), _slots(s, "distractor")) == (
            [p.needle],
            [] if p.distractor is None else [p.distractor],
        )
    assert any(_slots(s, "distractor") for s in by_task["v-niah-d@paper"])
    for task, place in (("counting@paper", None), ("ordering@paper", None), ("multi-key-multi-value@paper", window)):
        for s in by_task[task]:
            n = SETS[task.split("@")[0]][int(s.id.rsplit("/", 1)[1])]
            expected = (paper.spread_slots(s.context["count"], n) if place is None
                        else paper.window_slots(s.context["count"], s.depth, n, place))  # fmt: skip
            assert _slots(s, "needle") == expected


def test_samples_ask_the_sets_prompt_after_a_contiguous_one_fps_prefix(suite):
    out, samples = suite
    s = next(s for s in samples if s.task == "v-niah@paper" and s.context["count"] == 10)
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


STACK = {"multimodal-stack@paper": {"frame_counts": [1200, 1600], "samples_per_cell": 2, "visual_tokens": 256,
                                    "min_pixels": 4 * 28 * 28}}  # fmt: skip
VIDEO = HaystackConfig(frames=40, height=32, width=64, fps=1.0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    out = tmp_path_factory.mktemp("stack-suite")
    generate_suite(_config(STACK, haystack=VIDEO), out, progress=False)
    return out, read_manifest(out / "manifest.jsonl")


def test_the_stack_sweeps_its_own_contexts_and_reads_the_video_as_qwen_vl_utils(stack):
    out, samples = stack
    assert [(s.context["count"], s.depth) for s in samples] == [
        (c, d) for c in (1200, 1600) for d in paper.STACK_DEPTHS for _ in range(2)
    ]  # the task's own sweep: contexts x the original's depths, not the suite's slots and depths
    s = samples[0]
    frames = paper.stack_frames(40, 1.0)
    assert s.haystack_frames == tuple(frames) and s.frame_count == len(frames) + 2
    middle = len(frames) // 2  # offline: the drawn needle fills the middle slot
    assert [i.position for i in s.inserts] == [middle, middle + 1]
    size = paper.stack_size(32, 64, len(frames) + 2, 4 * 28 * 28, 256)
    assert tuple(s.context["size"]) == size and materialize(s, out).shape == (len(frames) + 2, *size, 3)
    assert s.scoring == "letter" and s.context["generate"] == 3 and s.answer[:4] in {f"({c}) " for c in "ABCD"}
    assert s.question.startswith("Question: ") and "\nOptions:\n(A) " in s.question


def test_the_stack_alone_needs_a_haystack_length_and_a_count_of_questions(tmp_path):
    with pytest.raises(ValueError, match="set haystack.frames"):
        generate_suite(_config(STACK, haystack=HaystackConfig(fps=1.0)), tmp_path / "a", progress=False)
    many = {"multimodal-stack@paper": {**STACK["multimodal-stack@paper"], "samples_per_cell": 6}}
    with pytest.raises(ValueError, match="samples_per_cell to 5"):
        generate_suite(_config(many, haystack=VIDEO), tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="tasks.multimodal-stack@paper.depths"):
        _config({"multimodal-stack@paper": {"depths": [1.5]}})


def test_the_originals_question_file_loads_without_subtitle_questions(tmp_path):
    from videorope.vruler.haystack import write_haystack
    from videorope.vruler.tasks.paper import load_questions

    (tmp_path / "videos").mkdir()
    write_haystack(tmp_path / "videos" / "v1.mp4", 30, 32, 64, 10.0, seed=1, progress=False)
    items = [{"video_path": "v1.mp4", "question": "What is shown?", "candidates": ["a hill", "a lake"],
              "correct_choice": 1, "question_category": "S2A"},
             {"video_path": "v1.mp4", "question": "What do the subtitles say?", "candidates": ["x", "y"],
              "correct_choice": 0}]  # fmt: skip
    (tmp_path / "stack.json").write_text(json.dumps(items))
    questions = load_questions(tmp_path / "stack.json")
    assert [(q.prompt, q.answer) for q in questions] == [
        ("Question: What is shown?\nOptions:\n(A) a hill\n(B) a lake", "(B) a lake")
    ]
    assert len(load_questions(tmp_path / "stack.json", clean_subtitles=False)) == 2
    tasks = {"multimodal-stack@paper": {**STACK["multimodal-stack@paper"], "samples_per_cell": 1,
                                        "questions": str(tmp_path / "stack.json")}}  # fmt: skip
    generate_suite(_config(tasks, haystack=VIDEO), tmp_path / "suite", progress=False)
    s = read_manifest(tmp_path / "suite" / "manifest.jsonl")[0]
    assert s.haystack == "videos/v1.mp4" and not s.inserts  # the suite's own copy (a hard link here)
    assert (tmp_path / "suite" / s.haystack).samefile(tmp_path / "videos" / "v1.mp4")
    assert s.haystack_frames == tuple(paper.stack_frames(30, 10.0))  # 3 s at 2 fps: the 4-frame minimum
    items[0]["video_path"] = "gone.mp4"
    (tmp_path / "stack.json").write_text(json.dumps(items))
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        load_questions(tmp_path / "stack.json")


def test_the_stack_runs_inside_its_filler_and_grades_the_letter_of_a_short_reply(stack, tmp_path):
    out, samples = stack
    _, processor = load_model("tiny:qwen2_vl")
    tokenizer = processor.tokenizer
    for s in samples[:6]:  # depths 0..1 at the first context
        before, after = paper.noise_repeats(1200, len(tokenizer.encode(paper.STACK_NOISE)), s.depth, 256)
        chat = processor.apply_chat_template(_messages(s, tokenizer), tokenize=False)
        video = "<|vision_start|><|video_pad|><|vision_end|>"
        user = f"<|im_start|>user\n{paper.STACK_NOISE * before}{video}{paper.STACK_NOISE * after}{s.question}<|im_end|>"
        assert chat.startswith(f"<|im_start|>system\n{paper.SYSTEM_PROMPT}<|im_end|>") and user in chat
    config = EvalConfig(str(out), "tiny:qwen2_vl", str(tmp_path / "run"), batch_size=4)
    results = read_results(evaluate(config, progress=False))
    assert {r["frame_count"] for r in results} == {1200, 1600}
    for r, s in zip(results, samples, strict=True):
        assert r["correct"] == (paper.answer_letter(r["prediction"]) == s.answer[1])
    half = len(results) // 2  # the same depths and questions at 1200, then at 1600 tokens
    grown = [b["tokens"] - a["tokens"] for a, b in zip(results[:half], results[half:], strict=True)]
    per = len(tokenizer.encode(paper.STACK_NOISE))
    assert all(abs(g - 400) <= 2 * per for g in grown)  # 400 more context tokens are filler (to a sentence per side)


def test_the_paper_config_sweeps_the_published_grid():
    from videorope.config import load

    config = load(SuiteConfig, Path(__file__).parents[2] / "configs" / "vruler" / "paper.yaml", [])
    cells = config.cells()
    count = {t: sum(c.task == t for c in cells) for t in config.tasks}
    assert count == {"v-niah@paper": 15 * 6 * 5, "v-niah-d@paper": 15 * 6 * 5, "counting@paper": 15 * 5,
                     "multi-key-multi-value@paper": 15 * 5 * 5, "ordering@paper": 15 * 5,
                     "multimodal-stack@paper": 10 * 6 * 5}  # fmt: skip
    assert sorted({c.frame_count for c in cells if c.task == "multimodal-stack@paper"}) == list(paper.STACK_CONTEXTS)
