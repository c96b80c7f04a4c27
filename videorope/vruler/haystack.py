"""Haystack videos for V-RULER: write a procedural H.264 haystack, probe it, read frames by index.

A haystack is a long, real encoded video; a benchmark sample picks frame indices from it
and inserts needle images (drawn shapes with numbers) at some of them. This module is the
material layer only:

- :func:`write_haystack` renders a procedural scene (a textured landscape seen by a slowly
  panning camera, with a parallax foreground layer, several soft translucent shapes that
  drift and rotate, slow colour and light drift, and a cut to a new shot every 16-80 frames) and
  encodes it to an H.264 mp4 (libx264, yuv420p) through PyAV. Colours are muted and edges
  soft, and there is no text, so inserted needles (saturated shapes with digits) stay
  distinguishable from the background. Output is deterministic: the same arguments give a
  byte-identical file (x264 runs single-threaded, muxer and encoder in bit-exact mode).
- :func:`probe` and :func:`read_frames` read any video through decord, by index
  (``VideoReader.get_batch``), never decoding the whole file.
- :func:`find_videos` lists the haystack videos of a file or a folder.

Frames are uint8 RGB arrays of shape (H, W, 3); batches are (N, H, W, 3). decord and PyAV
are optional extras (``pip install 'videorope[video]'``), imported when first needed.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from videorope.io import atomic_path

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoInfo",
    "check_decodable",
    "find_videos",
    "haystack_cost",
    "probe",
    "read_frames",
    "write_haystack",
    "write_video",
]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm")
"""File suffixes :func:`find_videos` treats as videos (matched case-insensitively)."""

KEYFRAME_INTERVAL = 32
"""Maximum frames between H.264 keyframes. Reading frame i decodes from the keyframe before
it, so this bounds the cost of one random access (x264 also places keyframes at scene cuts)."""

X264_PRESET = "veryfast"
"""x264 speed preset. At 224x224 it encodes a frame in about the time the renderer takes to
draw one (~3 ms each on one core); "medium" would nearly double the encode time."""

READER_CACHE_SIZE = 8
"""How many decord readers :func:`read_frames` and :func:`probe` keep open (LRU, by path)."""

_INSTALL_HINT = "install the video extras: pip install 'videorope[video]'"


@dataclass(frozen=True)
class VideoInfo:
    """What a reader sees in a video: frame count, frame size in pixels, frames per second."""

    path: str
    num_frames: int
    height: int
    width: int
    fps: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Optional dependencies


def _import_av() -> Any:
    try:
        import av
    except ImportError as e:
        raise ImportError(f"writing haystack videos needs PyAV (the `av` package): {_INSTALL_HINT}") from e
    return av


def _import_decord() -> Any:
    try:
        import decord
    except ImportError as e:
        raise ImportError(f"reading videos needs decord: {_INSTALL_HINT}") from e
    return decord


# ---------------------------------------------------------------------------------------------
# Procedural scene


def _fbm(rng: np.random.Generator, size: int, beta: float) -> np.ndarray:
    """Periodic fractal noise, (size, size) float32 in [0, 1]: white noise shaped to a 1/f^beta spectrum.

    Periodic in both axes (it is built in Fourier space), so a camera can pan across it
    forever without a seam. Larger ``beta`` gives smoother, cloud- or hill-like texture.
    """
    spectrum = np.fft.rfft2(rng.standard_normal((size, size), dtype=np.float32))
    ky = np.fft.fftfreq(size).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(size).astype(np.float32)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    spectrum *= k**-beta
    spectrum[0, 0] = 0.0
    tex = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    # Zero mean; +-2.5 standard deviations span [0, 1] (about 1% of pixels clip at each end).
    return np.clip(0.5 + tex / (5.0 * tex.std()), 0.0, 1.0)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] (n,) each -> RGB (n, 3) float32: channel c is v * (1 - s * clip(min(k, 4 - k), 0, 1))."""
    k = (np.array([5.0, 3.0, 1.0])[None, :] + 6.0 * h[:, None]) % 6.0
    return (v[:, None] * (1.0 - s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))).astype(np.float32)


def _muted_colours(
    rng: np.random.Generator, n: int, saturation: tuple[float, float], value: tuple[float, float]
) -> np.ndarray:
    """``n`` RGB colours in [0, 1], (n, 3) float32, any hue, saturation and value in the given ranges."""
    return _hsv_to_rgb(rng.uniform(0.0, 1.0, n), rng.uniform(*saturation, n), rng.uniform(*value, n))


def _ramp(rng: np.random.Generator, n: int = 4) -> np.ndarray:
    """A muted colour ramp, (n, 3), dark to light (value from ~0.25 up to ~0.8), so no shot is flat."""
    v = np.sort(rng.uniform(0.3, 0.75, n))
    v[0], v[-1] = rng.uniform(0.2, 0.3), rng.uniform(0.75, 0.9)
    return _hsv_to_rgb(rng.uniform(0.0, 1.0, n), rng.uniform(0.1, 0.45, n), v)


def _gradient(values: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (any shape) through a piecewise-linear colour ramp, (..., 3) float32."""
    stops = np.linspace(0.0, 1.0, len(colours))
    return np.stack([np.interp(values, stops, colours[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def _scene_lengths(seed: int) -> Iterator[int]:
    """Frames per shot, 16-80 (8-40 s at 2 fps), from a stream of its own so cuts do not depend on length."""
    rng = np.random.default_rng([seed, 0])
    while True:
        yield int(rng.integers(16, 81))


class _Scene:
    """One shot: a panning textured background, a faster parallax foreground, drifting shapes.

    Everything random is drawn once in ``__init__`` from a generator seeded by (seed, scene
    index), so a scene looks the same whatever the total length of the haystack.
    """

    def __init__(self, seed: int, index: int, height: int, width: int) -> None:
        rng = np.random.default_rng([seed, 1, index])
        self.height, self.width = height, width
        scale = min(height, width) / 224.0
        # Texture period: 2x the frame, rounded up to a multiple of 32 (a fast FFT size); at the
        # fastest pan below the camera needs ~100 frames to come back, longer than any shot.
        size = 32 * math.ceil(2 * max(height, width) / 32)
        self.size = size

        # Background: smooth landscape-like field coloured through a muted ramp, with fine detail.
        field = _fbm(rng, size, beta=rng.uniform(1.5, 1.9))
        detail = _fbm(rng, size, beta=1.0)
        far = _gradient(field, _ramp(rng)) * (0.8 + 0.4 * detail)[..., None]
        # Foreground: soft-edged dark masses (foliage, rocks) that move faster than the background.
        mass = _fbm(rng, size, beta=rng.uniform(1.1, 1.5))
        threshold = rng.uniform(0.5, 0.65)
        alpha = np.clip((mass - threshold) * 8.0, 0.0, 1.0) * rng.uniform(0.6, 0.9)
        near_colours = _muted_colours(rng, 2, saturation=(0.1, 0.4), value=(0.1, 0.4))
        near = _gradient(detail.T, near_colours)
        # Padded periodically by one frame so any (H, W) window at any offset is a plain slice.
        pad = ((0, height), (0, width), (0, 0))
        self.far = np.pad(far, pad, mode="wrap")
        self.near = np.pad(near, pad, mode="wrap")
        self.near_alpha = np.pad(alpha[..., None], pad, mode="wrap")

        # Camera pan: 2-4 px per frame (at <= 224 px; proportionally more above) in a random
        # direction, plus a sway whose speed per axis is at most 0.2x the pan speed. The net
        # speed stays >= (1 - 0.2 * sqrt(2)) * 2 > 1.42 px, so some axis moves >= 1 px and the
        # integer-rounded window always moves between consecutive frames.
        angle = rng.uniform(0.0, 2.0 * np.pi)
        speed = rng.uniform(2.0, 4.0) * max(1.0, scale)
        self.pan_origin = rng.uniform(0.0, size, 2)
        self.pan_velocity = speed * np.array([np.sin(angle), np.cos(angle)])
        self.sway_period = rng.uniform(30.0, 90.0, 2)
        self.sway = rng.uniform(0.05, 0.2, 2) * speed * self.sway_period / (2.0 * np.pi)
        self.parallax = rng.uniform(1.2, 1.6)

        # Shapes: translucent soft ellipses with muted colours, each drifting and rotating.
        n = int(rng.integers(3, 7))
        m = min(height, width)
        self.shape_axes = rng.uniform(0.05, 0.18, (n, 2)) * m
        self.shape_origin = rng.uniform(0.0, 1.0, (n, 2)) * (height, width)
        self.shape_velocity = rng.uniform(-2.0, 2.0, (n, 2)) * scale
        self.shape_angle = rng.uniform(0.0, np.pi, n)
        self.shape_spin = rng.uniform(-0.08, 0.08, n)
        self.shape_colour = _muted_colours(rng, n, saturation=(0.15, 0.5), value=(0.35, 0.8))
        self.shape_opacity = rng.uniform(0.35, 0.7, n)

        # Light and colour drift: slow sinusoidal gain per channel, plus a vignette.
        self.drift_amplitude = rng.uniform(0.05, 0.15, 3).astype(np.float32)
        self.drift_period = rng.uniform(40.0, 200.0, 3)
        self.drift_phase = rng.uniform(0.0, 2.0 * np.pi, 3)
        yy, xx = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
        self.vignette = (1.0 - 0.25 * (yy**2 + xx**2) / 2.0).astype(np.float32)[..., None]

    def _window(self, texture: np.ndarray, offset: np.ndarray) -> np.ndarray:
        y, x = (int(round(o)) % self.size for o in offset)
        return texture[y : y + self.height, x : x + self.width]

    def render(self, t: int) -> np.ndarray:
        """Frame ``t`` of the scene (0-based within the shot), float32 (H, W, 3), about [0, 1]."""
        H, W = self.height, self.width
        pan = self.pan_origin + self.pan_velocity * t + self.sway * np.sin(2.0 * np.pi * t / self.sway_period)
        frame = self._window(self.far, pan).copy()
        alpha = self._window(self.near_alpha, pan * self.parallax)
        frame += alpha * (self._window(self.near, pan * self.parallax) - frame)

        for i in range(len(self.shape_axes)):
            a, b = self.shape_axes[i]
            reach = max(a, b) + 2.0
            # Shapes wrap around the frame (with a margin so they leave fully before coming back).
            span = np.array([H, W]) + 2.0 * reach
            cy, cx = (self.shape_origin[i] + self.shape_velocity[i] * t + reach) % span - reach
            y0, y1 = max(0, int(cy - reach)), min(H, int(cy + reach) + 1)
            x0, x1 = max(0, int(cx - reach)), min(W, int(cx + reach) + 1)
            if y0 >= y1 or x0 >= x1:
                continue
            dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
            dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
            theta = self.shape_angle[i] + self.shape_spin[i] * t
            c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
            d = ((dx * c + dy * s) / np.float32(a)) ** 2 + ((dy * c - dx * s) / np.float32(b)) ** 2
            # Soft edge: opacity falls from full at d = 0.7 to zero at d = 1.
            mask = np.clip((1.0 - d) / 0.3, 0.0, 1.0) * np.float32(self.shape_opacity[i])
            region = frame[y0:y1, x0:x1]
            # Shaded by the background it covers, so the shape is lit like the scene, not flat.
            tint = self.shape_colour[i] * (0.6 + 0.5 * region.mean(axis=-1, keepdims=True))
            region += mask[..., None] * (tint - region)

        return frame


def _render_frames(num_frames: int, height: int, width: int, seed: int) -> Iterator[np.ndarray]:
    """The haystack's frames in order, each uint8 (height, width, 3) RGB.

    Frame ``i`` depends only on (seed, i, height, width), not on ``num_frames``: a shorter
    haystack renders the first frames of a longer one with the same seed.
    """
    done, scene_index = 0, 0
    drift_rng = np.random.default_rng([seed, 2])
    period = drift_rng.uniform(60.0, 240.0, 3)
    phase = drift_rng.uniform(0.0, 2.0 * np.pi, 3)
    for length in _scene_lengths(seed):
        if done >= num_frames:
            return
        scene = _Scene(seed, scene_index, height, width)
        for t in range(min(length, num_frames - done)):
            # Colour drift: the shot's own, plus a slow one across shots (global frame index i).
            i = done + t
            gain = 1.0 + scene.drift_amplitude * np.sin(2.0 * np.pi * i / scene.drift_period + scene.drift_phase)
            gain *= 255.0 * (1.0 + 0.06 * np.sin(2.0 * np.pi * i / period + phase))
            frame = scene.render(t)
            frame *= gain.astype(np.float32)
            frame *= scene.vignette
            np.clip(frame, 0.0, 254.5, out=frame)
            frame += 0.5
            yield frame.astype(np.uint8)
        done += length
        scene_index += 1


# ---------------------------------------------------------------------------------------------
# Writing


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_write_args(path: Path, num_frames: int, height: int, width: int, fps: float, seed: int, crf: int) -> None:
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"path must end in .mp4 (the haystack is an H.264 mp4), got {str(path)!r}")
    if not _is_int(num_frames) or num_frames < 1:
        raise ValueError(f"num_frames must be an integer >= 1, got {num_frames!r}")
    for name, value in (("height", height), ("width", width)):
        if not _is_int(value) or value < 16 or value % 2:
            fix = max(16, int(value) + int(value) % 2) if _is_int(value) else 224
            raise ValueError(
                f"{name} must be an even integer >= 16 (yuv420p stores colour at half resolution), "
                f"got {value!r}; use {fix}"
            )
    if isinstance(fps, bool) or not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0 (frames per second), got {fps!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not _is_int(crf) or not 0 <= crf <= 51:
        raise ValueError(
            f"crf must be an integer in [0, 51] (x264 quality: lower is better, 23 is default), got {crf!r}"
        )


def haystack_cost(num_frames: int, height: int, width: int) -> dict[str, float]:
    """What :func:`write_haystack` needs, from measurements on a 2-core CPU (224x224: 13 ms and
    5.7 KB per frame; 448x448: 40 ms and 16 KB), rounded up: ``memory`` (bytes held at once,
    about five raw frames: float32 working arrays), ``disk`` (bytes of the file, at most an
    eighth of the raw frames) and ``seconds``."""
    pixels = height * width
    return {"memory": 16 * pixels, "disk": num_frames * 3 * pixels / 8, "seconds": num_frames * pixels * 3e-7}


def write_haystack(
    path: str | os.PathLike[str],
    num_frames: int,
    height: int = 224,
    width: int = 224,
    fps: float = 2.0,
    seed: int = 0,
    crf: int = 23,
    progress: bool = False,
) -> VideoInfo:
    """Render a procedural haystack of ``num_frames`` frames and write it with :func:`write_video`.

    ``height`` and ``width`` must be even and >= 16. Returns the written :class:`VideoInfo`.
    """
    path = Path(path)
    _check_write_args(path, num_frames, height, width, fps, seed, crf)
    return write_video(path, _render_frames(num_frames, height, width, seed), num_frames, fps, crf, progress)


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    num_frames: int,
    fps: float = 2.0,
    crf: int = 23,
    progress: bool = False,
) -> VideoInfo:
    """Encode RGB frames, uint8 (H, W, 3) each, as an H.264 mp4.

    The video is libx264 / yuv420p at constant quality ``crf``, a keyframe at least every
    :data:`KEYFRAME_INTERVAL` frames, ``fps`` stored as a rational (denominator <= 1001).
    The same frames give a byte-identical file with the same PyAV/FFmpeg/x264 build:
    x264 runs with one thread (its output depends on the thread count) and the muxer and
    encoder run bit-exact (no library version strings in the container). The file is
    written to a temporary name and renamed, so an interrupted write leaves nothing.
    """
    path = Path(path)
    av = _import_av()
    from tqdm.auto import tqdm

    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be at least 1/1001 frames per second, got {fps!r}")
    height = width = None
    with atomic_path(path) as tmp, tqdm(total=num_frames, disable=not progress, desc=path.name, unit="frame") as bar:
        container = av.open(str(tmp), mode="w", format="mp4", options={"fflags": "+bitexact"})
        try:
            stream = None
            time_base = 1 / rate  # the stream's own time base changes once the muxer starts (mp4: 1/16384)
            for i, rgb in enumerate(frames):
                if stream is None:
                    height, width = rgb.shape[:2]
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                    stream.codec_context.thread_count = 1
                    stream.options = {
                        "crf": str(crf),
                        "preset": X264_PRESET,
                        "g": str(KEYFRAME_INTERVAL),
                        "flags": "+bitexact",
                        "x264-params": "threads=1:lookahead-threads=1",
                    }
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
                frame.pts, frame.time_base = i, time_base
                container.mux(stream.encode(frame))
                bar.update(1)
            if stream is None:
                raise ValueError(f"no frames to write to {path}")
            container.mux(stream.encode(None))
        finally:
            container.close()
    return VideoInfo(str(path), int(num_frames), int(height), int(width), float(rate))


# ---------------------------------------------------------------------------------------------
# Reading


@functools.lru_cache(maxsize=READER_CACHE_SIZE)
def _cached_reader(path: str, mtime_ns: int, size: int) -> Any:
    """An open decord reader; (mtime, size) are in the key so a rewritten file is reopened."""
    decord = _import_decord()
    try:
        return decord.VideoReader(path, ctx=decord.cpu(0))
    except Exception as e:  # decord raises its own DECORDError (and RuntimeError) for unreadable input
        raise ValueError(f"{path!r} is not a readable video (decord could not open it: {e})") from e


def _reader(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no video file at {str(p)!r}")
    st = p.stat()
    return _cached_reader(str(p.resolve()), st.st_mtime_ns, st.st_size)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, size and average fps of a video, as decord reads it.

    Raises FileNotFoundError for a missing file and ValueError for a file decord cannot
    open. The reader stays open in the cache that :func:`read_frames` uses.
    """
    vr = _reader(path)
    height, width = _frame_shape(vr)
    return VideoInfo(str(Path(path)), len(vr), height, width, float(vr.get_avg_fps()))


def _frame_shape(vr: Any) -> tuple[int, int]:
    shape = _to_numpy(vr[0]).shape  # decodes frame 0: decord has no public size accessor
    return int(shape[0]), int(shape[1])


def _to_numpy(batch: Any) -> np.ndarray:
    # decord returns its own NDArray, or a torch/tf tensor if someone set decord.bridge globally.
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)


def read_frames(path_or_reader: str | os.PathLike[str] | Any, indices: Sequence[int]) -> np.ndarray:
    """Frames at ``indices`` (any order, repeats allowed), uint8 (N, H, W, 3) RGB.

    ``path_or_reader`` is a path or an open ``decord.VideoReader``. Frames are fetched with
    ``VideoReader.get_batch(indices)``: decord seeks to the keyframe before each requested
    frame and decodes from there, so the cost grows with the number of frames asked and the
    keyframe interval, not with the length of the video.

    Readers opened from a path are kept in an LRU cache of :data:`READER_CACHE_SIZE` entries,
    keyed by resolved path, modification time and size, so repeated reads of the same file
    do not reopen it and a rewritten file is reopened. Cached readers keep their files open;
    a reader is not safe to share between threads.
    """
    vr = _reader(path_or_reader) if _is_path(path_or_reader) else path_or_reader
    name = repr(str(path_or_reader)) if _is_path(path_or_reader) else "the video"
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.empty((0, *_frame_shape(vr), 3), dtype=np.uint8)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be a flat sequence of integer frame indices, got {indices!r}")
    n = len(vr)
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise ValueError(
            f"frame index {int(idx[bad][0])} is out of range: {name} has {n} frames (valid indices 0..{n - 1})"
        )
    try:
        batch = vr.get_batch(idx.tolist())
    except Exception as e:  # decord.DECORDError: a damaged stream
        reason = str(e).strip().split("] ")[-1][:120] or type(e).__name__
        raise ValueError(
            f"{name}: {_span(idx)} does not decode ({reason}); re-encode the video "
            f"(e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4) or leave it out"
        ) from None
    return np.ascontiguousarray(_to_numpy(batch), dtype=np.uint8)


def _span(idx: np.ndarray) -> str:
    return f"frame {int(idx[0])}" if len(idx) == 1 else f"a frame among {int(idx.min())}..{int(idx.max())}"


def check_decodable(path: str | os.PathLike[str], indices: Sequence[int], chunk: int = 64) -> None:
    """Decode every frame at ``indices`` of a user's video once; the first one that does not
    decode is a ValueError naming the file and the frame (a video that decodes only partly
    fails here, not in the middle of an evaluation)."""
    wanted = sorted(set(indices))
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        try:
            read_frames(path, part)
        except ValueError:
            for i in part:  # which one
                read_frames(path, [i])


def find_videos(path: str | os.PathLike[str]) -> list[Path]:
    """The video files at ``path``: the file itself, or a folder's videos (not recursive), sorted by name.

    Videos are the files with a suffix in :data:`VIDEO_SUFFIXES`; hidden files (such as the
    temporary files of an unfinished write) are skipped.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no video file or folder at {str(p)!r}")
    if p.is_file():
        if p.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{str(p)!r} is not a video file: expected a suffix in {', '.join(VIDEO_SUFFIXES)}")
        return [p]
    videos = sorted(
        f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES and not f.name.startswith(".")
    )
    if not videos:
        raise ValueError(f"folder {str(p)!r} holds no videos (files ending in {', '.join(VIDEO_SUFFIXES)})")
    return videos
