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


# --------------------------------------------------------------------------------------
# One writer per folder, stale temporaries, duplicates, path spellings
# --------------------------------------------------------------------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holder_is_taken_over(tmp_path, hold):
    import signal

    from videorope.io import exclusive

    proc = hold(tmp_path / "run")
    with pytest.raises(ValueError, match=rf"being written by another videorope job \(pid {proc.pid} on "):
        with exclusive(tmp_path / "run"):
            pass
    proc.send_signal(signal.SIGKILL)  # no cleanup runs: the lock file and its holder stay behind
    proc.wait()
    with pytest.warns(UserWarning, match=rf"taking over the lock .*pid {proc.pid}"):
        with exclusive(tmp_path / "run"):
            with exclusive(tmp_path / "run"):  # nested blocks of one process share the lock
                pass
    with exclusive(tmp_path / "run"):  # released cleanly: no warning the next time
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; name a folder"):
        with exclusive(tmp_path / "file"):
            pass


def test_stale_temporaries_of_dead_processes_are_swept_when_a_writer_opens_the_folder(tmp_path):
    from videorope.io import exclusive, temp_prefix

    dead = _dead_pid()
    (tmp_path / "haystacks").mkdir()
    stale_file = tmp_path / "haystacks" / f".hay.mp4.tmp-{dead}-abcd.mp4"
    stale_dir = tmp_path / f".model.tmp-{dead}-efgh"
    mine = tmp_path / f"{temp_prefix('r.json')}ijkl.json"
    for path in (stale_file, mine):
        path.write_text("partial")
    stale_dir.mkdir()
    (stale_dir / "weights").write_text("partial")
    with exclusive(tmp_path):
        pass
    assert not stale_file.exists() and not stale_dir.exists() and mine.exists()


def test_records_with_a_repeated_id_count_once_the_last_winning(tmp_path):
    from videorope.io import read_records

    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a", "score": 0}\n{"id": "b", "score": 1}\n{"id": "a", "score": 1}\n')
    with pytest.warns(UserWarning, match="1 records repeat an id"):
        assert read_records(path) == [{"id": "a", "score": 1}, {"id": "b", "score": 1}]


def test_paths_are_recorded_resolved_and_names_as_given(tmp_path, monkeypatch):
    from videorope.io import path_key

    (tmp_path / "suite").mkdir()
    monkeypatch.chdir(tmp_path)
    assert path_key("suite") == path_key("suite/") == path_key("./suite") == str(tmp_path.resolve() / "suite")
    assert path_key("smollm2") == "smollm2"
    label = '{"model": "smollm2", "policy": "fourier", "options": ' + "x" * 300 + "}"  # a run label, not a path
    assert path_key(label) == label
