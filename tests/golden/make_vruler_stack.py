"""Regenerate ``vruler_stack.json``: the video frames the lengthy multimodal stack feeds, as
qwen-vl-utils picks and resizes them.

Not part of the test run. The released ``eval_v_ruler_lengthy_multimodal_stack.py``
(``Wiselnn570/VideoRoPE`` 7712ca3f, added 2025-07-02) reads each video with
``qwen_vl_utils.process_vision_info`` (version unpinned; 0.0.11 was the release of that time
and picks frames and sizes as 0.0.8 and 0.0.10 do), passing ``min_pixels`` = 144 * 28 * 28 and
``total_pixels`` = 32768 * 28 * 28. This script runs that version's ``fetch_video`` on
stand-in videos written by ``videorope.vruler.haystack.write_haystack`` (frames, fps and size
in ``CASES``), with the decord backend, and records the frame indices it reads, the size it
resizes to and the sum of every resized frame's values. Install the wheel without its
dependencies into a folder of its own, then:

    pip download qwen-vl-utils==0.0.11 --no-deps -d /tmp/qvu && unzip /tmp/qvu/*.whl -d /tmp/qvu/0.0.11
    python tests/golden/make_vruler_stack.py /tmp/qvu/0.0.11 > tests/golden/vruler_stack.json

Only the resulting numbers are committed, never the library's code.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

CASES = [  # frames, fps, height, width, min_pixels, visual tokens
    (60, 30.0, 96, 160, 144 * 28 * 28, 32768),  # 2 s: the 4-frame minimum, upscaled to min_pixels
    (301, 25.0, 120, 200, 144 * 28 * 28, 32768),  # 12 s: 24 frames
    (250, 10.0, 360, 640, 144 * 28 * 28, 32768),  # 25 s at 10 fps: 50 frames, downscaled to the per-frame cap
    (900, 1.0, 64, 112, 144 * 28 * 28, 32768),  # 1 fps: 1800 wanted, 768 taken
    (900, 1.0, 360, 640, 144 * 28 * 28, 32768),  # 768 frames: the 1.05 * min_pixels floor wins
    (97, 3.0, 100, 180, 16 * 28 * 28, 64),  # a tiny budget: the floor again, an odd count floored
    (40, 8.0, 200, 120, 4 * 28 * 28, 2000),  # portrait
]


def main(library: str) -> None:
    os.environ["FORCE_QWENVL_VIDEO_READER"] = "decord"
    sys.path.insert(0, library)
    import decord
    from qwen_vl_utils import vision_process

    from videorope.vruler.haystack import write_haystack

    read = []
    get_batch = decord.VideoReader.get_batch

    def recording(self, indices):
        read.append([int(i) for i in indices])
        return get_batch(self, indices)

    decord.VideoReader.get_batch = recording
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (frames, fps, height, width, min_pixels, tokens) in enumerate(CASES):
            path = Path(tmp) / f"case{i}.mp4"
            write_haystack(path, frames, height, width, fps, seed=i, progress=False)
            read.clear()
            video = vision_process.fetch_video(
                {"video": str(path), "min_pixels": min_pixels, "total_pixels": tokens * 28 * 28}
            )
            out.append({
                "case": {"frames": frames, "fps": fps, "height": height, "width": width, "seed": i,
                         "min_pixels": min_pixels, "visual_tokens": tokens},
                "indices": read[0],
                "size": list(video.shape[-2:]),
                "sums": [int(x) for x in video.double().sum(dim=(1, 2, 3)).round().tolist()],
            })  # fmt: skip
    print(json.dumps({
        "source": "qwen-vl-utils 0.0.11 (PyPI) vision_process.fetch_video, decord backend, as called by "
                  "Wiselnn570/VideoRoPE 7712ca3f videorope_plus/v_ruler/eval/eval_v_ruler_lengthy_multimodal_stack.py",
        "made_by": "tests/golden/make_vruler_stack.py",
        "cases": out,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
