"""The length-extension study on the tiny Llama checkpoint of conftest (mechanics, files, resume),
its perplexity against transformers' own loss, and the effective-length rule."""

from __future__ import annotations

import json

import pytest
import torch

from videorope.cli import main
from videorope.perplexity import perplexity
from videorope.studies.extend import ExtendConfig, effective_length, method_options, run_extend
from videorope.testing import tiny_model


def test_effective_length_is_rulers_rule():
    assert effective_length({4096: 1.0, 8192: 0.9, 16384: 0.5}) == 8192
    assert effective_length({4096: 1.0, 8192: 0.5, 16384: 1.0}) == 4096  # up to the first failure
    assert effective_length({4096: 0.8}) is None
    assert effective_length({4096: 0.85}) == 4096


def test_methods_are_set_for_the_target():
    assert method_options("none", 8192, 16384) == {}
    assert method_options("yarn", 8192, 16384) == {"scaling": "yarn", "factor": 2.0}
    assert method_options("ntk", 8192, 4096) == {"scaling": "ntk", "factor": 1.0}
    assert method_options("critical-ntk", 8192, 16384) == {"scaling": "critical-ntk", "target_length": 16384}


def test_perplexity_matches_the_models_own_loss():
    model = tiny_model("llama")
    ids = torch.randint(0, 200, (300,))
    with torch.no_grad():
        loss = model(ids[None], labels=ids[None]).loss
    assert perplexity(model, ids, chunk=64) == pytest.approx(torch.exp(loss).item(), rel=1e-4)


def test_study_writes_every_number_and_resumes(tiny_llama, tmp_path, monkeypatch):
    text = tmp_path / "text.txt"
    text.write_text("A plain sentence for perplexity. " * 60)
    config = ExtendConfig(model=str(tiny_llama), methods=("none", "ntk", "critical-ntk"), lengths=(600, 800),
                          niah={"depths": 2}, text=str(text), out=str(tmp_path / "study"))  # fmt: skip
    md = run_extend(config, progress=False).read_text()
    summary = json.loads((tmp_path / "study" / "extend.json").read_text())
    assert summary["predicted"]["train_length"] == 512 and summary["target_length"] == 800
    assert summary["predicted"]["critical_dimension"] > 0
    for method in config.methods:
        r = summary["methods"][method]
        assert set(r["niah"]) == set(r["perplexity"]) == {"600", "800"}
        assert all(p > 1 for p in r["perplexity"].values()) and f"| {method} |" in md
    assert summary["methods"]["ntk"]["options"] == {"scaling": "ntk", "factor": 800 / 512}
    assert (tmp_path / "study" / "niah.png").is_file()
    import videorope.studies.extend as extend

    monkeypatch.setattr(extend, "perplexity", lambda *a, **k: pytest.fail("recomputed"))
    run_extend(config, progress=False)  # everything measured is reused


def test_command_line(tiny_llama, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("Words for the perplexity window. " * 40)
    argv = ["extend", "--model", str(tiny_llama), "--methods", "none,yarn", "--lengths", "600", "--depths", "1",
            "--text", str(text), "--out", str(tmp_path / "study"), "-q"]  # fmt: skip
    assert main(argv) == 0
    assert "| yarn |" in capsys.readouterr().out
    too_long = [*argv[:5], "--lengths", "5000", "--text", str(text), "--out", str(tmp_path / "other"), "-q"]
    assert main(too_long) == 2
    assert "fewer than 5000; pass a longer text file" in capsys.readouterr().err
