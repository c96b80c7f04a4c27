"""Atomic writes: all or nothing, with ordinary permissions."""

import json
import os

import pytest

from videorope.io import atomic_path, read_by_length, write_by_length, write_json


def test_write_json_replaces_atomically_with_umask_permissions(tmp_path):
    path = write_json(tmp_path / "deep" / "r.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = write_json(tmp_path / "r.json", {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_values_by_length_are_reused_only_by_the_same_run(tmp_path):
    path = tmp_path / "perplexity.json"
    write_by_length(path, {"cache": "fourier", "window": 16}, {4096: 10.5})
    assert read_by_length(path, {"cache": "fourier", "window": 16}) == {4096: 10.5}
    assert read_by_length(path, {"cache": "fourier", "window": 32}) == {}
    assert read_by_length(tmp_path / "none.json", {}) == {}
