"""``videorope fourier calibrate`` and ``videorope fourier eval`` on a tiny Llama checkpoint the
test writes: the plan file and plot, the table at equal memory, resume, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import DynamicCache

from videorope.cache import FourierPlan
from videorope.cli import main
from videorope.niah import runner as niah_runner
from videorope.perplexity import continuation_perplexity, perplexity
from videorope.studies.fourier import FourierEvalConfig, run_eval
from videorope.testing import tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_model("llama").save_pretrained(folder)  # 2 layers, 2 KV heads, head_dim 16, trained at 512
    tiny_tokenizer().save_pretrained(folder)
    (folder / "text.txt").write_text("A plain sentence to calibrate the cache on, then to score. " * 60)
    return folder


SETTINGS = ["--sinks", "4", "--window", "32", "--frequencies", "16", "--prompts", "1"]


@pytest.mark.parametrize("recipe", ["original", "videorope"])
def test_calibrate_writes_a_plan_and_its_plot(checkpoint, tmp_path, capsys, recipe):
    out = tmp_path / "dims.json"
    args = ["fourier", "calibrate", "--model", str(checkpoint), "--length", "1100", "--recipe", recipe,
            "--text", str(checkpoint / "text.txt"), *SETTINGS, "--out", str(out), "-q"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    plan = FourierPlan.load(out)
    assert f"{100 * plan.compressed_fraction():.1f}% of K/V channels compressed" in printed
    assert "beyond the critical dimension (8)" in printed and out.with_suffix(".png").stat().st_size > 0
    assert plan.meta["model"] == str(checkpoint) and plan.meta["kept_vs_critical"]["critical_dim"] == 8
    assert plan.meta["calibration"] == recipe and plan.meta["rank"] == ("layer" if recipe == "original" else "head")
    assert main([*args[:-3], "--frequencies", "600", "--out", str(out)]) == 2
    assert "longer than 2 x frequencies" in capsys.readouterr().err


def test_continuation_perplexity_through_the_full_cache_is_the_plain_perplexity():
    model = tiny_model("llama")
    ids = torch.randint(5, 200, (150,), generator=torch.Generator().manual_seed(0))
    plain = perplexity(model, ids)
    # scoring from token 1 on with an exact prefill of token 0 is the whole-sequence perplexity
    assert continuation_perplexity(model, ids, 1, DynamicCache(), chunk=7) == pytest.approx(plain, rel=1e-4)


def test_eval_compares_caches_at_equal_memory_and_resumes(checkpoint, tmp_path, monkeypatch):
    config = FourierEvalConfig(model=str(checkpoint), variants=("inverted-pyramid", "uniform:0.5@videorope"),
                               lengths=(1100, 1200), niah={"depths": 2}, window=32, frequencies=16, calibration=1,
                               text=str(checkpoint / "text.txt"), tail=32, out=str(tmp_path))  # fmt: skip
    table = run_eval(config, progress=False).read_text()
    summary = json.loads((tmp_path / "fourier.json").read_text())
    methods = summary["methods"]
    assert list(methods) == ["full", "fourier inverted-pyramid@original", "streaming", "snapkv",
                             "fourier uniform:0.5@videorope"]  # fmt: skip
    assert methods["fourier uniform:0.5@videorope"]["compressed"] == 0.5
    pyramid, streaming = methods["fourier inverted-pyramid@original"], methods["streaming"]
    assert pyramid["options"]["max_new_tokens"] == 64 and pyramid["options"]["affine"]
    per_token = summary["full_bytes"] / 1200
    assert abs(streaming["bytes"] - pyramid["bytes"]) <= per_token / 2  # equal memory, to a token
    assert streaming["options"]["budget"] == methods["snapkv"]["options"]["budget"] < 1200
    assert all(set(m["niah"]) == {"1100", "1200"} for m in methods.values())
    assert all(m["accuracy"]["1200"]["samples"] == 2 for m in methods.values())
    assert methods["full"]["vs_full"]["1100"]["difference"] == 0
    assert all(v > 1 for m in methods.values() for v in m["perplexity"].values())
    assert "| fourier inverted-pyramid@original |" in table and "Wilson" in table
    assert (tmp_path / "memory.png").stat().st_size > 0
    assert (tmp_path / "plans" / "inverted-pyramid@original.json").is_file()

    def no_more_replies(*args, **kwargs):
        raise AssertionError("a finished NIAH run was evaluated again")

    monkeypatch.setattr(niah_runner, "_reply", no_more_replies)
    assert run_eval(config, progress=False).read_text() == table  # resumes: plans, replies, perplexities


def test_eval_command_line_rejects_bins_past_the_period(checkpoint, tmp_path, capsys):
    args = ["fourier", "eval", "--model", str(checkpoint), "--lengths", "300", "--variants",
            "inverted-pyramid@videorope", "--frequencies", "400", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "below half the period" in capsys.readouterr().err
    assert main([*args[:7], "inverted-pyramid@best", "--out", str(tmp_path)]) == 2
    assert "unknown FourierAttention recipe 'best'" in capsys.readouterr().err
