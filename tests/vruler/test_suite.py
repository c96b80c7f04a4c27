"""Generating a suite: determinism, resume, placement rules, and materialised pixels."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("decord")
pytest.importorskip("av")

from videorope.vruler.haystack import read_frames, write_haystack  # noqa: E402
from videorope.vruler.manifest import read_manifest  # noqa: E402
from videorope.vruler.materialize import fit_image, materialize  # noqa: E402
from videorope.vruler.needles import load_needles  # noqa: E402
from videorope.vruler.placement import depth_position  # noqa: E402
from videorope.vruler.scoring import is_preset  # noqa: E402
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite  # noqa: E402
from videorope.vruler.tasks import TASKS  # noqa: E402

TINY = SuiteConfig(
    name="tiny",
    seed=7,
    frame_counts=(12, 24),
    depths=(0.0, 0.5, 1.0),
    samples_per_cell=2,
    haystack=HaystackConfig(height=48, width=64, fps=2.0),
    tasks={
        "v-niah": {},
        "v-niah-d": {"distance": 6},
        "multi-key-multi-value": {"values": [3, 4], "window": 0.25},
        "counting": {},
        "ordering": {},
        "multimodal-stack": {"text_tokens": 64},
    },
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    return out, read_manifest(generate_suite(TINY, out, progress=False))


def test_every_task_and_cell_is_generated(suite):
    _, samples = suite
    own = [name for name in TASKS.names() if not is_preset(name)]  # the @paper presets: test_paper_tasks.py
    assert sorted({s.task for s in samples}) == sorted(own)
    per_task = {t: sum(s.task == t for s in samples) for t in own}
    assert per_task["v-niah"] == 2 * 3 * 2 and per_task["counting"] == 2 * 1 * 2  # counting ignores depth
    assert len({s.id for s in samples}) == len(samples)


def test_same_seed_same_bytes_and_rerun_skips(suite, tmp_path):
    out, _ = suite
    again = generate_suite(TINY, tmp_path, progress=False)
    assert again.read_bytes() == (out / "manifest.jsonl").read_bytes()
    haystack = out / "haystack" / "haystack.mp4"
    before = haystack.stat().st_mtime_ns
    generate_suite(TINY, out, progress=False)
    assert haystack.stat().st_mtime_ns == before
    other = generate_suite(dataclasses.replace(TINY, seed=8), tmp_path / "b", progress=False)
    assert other.read_bytes() != again.read_bytes()


def test_needles_sit_at_their_depth(suite):
    _, samples = suite
    for s in samples:
        if s.task in ("v-niah", "v-niah-d"):
            assert s.needle_frames == [depth_position(s.frame_count, s.depth)]


def test_distractor_distance_and_side_rule(suite):
    _, samples = suite
    for s in (s for s in samples if s.task == "v-niah-d"):
        (needle,) = s.needle_frames
        fits = [p for p in (needle - 6, needle + 6) if 0 <= p < s.frame_count]
        if fits:
            assert s.distractor_frames and s.distractor_frames[0] in fits
        else:
            assert s.distractor_frames == []
        inserts = {i.role: i.image for i in s.inserts}
        if "distractor" in inserts:
            assert inserts["distractor"] != inserts["needle"]


def test_multi_value_needles_share_a_window(suite):
    _, samples = suite
    for s in (s for s in samples if s.task == "multi-key-multi-value"):
        assert 3 <= len(s.needle_frames) <= 4
        assert s.needle_frames == sorted(s.needle_frames)
        assert s.answer == ", ".join(s.answer.split(", "))


def test_materialised_pixels(suite):
    out, samples = suite
    for s in samples[:: max(1, len(samples) // 12)]:
        frames = materialize(s, out)
        assert frames.shape == (s.frame_count, 48, 64, 3) and frames.dtype == np.uint8
        plan = s.frame_plan()
        haystack = read_frames(out / s.haystack, [x for kind, x in plan if kind == "haystack"])
        h = iter(haystack)
        for i, (kind, x) in enumerate(plan):
            expected = next(h) if kind == "haystack" else fit_image(str(out / x), 48, 64)
            assert np.array_equal(frames[i], expected), (s.id, i)
        for p in s.needle_frames:  # a needle frame is not a haystack frame
            assert not any(np.array_equal(frames[p], f) for f in haystack)


def test_bad_configs_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'v-niha'"):
        dataclasses.replace(TINY, tasks={"v-niha": {}})
    with pytest.raises(ValueError, match="unknown option"):
        dataclasses.replace(TINY, tasks={"v-niah-d": {"distanse": 3}})
    with pytest.raises(ValueError, match="depths must be fractions"):
        dataclasses.replace(TINY, depths=(1.5,))
    with pytest.raises(ValueError, match="tasks.v-niah.frame_counts must be positive integers"):
        dataclasses.replace(TINY, tasks={"v-niah": {"frame_counts": [0]}})
    assert not any(tmp_path.iterdir())


def test_a_task_can_sweep_apart_from_the_suite():
    config = dataclasses.replace(TINY, tasks={"v-niah": {"frame_counts": [5], "samples_per_cell": 2}, "counting": {}})
    cells = config.cells()
    assert {(c.frame_count, c.index) for c in cells if c.task == "v-niah"} == {(5, 0), (5, 1)}
    assert {c.frame_count for c in cells if c.task == "counting"} == set(TINY.frame_counts)
    assert config.options("v-niah") == TASKS.resolve("v-niah", {})


def test_user_video_too_short(tmp_path):
    video = write_haystack(tmp_path / "mine.mp4", 10, 32, 32)
    config = dataclasses.replace(TINY, haystack=HaystackConfig(videos=video.path), tasks={"v-niah": {}})
    with pytest.raises(ValueError, match="needs 11 haystack frames but the longest haystack has 10"):
        generate_suite(config, tmp_path / "suite", progress=False)


def test_a_user_video_that_decodes_only_partly_is_named_when_the_suite_is_generated(tmp_path):
    video = Path(write_haystack(tmp_path / "mine.mp4", 64, 32, 32, seed=1).path)
    data = bytearray(video.read_bytes())
    start = data.find(b"mdat") + 8
    body = data.find(b"moov") - start  # zero the middle of the frame data, keep the index
    data[start + body * 3 // 10 : start + body * 8 // 10] = bytes(body * 8 // 10 - body * 3 // 10)
    video.write_bytes(bytes(data))
    config = dataclasses.replace(TINY, haystack=HaystackConfig(videos=str(video)), tasks={"v-niah": {}},
                                 frame_counts=(60,))  # fmt: skip
    with pytest.raises(ValueError, match=r"mine.mp4'?: frame \d+ does not decode .* re-encode the video"):
        generate_suite(config, tmp_path / "suite", progress=False)


def test_cli_generate(tmp_path, capsys):
    from videorope.cli import main

    config = tmp_path / "s.yaml"
    config.write_text("frame_counts: [8]\ndepths: [0.5]\nhaystack: {height: 32, width: 32}\ntasks: {v-niah: {}}\n")
    assert (
        main(["vruler", "generate", "--config", str(config), "--out", str(tmp_path / "s"), "-q", "--set", "seed=3"])
        == 0
    )
    manifest = tmp_path / "s" / "manifest.jsonl"
    assert str(manifest) in capsys.readouterr().out
    assert [s.seed for s in read_manifest(manifest)] != []
    assert (
        main(
            [
                "vruler",
                "generate",
                "--config",
                str(config),
                "--out",
                str(tmp_path / "t"),
                "-q",
                "--set",
                "tasks={v-nah: {}}",
            ]
        )
        == 2
    )
    assert "unknown task 'v-nah'" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_user_needles_and_distractors(tmp_path):
    from PIL import Image

    from videorope.vruler.needles import NeedleSpec, save_needles

    folder = tmp_path / "mine"
    (folder / "img").mkdir(parents=True)
    Image.new("RGB", (40, 40), (200, 30, 30)).save(folder / "img" / "cat.png")
    Image.new("RGB", (40, 40), (30, 30, 200)).save(folder / "img" / "dog.png")
    question, options = "Which animal is in the video?", ("cat", "dog", "cow")
    save_needles(folder / "needles.json", [
        NeedleSpec("img/cat.png", question, "cat", options),
        NeedleSpec("img/dog.png", question, "dog", options, kind="distractor"),
    ])  # fmt: skip
    config = dataclasses.replace(TINY, needles=str(folder / "needles.json"), tasks={"v-niah-d": {"distance": 6}})
    out = tmp_path / "suite"
    samples = read_manifest(generate_suite(config, out, progress=False))
    assert {s.answer for s in samples} == {"cat"} and {s.question for s in samples} == {question}
    with_lure = [s for s in samples if s.distractor_frames]
    assert with_lure and all(
        {i.image for i in s.inserts} == {"needles/user/cat.png", "needles/user/dog.png"} for s in with_lure
    )
    s = with_lure[0]
    frames = materialize(s, out)
    assert np.array_equal(frames[s.needle_frames[0]], fit_image(str(out / "needles/user/cat.png"), 48, 64))
    assert frames[s.needle_frames[0]][24, 32].tolist() == [200, 30, 30]


def test_default_suite_places_distractors():
    from videorope.vruler.tasks import TASKS

    config = SuiteConfig()
    distance = TASKS.resolve("v-niah-d", config.tasks["v-niah-d"])["distance"]
    assert distance <= (min(config.frame_counts) - 1) / 2  # one side fits at every depth


def test_haystack_stretches_are_decoded_once_and_invalidated_by_a_rewrite(tmp_path, monkeypatch):
    import videorope.vruler.materialize as mat

    config = dataclasses.replace(TINY, frame_counts=(12,), tasks={"v-niah": {}})
    out = tmp_path / "suite"
    samples = read_manifest(generate_suite(config, out, progress=False))
    calls = []
    real = mat.read_frames
    monkeypatch.setattr(mat, "read_frames", lambda path, idx: calls.append(path) or real(path, idx))
    first = [materialize(s, out) for s in samples]
    assert len(calls) == 1  # every sample shares one haystack stretch
    monkeypatch.setattr(mat, "HAYSTACK_CACHE_BYTES", 0)
    write_haystack(out / samples[0].haystack, 30, 48, 64, 2.0, seed=99, progress=False)
    again = materialize(samples[0], out)
    assert len(calls) == 2 and not np.array_equal(again, first[0])  # a rewritten video is read anew
    assert len(mat._stretches) == 1  # over budget: all but the newest stretch are evicted
    (out / samples[0].haystack).unlink()
    with pytest.raises(FileNotFoundError, match="re-run `videorope vruler generate`"):
        materialize(samples[0], out)


def test_v_niah_d_lure_can_differ_in_object_too(tmp_path):
    config = dataclasses.replace(
        TINY, frame_counts=(12,), tasks={"v-niah-d": {"distance": 6, "lure_differs": ["colour", "object"]}}
    )
    out = tmp_path / "suite"
    samples = read_manifest(generate_suite(config, out, progress=False))
    specs = {n.image: n for n in load_needles(out / "needles.json")}
    pairs = [(specs[s.inserts[0].image], specs[s.inserts[1].image]) for s in samples if len(s.inserts) == 2]
    assert pairs and all(a.object != b.object and a.colour != b.colour for a, b in pairs)
    with pytest.raises(ValueError, match="key must be"):
        generate_suite(
            dataclasses.replace(config, tasks={"v-niah-d": {"distance": 6, "lure_differs": ["label"]}}),
            tmp_path / "bad",
            progress=False,
        )


def test_v_niah_can_ask_several_attributes(tmp_path):
    config = dataclasses.replace(
        TINY, frame_counts=(4,), samples_per_cell=12, tasks={"v-niah": {"ask": ["label", "colour", "object"]}}
    )
    out = tmp_path / "suite"
    samples = read_manifest(generate_suite(config, out, progress=False))
    specs = {n.image: n for n in load_needles(out / "needles.json")}
    asked = {specs[s.inserts[0].image].asked for s in samples}
    assert asked == {"label", "colour", "object"}
    for s in samples:  # the answer is the asked attribute of the needle shown
        needle = specs[s.inserts[0].image]
        assert s.answer == getattr(needle, needle.asked) and s.question == needle.question
    again = read_manifest(generate_suite(config, tmp_path / "again", progress=False))
    assert [s.to_dict() for s in again] == [s.to_dict() for s in samples]


def test_sigterm_during_generation_leaves_no_temporary_and_no_lock_holder(tmp_path):
    """``videorope vruler generate`` stopped by SIGTERM (as a scheduler stops a job) unwinds:
    the haystack being encoded is removed, the lock is released and the exit status is 143."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    out = tmp_path / "suite"
    argv = [sys.executable, "-m", "videorope.cli", "vruler", "generate", "--out", str(out), "-q",
            "--set", "frame_counts=[3000]", "--set", "haystack.height=96", "--set", "haystack.width=96"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tempfile.gettempdir(), stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.rglob(".*.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not list(out.rglob(".*.tmp-*")) and not (out / ".videorope.lock.json").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frame_counts": (1_000_000_000,)}, r"1,000,000,000 frames at 48x64 \(x1\) needs about .* TiB of disk"),
        ({"haystack": HaystackConfig(height=100_000, width=100_000, frames=2)}, r"GiB of memory while rendering"),
        ({"frame_counts": (10**11,)}, r"hours of encoding"),  # with disk to spare (below)
    ],
)
def test_sizes_that_cannot_fit_are_refused_before_any_work(tmp_path, capsys, monkeypatch, changes, message):
    import collections

    from videorope.vruler import suite as suite_module

    if "hours" in message:
        usage = collections.namedtuple("usage", "total used free")
        monkeypatch.setattr(suite_module.shutil, "disk_usage", lambda path: usage(0, 0, 10**18))
    config = dataclasses.replace(TINY, **changes)
    with pytest.raises(ValueError, match=message + r".*lower frame_counts or haystack.height/width, or pass --force"):
        generate_suite(config, tmp_path / "suite", progress=False)
    assert not (tmp_path / "suite").exists()
    from videorope.cli import main

    argv = ["vruler", "generate", "--out", str(tmp_path / "cli"), "--set", f"frame_counts=[{10**9}]", "-q"]
    assert main(argv) == 2 and "--force" in capsys.readouterr().err


def test_a_users_needle_image_is_used_as_given_even_where_it_could_be_drawn(tmp_path):
    from PIL import Image

    from videorope.vruler.needles import NeedleSpec, save_needles

    folder = tmp_path / "mine"
    folder.mkdir()
    Image.new("RGB", (112, 112), (30, 30, 200)).save(folder / "photo.png")
    spec = NeedleSpec("photo.png", "What number is written on the red balloon?", "47", ("47", "12", "80"),
                      kind="retrieval", asked="label", object="balloon", colour="red", label="47")  # fmt: skip
    save_needles(folder / "needles.json", [spec])
    config = dataclasses.replace(TINY, needles=str(folder / "needles.json"), tasks={"v-niah": {}})
    generate_suite(config, tmp_path / "suite", progress=False)
    assert (tmp_path / "suite" / "needles" / "user" / "photo.png").read_bytes() == (folder / "photo.png").read_bytes()
    (folder / "photo.png").write_text("not a picture")
    with pytest.raises(ValueError, match=r"needle image .*photo.png is not a readable image"):
        generate_suite(config, tmp_path / "other", progress=False)


def test_a_users_videos_are_put_into_the_suite(tmp_path):
    video = Path(write_haystack(tmp_path / "mine.mp4", 40, 32, 32).path)
    config = dataclasses.replace(TINY, haystack=HaystackConfig(videos=str(video)), tasks={"v-niah": {}})
    samples = read_manifest(generate_suite(config, tmp_path / "suite", progress=False))
    assert {s.haystack for s in samples} == {"haystack/user/mine.mp4"}
    assert (tmp_path / "suite" / "haystack" / "user" / "mine.mp4").samefile(video)  # linked, not copied, here
