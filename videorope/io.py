"""Atomic file output, one writer per output folder, and what a resuming job reads back.

- :func:`atomic_path`: write to a temporary file beside the target, then rename. A reader
  never sees a half-written file, and an interrupted job leaves the old file (or none)
  behind, never a truncated one. Temporaries carry the writer's pid in their name
  (``.NAME.tmp-PID-XXXX``), so :func:`sweep_temporaries` removes those of dead processes (a
  ``SIGKILL`` runs no cleanup).
- :func:`exclusive`: an exclusive lock on an output folder for the whole job (``fcntl``
  through ``filelock``: the kernel releases it when the holder dies, even by ``SIGKILL``),
  with the holder's pid and host beside it; a second writer gets a clear error naming the
  holder, a lock left by a dead process is taken over with a warning, and the folder's
  stale temporaries are swept.
- :func:`same_run` tells a resuming job whether the results in its folder are its own;
  :func:`path_key` spells a path as a run record keeps it (resolved), so another spelling
  of the same path resumes.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK",
    "atomic_path",
    "exclusive",
    "one_writer",
    "path_key",
    "read_by_length",
    "read_records",
    "read_text",
    "same_run",
    "sweep_temporaries",
    "temp_prefix",
    "write_by_length",
    "write_json",
    "write_records",
]


_TEMP = re.compile(r"^\..*\.tmp-(\d+)-")


def temp_prefix(name: str) -> str:
    """The name prefix of this process's temporaries for ``name`` (``.NAME.tmp-PID-``)."""
    return f".{name}.tmp-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries under ``folder`` (files or folders named by :func:`temp_prefix`)
    whose process is gone; returns what was removed."""
    removed = []
    for path in sorted(Path(folder).rglob(".*.tmp-*")):
        match = _TEMP.match(path.name)
        if match is None or _alive(int(match.group(1))) or not path.exists():
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


LOCK = ".videorope.lock"
"""The lock file of an output folder (``.videorope.lock.json`` beside it names the holder)."""

_HELD: dict[Path, int] = {}
"""Locks this process holds, by lock file, with how many nested ``exclusive`` blocks hold each."""


@contextmanager
def exclusive(folder: str | os.PathLike[str], rank: int = 0) -> Iterator[Path]:
    """Hold ``folder`` (created if missing) as its only writer for the block; yields it.

    Data-parallel ranks of one run each lock their own file (rank 0 the folder's lock), so
    a second run on the folder is refused by every rank before any of them writes. Nested
    blocks of one process on one folder share its lock."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output folder {folder} is a file; name a folder (it is created if missing)")
    folder.mkdir(parents=True, exist_ok=True)
    name = LOCK if rank == 0 else f"{LOCK}.rank{rank}"
    key, info = folder.resolve() / name, folder / f"{name}.json"
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield folder
        finally:
            _HELD[key] -= 1
        return
    lock = FileLock(key, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _holder(info)
        raise ValueError(
            f"{folder} is being written by another videorope job ({holder}); wait for it to end, or write to "
            f"another folder"
        ) from None
    try:
        if info.is_file():
            warnings.warn(f"{folder}: taking over the lock of a job that ended without releasing it "
                          f"({_holder(info)})", stacklevel=3)  # fmt: skip
        write_json(info, {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                          "command": sys.argv})  # fmt: skip
        sweep_temporaries(folder)
        _HELD[key] = 1
        yield folder
    finally:
        _HELD.pop(key, None)
        info.unlink(missing_ok=True)
        lock.release()


def one_writer(folder: Callable[..., str | os.PathLike[str]]) -> Callable:
    """Decorate a job so that it runs as the only writer (:func:`exclusive`) of the folder
    ``folder(*args, **kwargs)`` names, e.g. ``@one_writer(lambda config, **_: config.out)``."""

    def wrap(job: Callable) -> Callable:
        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            with exclusive(folder(*args, **kwargs)):
                return job(*args, **kwargs)

        return run

    return wrap


def _holder(info: Path) -> str:
    try:
        data = json.loads(info.read_text())
        return f"pid {data['pid']} on {data['host']} since {data['since']}: {' '.join(data.get('command', []))}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"


def path_key(text: str | os.PathLike[str]) -> str:
    """``text`` as a run record keeps it: the resolved path when it names something on disk
    (``suite``, ``suite/`` and ``./suite`` are one), else as given (a built-in model name)."""
    try:
        path = Path(text)
        return str(path.resolve()) if path.exists() else str(text)
    except (OSError, ValueError):  # not a path at all (a name too long for one, a NUL byte): a label
        return str(text)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The parent folder is created; the final file gets the usual permissions (0666 less
    the umask), not the 0600 of a temporary file. On error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=path.suffix)
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


def read_text(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of a user's file; other bytes are a ValueError naming the file and the byte."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {e.start} is {e.object[e.start : e.start + 1]!r}); save it as UTF-8"
        ) from None


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
    crash mid-write) is dropped. Records with the same ``id`` (two writers, an edited file)
    count once: the last one wins, with a warning."""
    path = Path(path)
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    by_id = {r["id"]: r for r in records if isinstance(r, dict) and "id" in r}
    if len(by_id) == len(records) or not by_id:
        return records
    warnings.warn(f"{path}: {len(records) - len(by_id)} records repeat an id; the last of each counts", stacklevel=2)
    kept, seen = [], set()
    for r in records:
        key = r.get("id") if isinstance(r, dict) else None
        if key is None or key not in seen:
            kept.append(r if key is None else by_id[key])
            seen.add(key)
    return kept


def write_records(path: str | os.PathLike[str], records: Sequence[dict]) -> None:
    """Replace ``path`` with ``records`` as JSONL (sorted keys), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
