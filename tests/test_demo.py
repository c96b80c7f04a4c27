"""videorope demo: the whole pipeline in miniature (mechanics; the real recipe runs in the README job)."""

import json

import pytest

pytest.importorskip("decord")
pytest.importorskip("torchvision")
pytest.importorskip("accelerate")

from videorope.cli import main  # noqa: E402

SMALL = [
    "train_suite.frame_counts=[6]", "train_suite.depths=[0.0, 1.0]", "train_suite.samples_per_cell=2",
    "eval_suite.frame_counts=[6, 12]", "eval_suite.depths=[0.5]", "eval_suite.samples_per_cell=1",
    "train_suite.tasks={v-niah-d: {distance: 2}}", "eval_suite.tasks={v-niah-d: {distance: 2}}",
    "train.max_steps=2", "train.eval_every=2", "train.save_every=2", "train.log_every=1",
]  # fmt: skip


def test_demo_end_to_end_and_rerun(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path), "-q"] + [x for s in SMALL for x in ("--set", s)]
    assert main(args) == 0
    assert "| **V-RULER** |" in capsys.readouterr().out
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert set(summary["schemes"]) == {"mrope", "videorope", "vanilla", "videorope+yarn-v"}
    assert set(summary["curves"]["v-niah-d"]["videorope"]) == {"6", "12"}
    assert (tmp_path / "report" / "curve-v-niah-d.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "models" / "videorope+yarn-v").exists()  # it reuses videorope's model
    model = tmp_path / "models" / "videorope" / "final" / "model.safetensors"
    before = model.stat().st_mtime_ns
    assert main(args) == 0  # a re-run reuses the models and results
    assert model.stat().st_mtime_ns == before
