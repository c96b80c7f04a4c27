"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted job leaves the old file (or
none) behind, never a truncated one. ``same_run`` tells a resuming job whether the results
in its folder are its own.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "read_by_length",
    "read_records",
    "same_run",
    "write_by_length",
    "write_json",
    "write_records",
]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The parent folder is created; the final file gets the usual permissions (0666 less
    the umask), not the 0600 of a temporary file. On error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)


def read_by_length(path: str | os.PathLike[str], run: Any) -> dict[int, float]:
    """Values by length saved by :func:`write_by_length` for ``run``; empty when there are none
    or they belong to another run (so a changed setting is measured again, never reused)."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {}
    return {int(k): v for k, v in data.get("values", {}).items()} if data.get("run") == run else {}


def write_by_length(path: str | os.PathLike[str], run: Any, values: dict[int, float]) -> None:
    """Save ``values`` (length -> number) of ``run``, atomically."""
    write_json(path, {"run": run, "values": values})


def same_run(path: str | os.PathLike[str], run: dict[str, Any], ignore: tuple[str, ...] = ()) -> bool:
    """Whether the run record at ``path`` (a run folder's ``run.json``) equals ``run``, keys in
    ``ignore`` aside; true when there is none yet. Warns when not: the caller starts over."""
    path = Path(path)
    if not path.is_file():
        return True
    old = json.loads(path.read_text())
    if {k: v for k, v in old.items() if k not in ignore} == {k: v for k, v in run.items() if k not in ignore}:
        return True
    warnings.warn(f"{path.parent} holds results of another run (settings, model or data changed); starting over",
                  stacklevel=3)  # fmt: skip
    return False


def read_records(path: str | os.PathLike[str]) -> list[dict]:
    """The JSON records of a JSONL results file (none if it is missing); a torn last line (a
    crash mid-write) is dropped."""
    path = Path(path)
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def write_records(path: str | os.PathLike[str], records: Sequence[dict]) -> None:
    """Replace ``path`` with ``records`` as JSONL (sorted keys), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
