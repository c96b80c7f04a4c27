"""The NIAH runner: the real model finds the needles, results resume, another run starts
over, the report and the command line."""

from __future__ import annotations

import json

import pytest

import videorope
from videorope.cli import main
from videorope.models import load_model
from videorope.niah import NiahConfig, evaluate, generate, read_results, report
from videorope.niah import runner as niah_runner
from videorope.testing import tiny_model, tiny_tokenizer


def test_real_model_finds_single_needles_and_the_report_draws_them(tmp_path):
    model, tokenizer = load_model("smollm2")
    samples = generate(NiahConfig(lengths=(512, 1024), depths=2), tokenizer, tmp_path / "data", progress=False)
    results = read_results(evaluate(model, tokenizer, samples, tmp_path / "run", progress=False))
    assert len(results) == 4 and all(r["score"] == 1.0 for r in results), results
    md = report([tmp_path / "run"], tmp_path / "report").read_text()
    assert "| run | 100.0 | 100.0 |" in md
    assert (tmp_path / "report" / "run-single.png").is_file() and (tmp_path / "report" / "curve-single.png").is_file()


@pytest.fixture
def tiny(tmp_path):
    tokenizer = tiny_tokenizer()
    config = NiahConfig({"single": {}, "multiquery": {"queries": 2}}, lengths=(600, 700), depths=2)
    return tiny_model("llama"), tokenizer, generate(config, tokenizer, tmp_path / "data", progress=False)


def test_a_crashed_run_resumes_and_another_run_starts_over(tiny, tmp_path, monkeypatch):
    model, tokenizer, samples = tiny
    real, calls = niah_runner._reply, []

    def crash_on_third(model, tokenizer, batch, max_new_tokens, cache):
        calls.append([s["id"] for s in batch])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(model, tokenizer, batch, 4, cache)

    monkeypatch.setattr(niah_runner, "_reply", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        evaluate(model, tokenizer, samples, tmp_path / "run", batch_size=2, progress=False)
    assert len(read_results(tmp_path / "run" / "results.jsonl")) == 4
    calls.clear()
    results = read_results(evaluate(model, tokenizer, samples, tmp_path / "run", batch_size=2, progress=False))
    assert len(calls) == 2 and len({r["id"] for r in results}) == len(results) == 8
    calls.clear()
    extended = videorope.apply(tiny_model("llama"), scaling="yarn", factor=2.0)
    with pytest.warns(UserWarning, match="holds results of another run"):
        evaluate(extended, tokenizer, samples, tmp_path / "run", batch_size=4, progress=False)
    assert len(calls) == 2
    assert json.loads((tmp_path / "run" / "run.json").read_text())["positional"]["scaling"] == "yarn"


def test_reply_budget_fits_the_answers(tiny, monkeypatch):
    model, tokenizer, samples = tiny
    seen = []
    monkeypatch.setattr(model, "generate", lambda **kw: seen.append(kw["max_new_tokens"]) or kw["input_ids"])
    batch = [json.loads(line) for line in samples.read_text().splitlines()]
    niah_runner._reply(model, tokenizer, batch[:1], None)
    niah_runner._reply(model, tokenizer, batch[-1:], None)
    assert seen == [8 + 24, 8 + 24 * 2]


def test_command_line(tmp_path, capsys):
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "report"
    assert main(["niah", "generate", "--set", "lengths=[256]", "--set", "depths=[0.5]", "--out", str(data), "-q"]) == 0
    assert main(["niah", "eval", "--samples", str(data / "niah.jsonl"), "--out", str(run), "-q",
                 "--scaling", "yarn", "--factor", "2"]) == 0  # fmt: skip
    assert json.loads((run / "run.json").read_text())["positional"]["scaling"] == "yarn"
    assert main(["niah", "report", str(run), "--out", str(out)]) == 0
    assert (out / "niah.md").is_file()
    assert main(["niah", "eval", "--samples", str(tmp_path / "none.jsonl"), "--out", str(run)]) == 2
    assert "niah generate" in capsys.readouterr().err
