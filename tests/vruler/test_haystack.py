"""Haystack videos: the written mp4 is real, moving, deterministic; frames read by index are exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

decord = pytest.importorskip("decord")
pytest.importorskip("av")

from videorope.vruler import haystack  # noqa: E402
from videorope.vruler.haystack import VideoInfo, find_videos, probe, read_frames, write_haystack  # noqa: E402

N, H, W = 40, 48, 64  # small: every write below takes ~0.1 s


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("haystack") / "hay.mp4"
    write_haystack(path, N, height=H, width=W, fps=2.0, seed=0)
    return str(path)


@pytest.fixture(scope="module")
def sequential(video) -> np.ndarray:
    """Every frame, decoded front to back with a fresh reader (no seeking), (N, H, W, 3)."""
    vr = decord.VideoReader(video)
    return np.stack([vr.next().asnumpy() for _ in range(len(vr))])


def test_written_video_decodes_with_declared_shape(video, sequential):
    vr = decord.VideoReader(video)
    assert len(vr) == N
    assert vr.get_avg_fps() == pytest.approx(2.0)
    assert sequential.shape == (N, H, W, 3) and sequential.dtype == np.uint8
    assert probe(video) == VideoInfo(video, N, H, W, 2.0)
    assert probe(video).to_dict() == {"path": video, "num_frames": N, "height": H, "width": W, "fps": 2.0}


def test_returned_info_matches_probe_for_fractional_fps(tmp_path):
    info = write_haystack(tmp_path / "ntsc.mp4", 6, height=32, width=32, fps=30000 / 1001)
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-9)
    got = probe(tmp_path / "ntsc.mp4")
    assert (got.num_frames, got.height, got.width) == (6, 32, 32)
    assert got.fps == pytest.approx(info.fps, rel=1e-4)


def _mean_abs_diff(frames: np.ndarray, lag: int) -> np.ndarray:
    """Mean absolute difference in grey levels (0-255) between frames ``lag`` apart, (N - lag,)."""
    x = frames.astype(np.int16)
    return np.abs(x[lag:] - x[:-lag]).mean(axis=(1, 2, 3))


# A still image encoded the same way changes by < 0.1 grey levels between frames, except
# where a new keyframe re-quantises it (< 2 levels; measured 1.76 at 64x48, 1.36 at 224).
# The haystack's camera pans >= 1.4 px per frame over textured ground: measured minimum
# 4.5 over seeds 0-5 at 64x48 and 3.7 over 1000 frames at 224. 2.5 lies between the two.
# Frames 20+ apart show other ground, shapes or shots (measured minimum 16), so 8 = half.
MOVING, FAR = 2.5, 8.0


def test_frames_move_and_far_frames_differ(sequential):
    assert _mean_abs_diff(sequential, 1).min() > MOVING
    assert _mean_abs_diff(sequential, 20).min() > FAR


def test_still_video_falls_below_the_motion_threshold(tmp_path, monkeypatch):
    still = next(haystack._render_frames(1, H, W, seed=0))
    monkeypatch.setattr(haystack, "_render_frames", lambda n, h, w, seed: (still for _ in range(n)))
    write_haystack(tmp_path / "still.mp4", N, height=H, width=W)
    assert _mean_abs_diff(read_frames(tmp_path / "still.mp4", range(N)), 1).max() < MOVING


def test_rendered_frames_do_not_depend_on_length():
    short = list(haystack._render_frames(20, H, W, seed=3))
    long = list(haystack._render_frames(45, H, W, seed=3))
    assert len(short) == 20 and len(long) == 45
    assert all(np.array_equal(a, b) for a, b in zip(short, long[:20], strict=True))


def test_same_arguments_give_identical_bytes(tmp_path, video):
    again = write_haystack(tmp_path / "again.mp4", N, height=H, width=W, fps=2.0, seed=0)
    assert (tmp_path / "again.mp4").read_bytes() == open(video, "rb").read()
    assert again == VideoInfo(str(tmp_path / "again.mp4"), N, H, W, 2.0)
    write_haystack(tmp_path / "other.mp4", N, height=H, width=W, fps=2.0, seed=1)
    assert (tmp_path / "other.mp4").read_bytes() != open(video, "rb").read()


def test_read_frames_matches_sequential_decode(video, sequential):
    for indices in ([5, 1, 17], [N - 1, 0, 0, 20], list(range(N))):
        got = read_frames(video, indices)
        assert got.dtype == np.uint8 and got.shape == (len(indices), H, W, 3)
        np.testing.assert_array_equal(got, sequential[indices])
    np.testing.assert_array_equal(read_frames(decord.VideoReader(video), np.array([33, 2])), sequential[[33, 2]])
    assert read_frames(video, []).shape == (0, H, W, 3)


def test_readers_are_cached_and_rewritten_files_reopened(tmp_path):
    path = tmp_path / "v.mp4"
    write_haystack(path, 8, height=32, width=32, seed=0)
    first = read_frames(path, [3])
    hits = haystack._cached_reader.cache_info().hits
    read_frames(str(path), [4])
    assert haystack._cached_reader.cache_info().hits == hits + 1
    write_haystack(path, 8, height=32, width=32, seed=5)
    second = read_frames(path, [3])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(second, decord.VideoReader(str(path)).get_batch([3]).asnumpy())


@pytest.mark.parametrize("index", [N, N + 7, -1])
def test_out_of_range_index_names_length_and_index(video, index):
    with pytest.raises(ValueError, match=rf"frame index {index} is out of range: .* has {N} frames"):
        read_frames(video, [0, index])


def test_non_integer_indices_rejected(video):
    with pytest.raises(ValueError, match="integer frame indices"):
        read_frames(video, [1.5])


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.mp4"
    for fn in (probe, lambda p: read_frames(p, [0])):
        with pytest.raises(FileNotFoundError, match="nope.mp4"):
            fn(missing)


def test_corrupt_file_is_not_a_readable_video(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"x\.mp4.*not a readable video"):
        probe(bad)
    with pytest.raises(ValueError, match="not a readable video"):
        read_frames(bad, [0])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": 2.5}, "num_frames"),
        ({"height": 47}, "height"),
        ({"width": 8}, "width"),
        ({"fps": 0.0}, "fps"),
        ({"fps": -2.0}, "fps"),
        ({"fps": math.nan}, "fps"),
        ({"seed": -1}, "seed"),
        ({"crf": 52}, "crf"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, name):
    args = {"num_frames": 4, "height": 32, "width": 32, **kwargs}
    with pytest.raises(ValueError, match=name):
        write_haystack(tmp_path / "v.mp4", **args)
    assert list(tmp_path.iterdir()) == []


def test_odd_size_error_suggests_a_fix(tmp_path):
    with pytest.raises(ValueError, match="even integer >= 16.*got 225; use 226"):
        write_haystack(tmp_path / "v.mp4", 4, height=225)


def test_non_mp4_path_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"\.mp4"):
        write_haystack(tmp_path / "v.avi", 4, height=32, width=32)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "v.mp4"
    write_haystack(path, 4, height=32, width=32, seed=0)
    before = path.read_bytes()
    render = haystack._render_frames

    def broken(num_frames, height, width, seed):
        for i, frame in enumerate(render(num_frames, height, width, seed)):
            if i == 5:
                raise RuntimeError("renderer died")
            yield frame

    monkeypatch.setattr(haystack, "_render_frames", broken)
    with pytest.raises(RuntimeError, match="renderer died"):
        write_haystack(tmp_path / "new.mp4", 20, height=32, width=32)
    with pytest.raises(RuntimeError, match="renderer died"):
        write_haystack(path, 20, height=32, width=32, seed=1)
    # No new file, no temporary file, and the old file untouched.
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]
    assert path.read_bytes() == before


def test_progress_bar_writes_nothing_to_stdout(tmp_path, capsys):
    write_haystack(tmp_path / "v.mp4", 3, height=32, width=32, progress=True)
    assert capsys.readouterr().out == ""


def test_find_videos(tmp_path, video):
    for name in ("b.mp4", "a.MKV", "c.webm", "notes.txt", ".b.mp4.tmp123.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.mp4").mkdir()
    assert [p.name for p in find_videos(tmp_path)] == ["a.MKV", "b.mp4", "c.webm"]
    assert [str(p) for p in find_videos(video)] == [video]
    with pytest.raises(FileNotFoundError, match="missing"):
        find_videos(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a video file"):
        find_videos(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no videos"):
        find_videos(tmp_path / "empty")


WRITE = """
import os, sys
import numpy as np
if sys.argv[2] == "one-core":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
junk = [np.empty(n, dtype=np.uint8) for n in range(1, 4000, 37)]  # another heap state than the parent's
from videorope.vruler.haystack import write_haystack
write_haystack(sys.argv[1], 40, 48, 64, 2.0, seed=5)
"""


def test_the_same_haystack_in_other_processes_and_thread_settings_is_the_same_bytes(tmp_path):
    """Two processes with different thread settings (one core and OMP_NUM_THREADS=1, or all
    cores and the default) and this one, after other work, write byte-identical files."""
    import os
    import subprocess
    import sys

    runs = {"one-core": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, "all-cores": {}}
    for name, env in runs.items():
        subprocess.run([sys.executable, "-c", WRITE, str(tmp_path / f"{name}.mp4"), name], check=True,
                       env={**os.environ, **env}, cwd=tmp_path)  # fmt: skip
    write_haystack(tmp_path / "here.mp4", 40, 48, 64, 2.0, seed=5)
    data = {p.name: p.read_bytes() for p in tmp_path.glob("*.mp4")}
    assert len(data) == 3 and len(set(data.values())) == 1
