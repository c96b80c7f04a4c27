"""SIGKILL in the middle of the long jobs, then a re-run: the result equals an uninterrupted
run's and no temporary file is left. Each job runs as ``python -m videorope.cli`` in its own
process (a kill runs no cleanup: what the next run finds is what a real crash leaves)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("decord")
pytest.importorskip("accelerate")

TASKS = ["--set", "tasks={v-niah: {}, v-niah-d: {distance: 3}}"]
SUITE = ["--set", "frame_counts=[8,12]", "--set", "depths=[0.0,0.5,1.0]", "--set", "samples_per_cell=2",
         "--set", "haystack.height=32", "--set", "haystack.width=32", *TASKS]  # fmt: skip


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "videorope.cli", *args, "-q"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _kill_when(argv: list[str], ready, timeout: float = 240) -> None:
    """Start ``argv``, SIGKILL it as soon as ``ready()`` holds (it must not finish first)."""
    proc = subprocess.Popen(argv, cwd=tempfile.gettempdir(), env=_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _run(argv: list[str]) -> None:
    subprocess.run(argv, cwd=tempfile.gettempdir(), env=_env(), check=True, capture_output=True, timeout=600)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _no_temporaries(folder: Path) -> None:
    left = [p for p in folder.rglob(".*") if ".tmp-" in p.name]
    assert not left, left


def _whole_and_killed(argv, tmp_path: Path, progress: str, lines: int, killed=None) -> tuple[Path, Path]:
    """``argv(out)`` run uninterrupted into ``tmp_path/whole``, and into ``tmp_path/split`` killed
    once ``split/progress`` holds ``lines`` lines (``killed(split)`` checks what the kill left),
    then run again; no temporary may remain. Returns (whole, split)."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    _run(argv(whole))
    _kill_when(argv(split), lambda: _lines(split / progress) >= lines)
    if killed is not None:
        killed(split)
    _run(argv(split))
    _no_temporaries(split)
    return whole, split


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    _run(_cli("vruler", "generate", "--out", str(out), *SUITE))
    return out


def test_vruler_generate_killed_while_encoding(tmp_path, suite):
    out = tmp_path / "suite"
    _kill_when(_cli("vruler", "generate", "--out", str(out), *SUITE, "--set", "frame_counts=[8,3000]"),
               lambda: any(".tmp-" in p.name for p in out.rglob(".*")))  # fmt: skip
    _run(_cli("vruler", "generate", "--out", str(out), *SUITE))
    _no_temporaries(out)
    assert (out / "manifest.jsonl").read_bytes() == (suite / "manifest.jsonl").read_bytes()
    assert (out / "haystack" / "haystack.mp4").read_bytes() == (suite / "haystack" / "haystack.mp4").read_bytes()


def test_vruler_eval_killed_mid_run(tmp_path, suite):
    argv = lambda out: _cli("vruler", "eval", "--suite", str(suite), "--model", "tiny:qwen2_vl", "--out", str(out))  # noqa: E731

    def unmerged(split: Path) -> None:
        assert not (split / "results.jsonl").exists()

    whole, split = _whole_and_killed(argv, tmp_path, "results.rank0.jsonl", 3, unmerged)
    assert (split / "results.jsonl").read_bytes() == (whole / "results.jsonl").read_bytes()


def test_niah_eval_killed_mid_run(tmp_path, tiny_llama):
    _run(_cli("niah", "generate", "--model", str(tiny_llama), "--out", str(tmp_path / "niah"),
              "--set", "lengths=[600,700]", "--set", "depths=4", "--set", "samples_per_cell=2"))  # fmt: skip
    samples = tmp_path / "niah" / "niah.jsonl"
    argv = lambda out: _cli("niah", "eval", "--model", str(tiny_llama), "--samples", str(samples), "--out", str(out))  # noqa: E731
    whole, split = _whole_and_killed(argv, tmp_path, "results.jsonl", 3)
    # record for record (the first run's lines are rewritten sorted)
    assert _records(split / "results.jsonl") == _records(whole / "results.jsonl")


def test_finetune_killed_mid_run(tmp_path, suite):
    config = tmp_path / "train.yaml"
    settings = {
        "model": "tiny:qwen2_vl",
        "data": str(suite / "manifest.jsonl"),
        "layout": "videorope",
        "max_steps": 6,
        "batch_size": 2,
        "lr": 0.001,
        "log_every": 1,
        "eval_every": 100,
        "save_every": 2,
        "eval_fraction": 0,
    }
    config.write_text(json.dumps(settings))  # JSON is YAML
    argv = lambda out: _cli("finetune", "--config", str(config), "--set", f"out={out}")  # noqa: E731
    whole, split = _whole_and_killed(argv, tmp_path, "log.jsonl", 3)
    assert not list((split / "checkpoints").glob("*.partial"))
    whole, split = _records(whole / "log.jsonl"), _records(split / "log.jsonl")
    assert [r["step"] for r in split] == [r["step"] for r in whole] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in split] == pytest.approx([r["loss"] for r in whole], rel=1e-5, abs=1e-6)


def test_extend_killed_mid_run(tmp_path, tiny_llama):
    text = tmp_path / "text.txt"
    text.write_text("A plain sentence for perplexity. " * 80)
    argv = lambda out: _cli("extend", "--model", str(tiny_llama), "--methods", "none,ntk", "--lengths", "600,700",  # noqa: E731
                            "--depths", "2", "--text", str(text), "--out", str(out))  # fmt: skip
    whole, split = _whole_and_killed(argv, tmp_path, "runs/ntk/results.jsonl", 1)
    read = lambda out: json.loads((out / "extend.json").read_text())["methods"]  # noqa: E731
    assert read(split) == read(whole)


def test_fourier_eval_killed_mid_run(tmp_path, tiny_llama):
    text = tmp_path / "text.txt"
    text.write_text("Words that the caches read for their perplexity. " * 200)
    argv = lambda out: _cli("fourier", "eval", "--model", str(tiny_llama), "--variants", "inverted-pyramid",  # noqa: E731
                            "--baselines", "streaming", "--lengths", "1100", "--tasks", "single", "--depths", "2",
                            "--samples", "1", "--window", "32", "--frequencies", "16", "--prompts", "1",
                            "--text", str(text), "--out", str(out))  # fmt: skip
    whole, split = _whole_and_killed(argv, tmp_path, "runs/fourier-inverted-pyramid@original/results.jsonl", 1)
    read = lambda out: json.loads((out / "fourier.json").read_text())["methods"]  # noqa: E731
    assert read(split) == read(whole)
