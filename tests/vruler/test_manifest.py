"""The manifest: canonical JSONL, validation, format versions, frame plans."""

import json
import re

import pytest

from videorope.vruler.manifest import FORMAT_VERSION, Insert, Sample, read_manifest, write_manifest


def sample(**changes):
    base = dict(
        id="v-niah-d/f0010/d0.50/0",
        task="v-niah-d",
        question="What number is written on the red balloon?",
        answer="7",
        options=("3", "7", "1", "9"),
        scoring="choice",
        frame_count=10,
        depth=0.5,
        seed=42,
        haystack="haystack/haystack.mp4",
        haystack_range=(0, 16, 2),
        inserts=(Insert(4, "needles/n0.png"), Insert(8, "needles/d0.png", "distractor")),
    )
    return Sample(**{**base, **changes})


def test_frame_plan_puts_images_at_their_positions():
    plan = sample().frame_plan()
    assert plan[4] == ("image", "needles/n0.png") and plan[8] == ("image", "needles/d0.png")
    assert [x for kind, x in plan if kind == "haystack"] == [0, 2, 4, 6, 8, 10, 12, 14]
    s = sample()
    assert s.needle_frames == [4] and s.distractor_frames == [8]


def test_round_trip_is_byte_identical(tmp_path):
    samples = [
        sample(),
        sample(id="x", scoring="exact", options=None, inserts=(Insert(0, "n.png"),), haystack_range=(0, 9, 1)),
    ]
    a = write_manifest(tmp_path / "a.jsonl", samples)
    b = write_manifest(tmp_path / "b.jsonl", read_manifest(a))
    assert a.read_bytes() == b.read_bytes()
    line = json.loads(a.read_text().splitlines()[0])
    assert line["needle_frames"] == [4] and line["distractor_frames"] == [8] and line["format"] == FORMAT_VERSION


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"frame_count": 11}, "10 frames (haystack range + inserts) but frame_count=11"),
        ({"inserts": (Insert(4, "a"), Insert(4, "b"))}, "must be distinct"),
        ({"answer": "8"}, "must be one of its options"),
        ({"scoring": "fuzzy"}, "scoring 'fuzzy' is not one of"),
    ],
)
def test_invalid_samples(changes, message):
    if "inserts" in changes:
        changes["haystack_range"] = (0, 16, 2)
    with pytest.raises(ValueError, match=re.escape(message)):
        sample(**changes)


def test_newer_format_and_bad_lines_are_clear_errors(tmp_path):
    path = write_manifest(tmp_path / "m.jsonl", [sample()])
    d = json.loads(path.read_text())
    d["format"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(d) + "\n")
    with pytest.raises(ValueError, match="newer than this videorope reads"):
        read_manifest(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="m.jsonl:1: not a JSON object"):
        read_manifest(path)
    path.write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match="m.jsonl:1: not a V-RULER sample"):
        read_manifest(path)
    with pytest.raises(FileNotFoundError, match="videorope vruler generate"):
        read_manifest(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("haystack", "image"),
    [
        ("/etc/passwd", "needles/n0.png"),
        ("../elsewhere/h.mp4", "needles/n0.png"),
        ("haystack/haystack.mp4", "needles/../../n0.png"),
        ("haystack/out.mp4", "needles/n0.png"),
    ],  # fmt: skip
    ids=["absolute", "dot-dot", "image dot-dot", "symlink out"],
)
def test_files_outside_the_suite_are_refused(tmp_path, haystack, image):
    suite = tmp_path / "suite"
    (suite / "haystack").mkdir(parents=True)
    (tmp_path / "secret.mp4").write_text("x")
    (suite / "haystack" / "out.mp4").symlink_to(tmp_path / "secret.mp4")
    path = write_manifest(suite / "manifest.jsonl", [sample(haystack=haystack, inserts=(Insert(4, image),),
                                                            haystack_range=(0, 18, 2))])  # fmt: skip
    with pytest.raises(ValueError, match=r"manifest.jsonl:1: .* lies outside the suite"):
        read_manifest(path)
