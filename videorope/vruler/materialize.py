"""Turn a manifest sample into its frames: haystack frames by index plus the inserted images."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from videorope.vruler.haystack import read_frames
from videorope.vruler.manifest import Sample
from videorope.vruler.needles import BACKGROUND

__all__ = ["fit_image", "materialize"]


@lru_cache(maxsize=256)
def fit_image(path: str, height: int, width: int) -> np.ndarray:
    """A needle image scaled to fit (height, width), centred on the needle background: uint8 (H, W, 3)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"needle image {file} is missing; re-run `videorope vruler generate` on the suite")
    image = Image.open(file).convert("RGB")
    scale = min(height / image.height, width / image.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(image.resize(size, Image.Resampling.BICUBIC), ((width - size[0]) // 2, (height - size[1]) // 2))
    return np.asarray(canvas)


def materialize(sample: Sample, suite_dir: str | Path) -> np.ndarray:
    """The sample's ``frame_count`` frames in order: uint8 (F, H, W, 3).

    Haystack frames are read by index (decord ``get_batch``), never by decoding the file.
    """
    suite_dir = Path(suite_dir)
    plan = sample.frame_plan()
    indices = [x for kind, x in plan if kind == "haystack"]
    frames = read_frames(suite_dir / sample.haystack, indices) if indices else None
    if frames is None:
        raise ValueError(f"sample {sample.id} has no haystack frames")
    _, height, width, _ = frames.shape
    out = np.empty((len(plan), height, width, 3), dtype=np.uint8)
    haystack = iter(frames)
    for i, (kind, x) in enumerate(plan):
        out[i] = next(haystack) if kind == "haystack" else fit_image(str(suite_dir / x), height, width)
    return out
