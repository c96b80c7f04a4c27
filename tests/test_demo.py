"""videorope demo: the pocket recipe end to end in miniature, checkpoint reuse, and a short
re-run of the recipe that must really learn."""

import dataclasses
import json
import shutil

import pytest

pytest.importorskip("decord")
pytest.importorskip("torchvision")
pytest.importorskip("accelerate")

from videorope.cli import main  # noqa: E402
from videorope.demo import RECIPE, load_demo, run_demo  # noqa: E402

SMALL = [
    "train_suite.depths=[0.0, 1.0]", "train_suite.samples_per_cell=2", "train_suite.frame_counts=[6]",
    "train_suite.haystack.count=2", "eval_suite.frame_counts=[6, 12]", "eval_suite.depths=[0.5]",
    "eval_suite.samples_per_cell=1", "eval_suite.haystack.count=1", "curriculum=[{frame_counts: [2], max_steps: 1}]",
    "train.max_steps=1", "train.eval_every=1", "train.save_every=1", "train.log_every=1",
]  # fmt: skip


def test_demo_end_to_end_and_rerun(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path), "-q"] + [x for s in SMALL for x in ("--set", s)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| scheme | 6 frames (1x) | 12 frames (2x) | model |" in printed and "trained now" in printed
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert set(summary["schemes"]) == {"mrope", "videorope", "vanilla", "videorope+yarn-v"}
    assert set(summary["curves"]["v-niah-d"]["videorope"]) == {"6", "12"}
    assert (tmp_path / "report" / "curve-v-niah-d.png").read_bytes()[:4] == b"\x89PNG"
    assert "| **V-RULER** |" in (tmp_path / "report" / "report.md").read_text()
    assert not (tmp_path / "models" / "videorope+yarn-v").exists()  # it reuses videorope's model
    run = tmp_path / "models" / "videorope"
    assert (run / "stage-1" / "final").is_dir() and json.loads((run / "final" / RECIPE).read_text())["curriculum"]
    stage1 = json.loads((run / "stage-1" / "config.json").read_text())
    main_run = json.loads((run / "config.json").read_text())
    assert stage1["max_steps"] == 1 and main_run["model"] == str(run / "stage-1" / "final")
    model = run / "final" / "model.safetensors"
    before = model.stat().st_mtime_ns
    assert main(args) == 0  # a re-run reuses the models and results
    assert model.stat().st_mtime_ns == before and "reused from an earlier run" in capsys.readouterr().out


def test_committed_checkpoints_are_used_only_for_their_recipe(tmp_path, capsys):
    config = load_demo(overrides=SMALL + ["schemes=[{name: videorope, layout: videorope}]"])
    first = dataclasses.replace(config, out=str(tmp_path / "first"))
    run_demo(first, progress=False)
    committed = tmp_path / "committed"
    shutil.copytree(tmp_path / "first" / "models" / "videorope" / "final", committed / "videorope")
    reuse = dataclasses.replace(config, out=str(tmp_path / "second"), checkpoints=str(committed))
    summary = json.loads((run_demo(reuse, progress=False) / "summary.json").read_text())
    assert summary["schemes"]["videorope"]["model_source"] == f"committed checkpoint {committed / 'videorope'}"
    assert not (tmp_path / "second" / "models").exists()
    other = dataclasses.replace(reuse, out=str(tmp_path / "third"), train={**reuse.train, "lr": 1e-4})
    run_demo(other, progress=False)  # another recipe: the committed model is not used
    assert (tmp_path / "third" / "models" / "videorope" / "final").is_dir()
    assert "trained by another recipe" in capsys.readouterr().err


def test_short_rerun_of_the_recipe_learns_to_read(tmp_path):
    """The recipe's first stage, shortened: the pocket model must leave chance (1 in 9 labels)."""
    from videorope.train import TrainConfig, train
    from videorope.vruler.suite import generate_suite

    config = load_demo()
    stage = config.curriculum[0]
    suite = dataclasses.replace(config.train_suite, frame_counts=stage.frame_counts, samples_per_cell=40)
    manifest = generate_suite(suite, tmp_path / "data", progress=False)
    settings = {**config.train, "max_steps": 600, "eval_every": 600, "save_every": 600, "log_every": 50}
    train(TrainConfig(**settings, data=str(manifest), out=str(tmp_path / "run"), layout="videorope"), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < 0.6 * log[0]["loss"]
    assert log[-1]["eval_accuracy"] > 2 / 9, log[-1]  # chance is 1/9
