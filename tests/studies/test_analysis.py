"""``analyze`` and ``videorope analyze`` on a tiny Llama checkpoint the test writes: every kind
writes its JSON, PNG and markdown with the numbers it promises; NIAH runs resume; bad input
says what to fix."""

from __future__ import annotations

import json

import pytest

from videorope.cli import main
from videorope.niah import runner as niah_runner
from videorope.studies.analysis import ANALYSES, AnalyzeConfig, analyze
from videorope.testing import tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_model("llama").save_pretrained(folder)  # 2 layers x 4 heads, head_dim 16, trained at 512
    tiny_tokenizer().save_pretrained(folder)
    text = folder / "text.txt"
    text.write_text("A plain sentence for the attention diagnostics. " * 40)
    return folder


def _config(checkpoint, out, **kw):
    settings = dict(model=str(checkpoint), text=str(checkpoint / "text.txt"), length=400, lengths=(450, 600),
                    niah={"depths": 2}, queries=16, keys=64, seeds=2, out=str(out))  # fmt: skip
    return AnalyzeConfig(**{**settings, **kw})


def _read(out, kind):
    assert (out / f"{kind}.png").stat().st_size > 0 and (out / f"{kind}.md").read_text().startswith("# ")
    return json.loads((out / f"{kind}.json").read_text())


def test_attention_geometry_kinds(checkpoint, tmp_path):
    for kind in ("contributions", "positional"):
        analyze(kind, _config(checkpoint, tmp_path), progress=False)
    profile = _read(tmp_path, "contributions")["profile"]
    assert len(profile) == 2 and len(profile[0]) == 8 and all(sum(row) == pytest.approx(1) for row in profile)
    positional = _read(tmp_path, "positional")
    assert len(positional["ranked"]) == 8 and len(positional["score"]) == 2 and len(positional["score"][0]) == 4
    assert [r["score"] for r in positional["ranked"]] == sorted(
        (r["score"] for r in positional["ranked"]), reverse=True
    )
    assert all(-1 <= r["score"] <= 1 and 0 <= r["dominant"] <= 7 for r in positional["ranked"])


def test_sink_needs_a_length_beyond_training(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="beyond the training length 512"):
        analyze("sink", _config(checkpoint, tmp_path), progress=False)
    analyze("sink", _config(checkpoint, tmp_path, length=700, methods=("none", "yarn")), progress=False)
    sink = _read(tmp_path, "sink")
    assert set(sink["methods"]) == {"none", "yarn"} and sink["train_length"] == 512
    for name in ("key_norm_ratio", "key_share_within", "key_share_beyond", "sink_mass_within", "sink_mass_beyond"):
        assert 0 < sink["methods"]["none"]["mean"][name] < 10


def test_niah_kinds_and_resume(checkpoint, tmp_path, monkeypatch):
    for kind in ("ablation", "noise"):
        analyze(kind, _config(checkpoint, tmp_path), progress=False)
    ablation = _read(tmp_path, "ablation")
    assert ablation["heads_masked"] == 1 and set(ablation["accuracy"]) == {"none", "positional", "random-0", "random-1"}
    assert all(set(curve) == {"450", "600"} for curve in ablation["accuracy"].values())
    noise = _read(tmp_path, "noise")
    assert set(noise["accuracy"]) == {"clean", "below-0", "below-1", "above-0", "above-1"}
    assert noise["critical_dimension"] == 8 and set(noise["mean"]) == {"below", "above"}

    def no_more_replies(*args, **kwargs):
        raise AssertionError("a finished NIAH run was evaluated again")

    monkeypatch.setattr(niah_runner, "_reply", no_more_replies)
    analyze("noise", _config(checkpoint, tmp_path), progress=False)  # resumes: nothing left to run
    assert _read(tmp_path, "noise")["accuracy"] == noise["accuracy"]
    # a run records what its hook did, so another energy or head set starts over instead of resuming
    assert '\\"energy\\": 0.5' in (tmp_path / "noise" / "runs" / "below-0" / "run.json").read_text()
    with pytest.warns(UserWarning, match="another run"), pytest.raises(AssertionError, match="evaluated again"):
        analyze("noise", _config(checkpoint, tmp_path, energy=0.25), progress=False)


def test_entropy_compares_methods(checkpoint, tmp_path):
    analyze("entropy", _config(checkpoint, tmp_path, methods=("none", "yarn")), progress=False)
    entropy = _read(tmp_path, "entropy")
    none, yarn = entropy["methods"]["none"], entropy["methods"]["yarn"]
    assert none["js_vs_none"] == {"450": 0.0, "600": 0.0}
    assert all(0 < v < 0.7 for v in yarn["js_vs_none"].values())  # ln 2 bounds JS
    assert all(0 < v < 6.5 for v in none["mean_entropy"].values())  # at most ln(600) nats
    assert len(none["head_entropy"]["450"]) == 2 and len(none["head_entropy"]["450"][0]) == 4


def test_command_line(checkpoint, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["analyze", "positional", "--model", str(checkpoint), "--text", str(checkpoint / "text.txt"),
            "--length", "300", "--queries", "8", "--out", str(out), "-q"]  # fmt: skip
    assert main(args) == 0
    assert "# Positional heads" in capsys.readouterr().out and (out / "positional.json").is_file()
    assert main(["analyze", "heads", "--out", str(out)]) == 2
    assert "choose one of: " + ", ".join(ANALYSES.names()) in capsys.readouterr().err
    assert main([*args[:-3], "--fraction", "2", "--out", str(out)]) == 2
    assert "fraction must lie in (0, 1)" in capsys.readouterr().err


def test_command_line_help_names_every_kind(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    help_text = capsys.readouterr().out.replace("\n", " ")
    assert all(name in help_text for name in ANALYSES.names())
