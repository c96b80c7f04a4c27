"""videorope finetune: a short run, exact resume, reload with the positional choice, data errors."""

import json

import pytest
import torch

pytest.importorskip("decord")
pytest.importorskip("torchvision")
pytest.importorskip("accelerate")

import videorope  # noqa: E402
from videorope.cli import main  # noqa: E402
from videorope.train import TrainConfig, train  # noqa: E402
from videorope.train import loop as train_loop  # noqa: E402
from videorope.train.data import load_rows  # noqa: E402
from videorope.vruler.haystack import write_haystack  # noqa: E402
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite  # noqa: E402


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    config = SuiteConfig(
        frame_counts=(6,),
        depths=(0.0, 1.0),
        samples_per_cell=4,
        haystack=HaystackConfig(height=32, width=32),
        tasks={"v-niah-d": {"distance": 2}},
    )
    return generate_suite(config, out, progress=False)


def config(manifest, out, **changes):
    base = dict(
        model="tiny:qwen2_vl",
        data=str(manifest),
        out=str(out),
        layout="videorope",
        max_steps=4,
        batch_size=2,
        lr=1e-3,
        log_every=1,
        eval_every=2,
        save_every=2,
        eval_fraction=0.25,
    )
    return TrainConfig(**{**base, **changes})


def log(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_short_run_learns_and_reloads_with_its_scheme(manifest, tmp_path):
    final = train(config(manifest, tmp_path, max_steps=6), progress=False)
    records = log(tmp_path)
    losses = [r["loss"] for r in records]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert "eval_accuracy" in records[-1] and (tmp_path / "checkpoints" / "step-6").is_dir()
    model = videorope.from_pretrained(final)
    assert model.config.videorope["layout"] == "videorope"


def test_resume_continues_with_the_same_losses(manifest, tmp_path, monkeypatch):
    train(config(manifest, tmp_path / "whole"), progress=False)
    whole = {r["step"]: r["loss"] for r in log(tmp_path / "whole")}

    real = train_loop._log

    def crash_at_step_3(path, record):
        if record.get("step") == 3:
            raise KeyboardInterrupt
        real(path, record)

    monkeypatch.setattr(train_loop, "_log", crash_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        train(config(manifest, tmp_path / "split"), progress=False)
    monkeypatch.setattr(train_loop, "_log", real)
    train(config(manifest, tmp_path / "split"), progress=False)
    split = {r["step"]: r["loss"] for r in log(tmp_path / "split")}
    assert sorted(split) == [1, 2, 3, 4]
    for step in (3, 4):
        assert split[step] == pytest.approx(whole[step], rel=1e-5, abs=1e-6)


def test_resume_logs_each_step_once(manifest, tmp_path, monkeypatch):
    """A crash after step 3 was logged and before step 4's checkpoint: the resumed run starts at
    the step-2 checkpoint and logs steps 3 and 4 again, so the lines past step 2 must go."""
    real = train_loop._save_checkpoint

    def crash_before_step_4(accelerator, checkpoint, step, micro):
        if step == 4:
            raise KeyboardInterrupt
        real(accelerator, checkpoint, step, micro)

    monkeypatch.setattr(train_loop, "_save_checkpoint", crash_before_step_4)
    with pytest.raises(KeyboardInterrupt):
        train(config(manifest, tmp_path), progress=False)
    assert [r["step"] for r in log(tmp_path)] == [1, 2, 3, 4]
    monkeypatch.setattr(train_loop, "_save_checkpoint", real)
    train(config(manifest, tmp_path), progress=False)
    assert [r["step"] for r in log(tmp_path)] == [1, 2, 3, 4]


def test_cli_finetune_from_yaml(manifest, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(f"model: tiny:qwen2_vl\ndata: {manifest}\nout: {tmp_path / 'run'}\nlayout: mrope\n")
    assert main(["finetune", "--config", str(path), "--set", "max_steps=1", "--set", "eval_fraction=0", "-q"]) == 0
    assert (tmp_path / "run" / "final" / "config.json").is_file()
    assert main(["finetune", "--config", str(path), "--set", "max_step=1", "-q"]) == 2


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"video": "missing.mp4", "question": "q", "answer": "a"}', "d.jsonl:2: video"),
        ('{"video": "v.mp4", "question": "q", "answer": ""}', "d.jsonl:2: 'answer' must be a non-empty string"),
        ('{"video": "v.mp4", "question": "q", "answer": "a", "label": 1}', "d.jsonl:2: unknown field(s) label"),
        ("[1, 2]", "d.jsonl:2: expected a JSON object"),
        ("{oops", "d.jsonl:2: not valid JSON"),
    ],
)
def test_dataset_errors_name_the_line(tmp_path, line, message):
    write_haystack(tmp_path / "v.mp4", 4, 32, 32)
    good = '{"video": "v.mp4", "question": "q", "answer": "a"}'
    (tmp_path / "d.jsonl").write_text(good + "\n" + line + "\n")
    with pytest.raises(ValueError) as err:
        load_rows(tmp_path / "d.jsonl")
    assert message in str(err.value)


def test_plain_video_rows_train(tmp_path):
    write_haystack(tmp_path / "v.mp4", 12, 32, 32)
    rows = [{"video": "v.mp4", "question": "What moves?", "answer": "a cloud", "frames": 4}] * 4
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    final = train(
        TrainConfig(
            model="tiny:qwen2_vl",
            data=str(tmp_path / "d.jsonl"),
            out=str(tmp_path / "run"),
            max_steps=2,
            eval_fraction=0,
        ),
        progress=False,
    )
    assert (final / "config.json").is_file()


def test_gradient_checkpointing_and_lora(manifest, tmp_path):
    pytest.importorskip("peft")
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    final = train(
        config(manifest, tmp_path, max_steps=2, gradient_checkpointing=True, lora=lora, eval_fraction=0), progress=False
    )
    model = videorope.from_pretrained(final)
    assert model.config.videorope["layout"] == "videorope"
    assert not any("lora" in name for name, _ in model.named_parameters())  # merged into the base weights


def test_two_processes(manifest, tmp_path):
    """Data-parallel smoke test: two CPU processes (torchrun, gloo), one shared checkpoint."""
    from conftest import run_two_processes

    overrides = ["model=tiny:qwen2_vl", f"data={manifest}", f"out={tmp_path}", "max_steps=2", "eval_fraction=0.25",
                 "eval_every=2"]  # fmt: skip
    run_two_processes("finetune", "-q", *[x for o in overrides for x in ("--set", o)])
    records = log(tmp_path)
    assert [r["step"] for r in records] == [2] and "eval_accuracy" in records[0]
    assert (tmp_path / "final" / "config.json").is_file()
