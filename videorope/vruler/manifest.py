"""The V-RULER manifest: one JSON line per sample, and how to materialise it.

A sample does not own a video file. It names a haystack file, a range of its frames, and
the needle (and distractor) images inserted into that sequence at given positions, so a
suite of thousands of samples costs one haystack plus a folder of small PNGs. Paths are
relative to the suite folder. Serialisation is canonical (sorted keys, no spaces), so the
same seed gives a byte-identical manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from videorope.io import atomic_path, read_text

__all__ = ["FORMAT_VERSION", "SCORINGS", "Insert", "Sample", "read_manifest", "write_manifest"]

FORMAT_VERSION = 1
SCORINGS = ("exact", "choice", "list", "list-ordered", "letter", "letter-fixed")
"""How a sample is scored: one answer string, multiple choice, a list as a set, an ordered
list, or the first option letter of a reply as the original lengthy multimodal stack grades it
(``letter``; ``letter-fixed`` with its prefix list as meant, see ``paper.PREFIXES``)."""


@dataclass(frozen=True)
class Insert:
    """An image inserted into the frame sequence at ``position`` (0-based, in the final sequence)."""

    position: int
    image: str
    role: str = "needle"  # "needle" or "distractor"


@dataclass(frozen=True)
class Sample:
    """One V-RULER question over ``frame_count`` frames.

    The frames are ``haystack_range`` = (start, stop, step) of the haystack file (or the
    explicit ``haystack_frames`` indices where a task reads a video as qwen-vl-utils does), in
    order, with ``inserts`` placed at their positions: ``frame_count = haystack frames +
    len(inserts)``. ``context`` holds task extras (the filler text of ``multimodal-stack``).
    """

    id: str
    task: str
    question: str
    answer: str | list[str]
    scoring: str
    frame_count: int
    depth: float
    seed: int
    haystack: str
    haystack_range: tuple[int, int, int]
    inserts: tuple[Insert, ...] = ()
    options: tuple[str, ...] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    haystack_frames: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.scoring not in SCORINGS:
            raise ValueError(f"sample {self.id}: scoring {self.scoring!r} is not one of {', '.join(SCORINGS)}")
        n = len(self.haystack_indices) + len(self.inserts)
        if n != self.frame_count:
            raise ValueError(
                f"sample {self.id}: {n} frames (haystack range + inserts) but frame_count={self.frame_count}"
            )
        positions = [i.position for i in self.inserts]
        if len(set(positions)) != len(positions) or any(not 0 <= p < self.frame_count for p in positions):
            raise ValueError(f"sample {self.id}: insert positions {positions} must be distinct and inside the frames")
        if self.scoring == "choice" and (not self.options or self.answer not in self.options):
            raise ValueError(f"sample {self.id}: a multiple-choice answer must be one of its options")

    @property
    def haystack_indices(self) -> tuple[int, ...] | range:
        """The haystack frames read, in order."""
        return self.haystack_frames if self.haystack_frames is not None else range(*self.haystack_range)

    @property
    def needle_frames(self) -> list[int]:
        return [i.position for i in self.inserts if i.role == "needle"]

    @property
    def distractor_frames(self) -> list[int]:
        return [i.position for i in self.inserts if i.role == "distractor"]

    def frame_plan(self) -> list[tuple[str, int | str]]:
        """Per final frame: ``("haystack", index)`` or ``("image", path)``, in order."""
        inserted = {i.position: i.image for i in self.inserts}
        haystack = iter(self.haystack_indices)
        return [
            ("image", inserted[p]) if p in inserted else ("haystack", next(haystack)) for p in range(self.frame_count)
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.haystack_frames is None:  # absent, so manifests without it read as before
            del d["haystack_frames"]
        d["needle_frames"], d["distractor_frames"] = self.needle_frames, self.distractor_frames
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        d = {k: v for k, v in d.items() if k not in ("needle_frames", "distractor_frames")}
        d["haystack_range"] = tuple(d["haystack_range"])
        d["inserts"] = tuple(Insert(**i) for i in d.get("inserts", ()))
        d["options"] = tuple(d["options"]) if d.get("options") is not None else None
        if d.get("haystack_frames") is not None:
            d["haystack_frames"] = tuple(d["haystack_frames"])
        return cls(**d)


def _line(sample: Sample) -> str:
    return json.dumps(sample.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_manifest(path: str | Path, samples: Iterable[Sample]) -> Path:
    """Write samples as canonical JSONL, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(_line(s) + "\n" for s in samples), encoding="utf-8")
    return Path(path)


def read_manifest(path: str | Path) -> list[Sample]:
    """Read and validate a manifest; a newer format or a malformed line is an error that says where."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {path}; generate one with `videorope vruler generate`")
    samples = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        try:
            d = json.loads(line)
            version = d.get("format", FORMAT_VERSION)
        except (json.JSONDecodeError, AttributeError) as err:
            raise ValueError(f"{path}:{number}: not a JSON object ({err})") from None
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f'{path}:{number}: "format" must be an integer, got {version!r}')
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path}:{number}: manifest format {version} is newer than this videorope reads "
                f"(format {FORMAT_VERSION}); upgrade videorope"
            )
        try:
            sample = Sample.from_dict(d)
        except (TypeError, KeyError, AttributeError, ValueError) as err:  # a wrong field, or the sample's own checks
            raise ValueError(f"{path}:{number}: not a V-RULER sample ({err})") from None
        for name in (sample.haystack, *(i.image for i in sample.inserts)):
            _inside(path.parent, name, f"{path}:{number}")
        samples.append(sample)
    return samples


def _inside(suite: Path, name: str, where: str) -> None:
    """A file a sample names must lie inside its suite: relative, no ``..``, no link out."""
    relative = PurePosixPath(name)
    if (
        relative.is_absolute()
        or ".." in relative.parts
        or "\\" in name
        or not ((suite / name).resolve().is_relative_to(suite.resolve()))
    ):
        raise ValueError(
            f"{where}: {name!r} lies outside the suite {suite}; a suite names only files inside its folder "
            f"(regenerate it with `videorope vruler generate`, which copies the files it uses)"
        )
