"""Cost of V-RULER haystack material: writing a haystack, and reading a sample's frames from it.

1. Frames per second of ``write_haystack`` at 224x224 (and of its renderer alone).
2. Materialising one sample, ``--sample`` frames spread evenly over a ``--frames`` haystack:
   ``read_frames`` (decord ``get_batch`` by index, with a fresh reader and with the cached
   one) vs decoding the whole file front to back and keeping the wanted frames (PyAV,
   converting only the kept frames to RGB; and decord iteration). Reported as frames per
   second and as the ratio of sequential time to by-index time.

    python benchmarks/vruler_io.py --out benchmarks/results/vruler_io-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import decord
import numpy as np
import torch
from common import device, median_seconds

from videorope.io import write_json
from videorope.vruler import haystack
from videorope.vruler.haystack import read_frames, write_haystack


def bench_write(path: Path, frames: int, size: int) -> dict[str, object]:
    start = time.perf_counter()
    for _ in haystack._render_frames(frames, size, size, seed=0):
        pass
    render = time.perf_counter() - start
    start = time.perf_counter()
    write_haystack(path, frames, height=size, width=size, seed=0)
    write = time.perf_counter() - start
    return {
        "frames": frames,
        "size": [size, size],
        "x264_preset": haystack.X264_PRESET,
        "crf": 23,
        "keyframe_interval": haystack.KEYFRAME_INTERVAL,
        "file_bytes": path.stat().st_size,
        "seconds": {"render_only": render, "write_haystack": write},
        "frames_per_second": {"render_only": frames / render, "write_haystack": frames / write},
    }


def pyav_sequential(path: Path, wanted: np.ndarray) -> np.ndarray:
    """Decode every frame in order; convert only the wanted ones to RGB. (len(wanted), H, W, 3)."""
    keep = {int(i): [] for i in wanted}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads, like decord's default
        for i, frame in enumerate(container.decode(stream)):
            if i in keep:
                keep[i].append(frame.to_ndarray(format="rgb24"))
    return np.stack([keep[int(i)][0] for i in wanted])


def decord_sequential(path: Path, wanted: np.ndarray) -> np.ndarray:
    """Iterate a fresh decord reader front to back (it converts every frame to RGB)."""
    vr = decord.VideoReader(str(path))
    keep = set(int(i) for i in wanted)
    frames = {}
    for i in range(len(vr)):
        frame = vr.next()
        if i in keep:
            frames[i] = frame.asnumpy()
    return np.stack([frames[int(i)] for i in wanted])


def bench_sample(path: Path, frames: int, sample: int, repeats: int) -> dict[str, object]:
    wanted = np.linspace(0, frames - 1, sample).round().astype(int)
    fns = {
        "get_batch_fresh_reader": lambda: decord.VideoReader(str(path)).get_batch(wanted.tolist()).asnumpy(),
        "read_frames_cached_reader": lambda: read_frames(path, wanted),
        "sequential_pyav": lambda: pyav_sequential(path, wanted),
        "sequential_decord": lambda: decord_sequential(path, wanted),
    }
    results = {name: fn() for name, fn in fns.items()}
    identical = all(np.array_equal(r, results["sequential_pyav"]) for r in results.values())
    seconds = median_seconds(fns, repeats, warmup=0)
    best_sequential = min(seconds["sequential_pyav"], seconds["sequential_decord"])
    per_indexed_frame = seconds["read_frames_cached_reader"] / sample
    per_sequential_frame = best_sequential / frames
    return {
        "haystack_frames": frames,
        "sample_frames": sample,
        "indices": wanted.tolist(),
        "all_methods_return_identical_frames": identical,
        "seconds": seconds,
        "frames_per_second": {name: sample / s for name, s in seconds.items()},
        "sequential_over_get_batch": {
            "fresh_reader": best_sequential / seconds["get_batch_fresh_reader"],
            "cached_reader": best_sequential / seconds["read_frames_cached_reader"],
        },
        # One frame read by index (seek to the keyframe before it, decode up to it) costs as
        # much as decoding this many frames in sequence; by-index reading wins while
        # sample_frames * this < haystack_frames.
        "indexed_frame_cost_in_sequential_frames": per_indexed_frame / per_sequential_frame,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="haystack length in frames")
    parser.add_argument("--sample", type=int, default=32, help="frames one sample needs, spread evenly")
    parser.add_argument("--size", type=int, default=224, help="frame height and width")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/vruler_io-cpu.json")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "haystack.mp4"
        write = bench_write(path, args.frames, args.size)
        sample = bench_sample(path, args.frames, args.sample, args.repeats)
    result = {
        "benchmark": "vruler_io",
        "device": device(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "decord": decord.__version__,
        "av": av.__version__,
        "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        "load_average_at_start": [round(x, 2) for x in load],
        "repeats": args.repeats,
        "write_haystack": write,
        "sample": sample,
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
