"""A V-RULER suite on disk: haystack video(s), needle images and one JSONL manifest.

    suite/
      suite.json          the resolved config (what was generated)
      haystack/*.mp4      generated haystack (absent when the config names user videos)
      needles/*.png       needle and distractor images
      needles.json        their specs (questions, answers, attributes)
      manifest.jsonl      one sample per line (see :mod:`videorope.vruler.manifest`)

Every file is written atomically and a re-run skips what is complete, so an interrupted
generation resumes. The same config and seed give a byte-identical manifest.
"""

from __future__ import annotations

import dataclasses
import filecmp
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from videorope.io import atomic_path, exclusive, temp_prefix, write_json
from videorope.vruler.haystack import VideoInfo, check_decodable, find_videos, haystack_cost, probe, write_haystack
from videorope.vruler.manifest import Sample, write_manifest
from videorope.vruler.needles import IMAGE_DIR, NeedleSpec, load_needles, save_needles, write_needle_images
from videorope.vruler.scoring import is_preset
from videorope.vruler.tasks import TASKS, Cell, Material

__all__ = ["HaystackConfig", "SuiteConfig", "check_size", "generate_suite", "sample_seed"]

_SHORT = {"v-niah-d": {"distance": 4}}
"""Default options sized for the default (short) frame counts: the paper's 200-frame
distractor distance never fits in 16-64 frames, which would silently drop every distractor."""

MANIFEST = "manifest.jsonl"
SWEEP = ("frame_counts", "depths", "samples_per_cell")
"""Keys a task's options may hold to sweep that task apart from the suite (a task may also
register its own, e.g. the lengthy multimodal stack's contexts and depths)."""


def _split(options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A task's options as (sweep overrides, the task's own options)."""
    options = options or {}
    return {k: v for k, v in options.items() if k in SWEEP}, {k: v for k, v in options.items() if k not in SWEEP}


def _check_sweep(where: str, counts: Any, depths: Any, samples: Any) -> None:
    if not counts or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 2 for c in counts):
        raise ValueError(f"{where}frame_counts must be positive integers, at least 2 (a needle and a haystack frame), "
                         f"got {counts}")  # fmt: skip
    if not depths or not all(isinstance(d, (int, float)) and 0 <= d <= 1 for d in depths):
        raise ValueError(f"{where}depths must be fractions in [0, 1], got {depths}")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"{where}samples_per_cell must be >= 1, got {samples}")


@dataclass(frozen=True)
class HaystackConfig:
    """The haystack: ``count`` generated videos (``frames`` long, default the largest frame
    count, twice that for ``@paper`` tasks whose counts are two-frame slots; each sample draws
    one of them) or the user's ``videos``."""

    frames: int | None = None
    height: int = 224
    width: int = 224
    fps: float = 2.0
    videos: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"haystack.count must be >= 1, got {self.count}")


@dataclass(frozen=True)
class SuiteConfig:
    """A sweep of tasks over frame counts and needle depths (REFERENCE section 8).

    ``needles`` names a needle JSON of your own (the format of ``needles.json``): retrieval
    tasks then draw their needles from it, and V-NIAH-D its ``kind: distractor`` entries.
    """

    name: str = "custom"
    seed: int = 0
    frame_counts: tuple[int, ...] = (16, 32, 64)
    depths: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    samples_per_cell: int = 1
    haystack: HaystackConfig = field(default_factory=HaystackConfig)
    needles: str | None = None
    tasks: dict[str, Any] = field(
        default_factory=lambda: {name: {} for name in TASKS.names() if not is_preset(name)} | _SHORT
    )

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("tasks names no task; give at least one, e.g. tasks: {v-niah: {}}")
        _check_sweep("", self.frame_counts, self.depths, self.samples_per_cell)
        for name, options in self.tasks.items():
            TASKS.resolve(name, _split(options)[1])  # unknown task or option: fail before any work
            _check_sweep(f"tasks.{name}.", *self.sweep(name).values())

    def sweep(self, task: str) -> dict[str, Any]:
        """``task``'s frame counts, depths and samples per cell: the suite's, under the task's
        registered sweep, under the task's options."""
        own = {"frame_counts": self.frame_counts, "depths": self.depths, "samples_per_cell": self.samples_per_cell}
        return {**own, **TASKS[task].meta.get("sweep", {}), **_split(self.tasks[task])[0]}

    def options(self, task: str) -> dict[str, Any]:
        """``task``'s own options, resolved over its defaults (the sweep keys taken out)."""
        return TASKS.resolve(task, _split(self.tasks[task])[1])

    def cells(self) -> list[Cell]:
        """Every (task, frame count, depth, index) of the sweep, in a fixed order."""
        out = []
        for task in self.tasks:
            meta, sweep = TASKS[task].meta, self.sweep(task)
            depths = sweep["depths"]
            depths = [d for d in depths if d < 1 or not meta.get("window")] if meta["uses_depth"] else (0.0,)
            for frames in sweep["frame_counts"]:
                for depth in depths:
                    for index in range(sweep["samples_per_cell"]):
                        out.append(Cell(task, frames, depth, index, sample_seed(self.seed, task, frames, depth, index)))
        return out


def sample_seed(seed: int, task: str, frames: int, depth: float, index: int) -> int:
    """A stable per-sample seed (same on every machine and Python version)."""
    return zlib.crc32(f"{seed}/{task}/{frames}/{depth:.6f}/{index}".encode())


def _haystack_frames(config: SuiteConfig) -> int:
    """Frames of each generated haystack."""
    frames = config.haystack.frames or max(
        max(config.sweep(t)["frame_counts"]) * TASKS[t].meta.get("frames_per_count", 1) for t in config.tasks
    )
    if not frames:
        raise ValueError("no task of this suite sizes the haystack from its counts; set haystack.frames")
    return frames


MAX_HOURS = 24
"""Longest haystack generation started without ``force``."""


def _size(n: float) -> str:
    return next(f"{n / 1024**k:.3g} {unit}" for k, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (0, "bytes"))
                if n >= 1024**k or k == 0)  # fmt: skip


def check_size(config: SuiteConfig, out: str | Path) -> None:
    """Refuse, before any work, a generated haystack that cannot fit this machine: its
    memory, its disk space at ``out`` (:func:`~videorope.vruler.haystack.haystack_cost`) or
    more than :data:`MAX_HOURS` of encoding; the error gives the estimate and the fix."""
    h = config.haystack
    if h.videos is not None:
        return
    frames = _haystack_frames(config)
    cost = haystack_cost(frames, h.height, h.width)
    memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    existing = next(p for p in (Path(out).resolve(), *Path(out).resolve().parents) if p.exists())
    disk = shutil.disk_usage(existing).free
    problems = []
    if cost["memory"] > memory / 2:
        problems.append(f"about {_size(cost['memory'])} of memory while rendering ({_size(memory)} free)")
    if cost["disk"] * h.count > disk:
        problems.append(f"about {_size(cost['disk'] * h.count)} of disk ({_size(disk)} free at {existing})")
    if cost["seconds"] * h.count > MAX_HOURS * 3600:
        problems.append(f"about {cost['seconds'] * h.count / 3600:,.0f} hours of encoding")
    if problems:
        raise ValueError(
            f"the haystack of {frames:,} frames at {h.height}x{h.width} (x{h.count}) needs {'; '.join(problems)}: "
            f"lower frame_counts or haystack.height/width, or pass --force if it truly fits"
        )


def _haystacks(config: SuiteConfig, out: Path, progress: bool) -> list[VideoInfo]:
    """Probe the user's videos, or write (or reuse) the generated haystack."""
    h = config.haystack
    if h.videos is not None:  # the user's videos, put into the suite: a suite holds every file it names
        infos = []
        for video in find_videos(h.videos):
            name = f"haystack/user/{video.name}"
            _copy(video, out / name)
            infos.append(dataclasses.replace(probe(out / name), path=name))
        return infos
    frames = _haystack_frames(config)
    infos = []
    for i in range(h.count):
        name = "haystack/haystack.mp4" if h.count == 1 else f"haystack/haystack-{i:03d}.mp4"
        path, seed = out / name, config.seed if i == 0 else sample_seed(config.seed, "haystack", frames, 0.0, i)
        info = probe(path) if path.exists() else None
        if info is None or (info.num_frames, info.height, info.width) != (frames, h.height, h.width):
            info = write_haystack(path, frames, h.height, h.width, h.fps, seed=seed, progress=progress)
        infos.append(dataclasses.replace(info, path=name))
    return infos


def _copy(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` (a hard link where the file system allows, else a copy),
    atomically, unless the same bytes are already there."""
    if target.is_file() and (target.samefile(source) or filecmp.cmp(source, target, shallow=False)):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{temp_prefix(target.name)}link{target.suffix}")
    try:
        os.link(source, tmp)  # the user's file keeps its own permissions
    except OSError:  # another file system, or links not allowed: a copy
        with atomic_path(target) as copy:
            shutil.copyfile(source, copy)
        return
    try:
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _user_needles(config: SuiteConfig, out: Path) -> list[NeedleSpec]:
    """The user's needles, their images copied into ``out/needles/user/``."""
    if config.needles is None:
        return []
    source = Path(config.needles)
    copied = []
    for spec in load_needles(source):
        image = f"{IMAGE_DIR}/user/{Path(spec.image).name}"
        _check_image(source.parent / spec.image)
        _copy(source.parent / spec.image, out / image)
        copied.append(dataclasses.replace(spec, image=image))
    return copied


def _check_image(path: Path) -> None:
    """A user's needle image must be a picture Pillow reads (it is used as given, never redrawn)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"needle image {path} is not a readable image ({e}); give a PNG or JPEG file") from None


def generate_suite(config: SuiteConfig, out: str | Path, progress: bool = True, force: bool = False) -> Path:
    """Write the suite for ``config`` under ``out`` (its only writer meanwhile); returns the
    manifest path. Sizes are checked first (:func:`check_size`; ``force`` skips that)."""
    if not force:
        check_size(config, out)
    with exclusive(out):
        return _generate(config, Path(out), progress)


def _generate(config: SuiteConfig, out: Path, progress: bool) -> Path:
    material = Material(_haystacks(config, out, progress), _user_needles(config, out), seed=config.seed)
    samples: list[Sample] = []
    for cell in tqdm(config.cells(), desc="samples", disable=not progress):
        samples.append(TASKS[cell.task].fn(cell, material, **config.options(cell.task)))
    if config.haystack.videos is not None:  # a user's video must decode at every frame a sample reads
        needed: dict[str, set[int]] = {}
        for s in samples:
            needed.setdefault(s.haystack, set()).update(s.haystack_indices)
        for video, indices in tqdm(sorted(needed.items()), desc="checking videos", disable=not progress):
            check_decodable(out / video, sorted(indices))
    for name, source in sorted(material.files.items()):
        _copy(Path(source), out / name)
    needles = sorted(material.needles.values(), key=lambda n: n.image)
    users = {n.image for n in material.user_needles}  # used as given, even where videorope could draw them
    drawn = [n for n in needles if n.image not in users]
    write_needle_images(out, drawn, size=min(config.haystack.height, config.haystack.width))
    save_needles(out / "needles.json", needles)
    write_json(out / "suite.json", dataclasses.asdict(config))
    return write_manifest(out / MANIFEST, samples)
