"""What every V-RULER task shares: the sweep cell, the material, and sample assembly.

A task is a pure function ``fn(cell, material, **options) -> Sample`` registered in
:data:`TASKS`; its randomness comes only from ``cell.seed``. Tasks whose needles are spread
evenly (counting, ordering) are registered with ``uses_depth=False`` and swept at depth 0;
tasks whose depth opens a window to its right (``window=True``) skip depth 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from videorope.registry import Registry
from videorope.vruler.haystack import VideoInfo
from videorope.vruler.manifest import Insert, Sample
from videorope.vruler.needles import IMAGE_DIR, NeedleSpec

__all__ = ["TASKS", "Cell", "Material", "group_sample", "make_sample"]

TASKS = Registry("task")


@dataclass(frozen=True)
class Cell:
    """One point of the sweep: ``index``-th sample at ``frame_count`` frames and ``depth``."""

    task: str
    frame_count: int
    depth: float
    index: int
    seed: int

    @property
    def rng(self) -> random.Random:
        return random.Random(self.seed)

    @property
    def id(self) -> str:
        return f"{self.task}/f{self.frame_count:05d}/d{self.depth:.2f}/{self.index}"


@dataclass
class Material:
    """Haystack videos (paths as the manifest records them), the user's needles if any, and
    the needles used so far."""

    haystacks: list[VideoInfo]
    user_needles: list[NeedleSpec] = field(default_factory=list)
    needles: dict[str, NeedleSpec] = field(default_factory=dict)
    seed: int = 0
    files: dict[str, str] = field(default_factory=dict)
    """Image files to copy into the suite: suite-relative path -> source path."""
    streams: dict[str, random.Random] = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    """What a task loads once per suite (e.g. a needle file), keyed as the task likes."""

    def use(self, needle: NeedleSpec) -> str:
        """Record ``needle`` for writing and return its image path."""
        self.needles.setdefault(needle.image, needle)
        return needle.image

    def use_file(self, source: str, folder: str = f"{IMAGE_DIR}/files") -> str:
        """Record a file (an image, a video) for copying into the suite and return its suite
        path: a suite holds every file its manifest names."""
        name = f"{folder}/{Path(source).name}"
        if self.files.setdefault(name, str(source)) != str(source):
            raise ValueError(f"two files are named {Path(source).name}: {self.files[name]} and {source}")
        return name

    def stream(self, task: str, seed: int) -> random.Random:
        """The task's one generator for the whole sweep (created at ``seed`` on first use): tasks
        that draw from it in sweep order reproduce a script that draws from one ``random``."""
        return self.streams.setdefault(task, random.Random(seed))

    def haystack_prefix(self, n: int) -> tuple[str, tuple[int, int, int]]:
        """The first ``n`` frames of the first haystack sampled at 1 fps (every ``round(fps)``-th
        frame), as (path, range)."""
        video = self.haystacks[0]
        step = max(1, round(video.fps))
        if n * step > video.num_frames:
            raise ValueError(
                f"a sample needs {n} frames at 1 fps but {video.path} has {video.num_frames // step} "
                f"({video.num_frames} at {video.fps:g} fps); set haystack.frames (or use a longer video)"
            )
        return video.path, (0, n * step, step)

    def haystack_frames(self, rng: random.Random, n: int) -> tuple[str, tuple[int, int, int]]:
        """A haystack and ``n`` frames of it, evenly strided over its length, as (path, range)."""
        fits = [h for h in self.haystacks if h.num_frames >= n]
        if not fits:
            longest = max(h.num_frames for h in self.haystacks)
            raise ValueError(
                f"a sample needs {n} haystack frames but the longest haystack has {longest}; "
                "use a longer video or lower frame_counts"
            )
        video = rng.choice(fits)
        step = video.num_frames // n
        return video.path, (0, step * n, step)


def make_sample(
    cell: Cell,
    material: Material,
    needles: list[tuple[int, NeedleSpec, str]],
    question: str,
    answer: str,
    scoring: str,
    options: tuple[str, ...] | None,
    context: dict | None = None,
) -> Sample:
    """Assemble a sample from (position, needle, role) inserts and the question."""
    inserts = tuple(sorted((Insert(p, material.use(n), role) for p, n, role in needles), key=lambda i: i.position))
    if cell.frame_count <= len(inserts):
        raise ValueError(
            f"{cell.id}: its {len(inserts)} needle image(s) fill all {cell.frame_count} frames and leave no haystack; "
            f"use larger frame_counts for {cell.task}"
        )
    haystack, frames = material.haystack_frames(cell.rng, cell.frame_count - len(inserts))
    return Sample(
        id=cell.id,
        task=cell.task,
        question=question,
        answer=answer,
        scoring=scoring,
        frame_count=cell.frame_count,
        depth=cell.depth,
        seed=cell.seed,
        haystack=haystack,
        haystack_range=frames,
        inserts=inserts,
        options=options,
        context=context or {},
    )


def group_sample(
    cell: Cell,
    material: Material,
    positions: list[int],
    needles: list[NeedleSpec],
    scoring: str,
    context: dict | None = None,
) -> Sample:
    """A sample of several needles that share one question, answer and options (counting,
    ordering, multi-value), the ``i``-th needle at ``positions[i]``."""
    first = needles[0]
    inserts = [(p, n, "needle") for p, n in zip(positions, needles, strict=True)]
    return make_sample(cell, material, inserts, first.question, first.answer, scoring, first.options, context)
