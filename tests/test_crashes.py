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
    _run(argv(tmp_path / "whole"))
    shard = tmp_path / "split" / "results.rank0.jsonl"
    _kill_when(argv(tmp_path / "split"), lambda: _lines(shard) >= 3)
    assert not (tmp_path / "split" / "results.jsonl").exists()
    _run(argv(tmp_path / "split"))
    _no_temporaries(tmp_path / "split")
    whole, split = ((tmp_path / x / "results.jsonl").read_bytes() for x in ("whole", "split"))
    assert split == whole


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    from videorope.testing import tiny_model, tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def test_niah_eval_killed_mid_run(tmp_path, text_model):
    _run(_cli("niah", "generate", "--model", str(text_model), "--out", str(tmp_path / "niah"),
              "--set", "lengths=[600,700]", "--set", "depths=4", "--set", "samples_per_cell=2"))  # fmt: skip
    samples = tmp_path / "niah" / "niah.jsonl"
    argv = lambda out: _cli("niah", "eval", "--model", str(text_model), "--samples", str(samples), "--out", str(out))  # noqa: E731
    _run(argv(tmp_path / "whole"))
    results = tmp_path / "split" / "results.jsonl"
    _kill_when(argv(tmp_path / "split"), lambda: _lines(results) >= 3)
    _run(argv(tmp_path / "split"))
    _no_temporaries(tmp_path / "split")
    read = lambda x: [json.loads(line) for line in (tmp_path / x / "results.jsonl").read_text().splitlines()]  # noqa: E731
    assert read("split") == read("whole")  # record for record (the first run's lines are rewritten sorted)


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
    _run(argv(tmp_path / "whole"))
    log = tmp_path / "split" / "log.jsonl"
    _kill_when(argv(tmp_path / "split"), lambda: _lines(log) >= 3)
    _run(argv(tmp_path / "split"))
    _no_temporaries(tmp_path / "split")
    assert not list((tmp_path / "split" / "checkpoints").glob("*.partial"))
    read = lambda x: [json.loads(line) for line in (tmp_path / x / "log.jsonl").read_text().splitlines()]  # noqa: E731
    whole, split = read("whole"), read("split")
    assert [r["step"] for r in split] == [r["step"] for r in whole] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in split] == pytest.approx([r["loss"] for r in whole], rel=1e-5, abs=1e-6)


def test_extend_killed_mid_run(tmp_path, text_model):
    text = tmp_path / "text.txt"
    text.write_text("A plain sentence for perplexity. " * 80)
    argv = lambda out: _cli("extend", "--model", str(text_model), "--methods", "none,ntk", "--lengths", "600,700",  # noqa: E731
                            "--depths", "2", "--text", str(text), "--out", str(out))  # fmt: skip
    _run(argv(tmp_path / "whole"))
    results = tmp_path / "split" / "runs" / "ntk" / "results.jsonl"
    _kill_when(argv(tmp_path / "split"), lambda: _lines(results) >= 1)
    _run(argv(tmp_path / "split"))
    _no_temporaries(tmp_path / "split")
    read = lambda x: json.loads((tmp_path / x / "extend.json").read_text())["methods"]  # noqa: E731
    assert read("split") == read("whole")


def test_fourier_eval_killed_mid_run(tmp_path, text_model):
    text = tmp_path / "text.txt"
    text.write_text("Words that the caches read for their perplexity. " * 200)
    argv = lambda out: _cli("fourier", "eval", "--model", str(text_model), "--variants", "inverted-pyramid",  # noqa: E731
                            "--baselines", "streaming", "--lengths", "1100", "--tasks", "single", "--depths", "2",
                            "--samples", "1", "--window", "32", "--frequencies", "16", "--prompts", "1",
                            "--text", str(text), "--out", str(out))  # fmt: skip
    _run(argv(tmp_path / "whole"))
    results = tmp_path / "split" / "runs" / "fourier-inverted-pyramid@original" / "results.jsonl"
    _kill_when(argv(tmp_path / "split"), lambda: _lines(results) >= 1)
    _run(argv(tmp_path / "split"))
    _no_temporaries(tmp_path / "split")
    read = lambda x: json.loads((tmp_path / x / "fourier.json").read_text())["methods"]  # noqa: E731
    assert read("split") == read("whole")
