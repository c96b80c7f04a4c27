"""Turn a manifest sample into its frames: haystack frames by index plus the inserted images."""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from videorope.vruler.haystack import read_frames
from videorope.vruler.manifest import Sample
from videorope.vruler.needles import BACKGROUND

__all__ = ["HAYSTACK_CACHE_BYTES", "fit_image", "materialize", "resize_frames"]

HAYSTACK_CACHE_BYTES = 256 * 2**20
"""Decoded haystack stretches kept in memory (LRU, by bytes). The samples of one frame count
share their haystack frames, so a training epoch or an evaluation sweep decodes each
stretch once instead of once per sample."""

_stretches: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _haystack(path: Path, frames: range | tuple[int, ...]) -> np.ndarray:
    """Frames ``frames`` of the video at ``path``, uint8 (N, H, W, 3), read-only, cached."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, frames)
    if key in _stretches:
        _stretches.move_to_end(key)
        return _stretches[key]
    out = read_frames(path, frames)
    out.flags.writeable = False
    _stretches[key] = out
    while len(_stretches) > 1 and sum(a.nbytes for a in _stretches.values()) > HAYSTACK_CACHE_BYTES:
        _stretches.popitem(last=False)
    return out


@lru_cache(maxsize=256)
def fit_image(path: str, height: int, width: int, resize: str = "fit") -> np.ndarray:
    """A needle image as a frame, uint8 (H, W, 3): scaled to fit (height, width) and centred on
    the needle background (``fit``), or stretched to it (``stretch``, PIL's default filter, as
    the original V-RULER resizes its needles)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"needle image {file} is missing; re-run `videorope vruler generate` on the suite")
    image = Image.open(file).convert("RGB")
    if resize == "stretch":
        return np.asarray(image.resize((width, height)))
    scale = min(height / image.height, width / image.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(image.resize(size, Image.Resampling.BICUBIC), ((width - size[0]) // 2, (height - size[1]) // 2))
    return np.asarray(canvas)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Frames uint8 (F, H, W, 3) resized to (height, width) as qwen-vl-utils resizes a video:
    bicubic with antialiasing on floats, clamped and rounded back to uint8."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return x.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def materialize(sample: Sample, suite_dir: str | Path) -> np.ndarray:
    """The sample's ``frame_count`` frames in order: uint8 (F, H, W, 3).

    Haystack frames are read by index (decord ``get_batch``), never by decoding the file, and
    kept in a cache of :data:`HAYSTACK_CACHE_BYTES`. A sample whose context names a ``size``
    (the lengthy multimodal stack as released) is resized to it with :func:`resize_frames`.
    """
    suite_dir = Path(suite_dir)
    plan = sample.frame_plan()
    if not any(kind == "haystack" for kind, _ in plan):
        raise ValueError(f"sample {sample.id} has no haystack frames")
    path = suite_dir / sample.haystack
    if not path.is_file():
        raise FileNotFoundError(f"haystack video {path} is missing; re-run `videorope vruler generate` on the suite")
    frames = _haystack(path, sample.haystack_indices)
    _, height, width, _ = frames.shape
    out = np.empty((len(plan), height, width, 3), dtype=np.uint8)
    resize = sample.context.get("resize", "fit")
    haystack = iter(frames)
    for i, (kind, x) in enumerate(plan):
        out[i] = next(haystack) if kind == "haystack" else fit_image(str(suite_dir / x), height, width, resize)
    size = sample.context.get("size")
    return out if size is None else resize_frames(out, *size)
