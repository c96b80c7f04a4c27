"""The runner end to end on tiny random models (mechanics), resume, budgets; the report."""

import json

import pytest

pytest.importorskip("decord")
pytest.importorskip("torchvision")
pytest.importorskip("accelerate")

from videorope.cli import main  # noqa: E402
from videorope.vruler import runner  # noqa: E402
from videorope.vruler.manifest import read_manifest  # noqa: E402
from videorope.vruler.runner import EvalConfig, evaluate, read_results  # noqa: E402
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite  # noqa: E402

SUITE = SuiteConfig(
    frame_counts=(8, 12),
    depths=(0.0, 1.0),
    haystack=HaystackConfig(height=32, width=32),
    tasks={"v-niah": {}, "v-niah-d": {"distance": 4}, "ordering": {}, "multimodal-stack": {"text_tokens": 24}},
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    generate_suite(SUITE, out, progress=False)
    return out


@pytest.mark.parametrize("model", ["tiny:qwen2_vl", "tiny:qwen2_5_vl", "tiny:qwen3_vl"])
def test_end_to_end(suite, tmp_path, model):
    config = EvalConfig(suite=str(suite), model=model, out=str(tmp_path), layout="videorope", batch_size=3)
    results = read_results(evaluate(config, progress=False))
    samples = read_manifest(suite / "manifest.jsonl")
    assert [r["id"] for r in results] == [s.id for s in samples]
    assert all(isinstance(r["teacher_forced"], bool) and r["tokens"] > 8 for r in results)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["positional"]["layout"] == "videorope" and run["model"] == model


def test_options_can_be_left_out_of_the_prompt(suite, tmp_path):
    with_options = read_results(evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "a")), progress=False))
    bare = EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "b"), options_in_prompt=False)
    without = read_results(evaluate(bare, progress=False))
    samples = {s.id: s for s in read_manifest(suite / "manifest.jsonl")}
    for a, b in zip(with_options, without, strict=True):
        options = samples[a["id"]].options
        # the tiny tokenizer is per character: the option block is exactly the missing tokens
        block = sum(len(f"\n({chr(65 + i)}) {o}") for i, o in enumerate(options or ())) + len(
            "\nAnswer with the option's text."
        ) * bool(options)
        assert a["tokens"] - b["tokens"] == block


def test_batching_does_not_change_scores(suite, tmp_path):
    one = read_results(evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "a")), progress=False))
    four = read_results(
        evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "b"), batch_size=4), progress=False)
    )
    assert [r["teacher_forced"] for r in one] == [r["teacher_forced"] for r in four]


def test_generate_mode_records_predictions(suite, tmp_path):
    config = EvalConfig(
        str(suite), "tiny:qwen2_vl", str(tmp_path), mode="generate", max_new_tokens=3, tasks=("v-niah",)
    )
    results = read_results(evaluate(config, progress=False))
    assert len(results) == 4 and all("prediction" in r for r in results)


def test_resume_after_a_crash_recomputes_nothing(suite, tmp_path, monkeypatch):
    real = runner._score_batch
    calls = []

    def crash_on_third(model, processor, samples, *args):
        calls.append([s.id for s in samples])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(model, processor, samples, *args)

    monkeypatch.setattr(runner, "_score_batch", crash_on_third)
    config = EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(config, progress=False)
    shard = tmp_path / "results.rank0.jsonl"
    assert len(read_results(shard)) == 4
    with shard.open("a") as f:
        f.write('{"id": "torn')  # a crash in the middle of a write
    done = {i for batch in calls[:2] for i in batch}
    calls.clear()
    monkeypatch.setattr(runner, "_score_batch", real)
    results = read_results(evaluate(config, progress=False))
    assert len(results) == len(read_manifest(suite / "manifest.jsonl"))
    assert len({r["id"] for r in results}) == len(results)
    assert done <= {r["id"] for r in results}


def test_another_run_in_the_same_folder_starts_over(suite, tmp_path, monkeypatch):
    first = read_results(evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path)), progress=False))
    real, scored = runner._score_batch, []

    def counting(model, processor, samples, *args):
        scored.extend(s.id for s in samples)
        return real(model, processor, samples, *args)

    monkeypatch.setattr(runner, "_score_batch", counting)
    again = EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), batch_size=2)  # batch size aside: same run
    assert read_results(evaluate(again, progress=False)) == first and scored == []
    other = EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), layout="videorope")
    with pytest.warns(UserWarning, match="holds results of another run"):
        results = read_results(evaluate(other, progress=False))
    assert sorted(scored) == sorted(r["id"] for r in first) == sorted(r["id"] for r in results)


def test_budget_is_checked_before_running(suite, tmp_path):
    config = EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), max_tokens=40)
    with pytest.raises(ValueError, match="over max_tokens=40"):
        evaluate(config, progress=False)
    assert read_results(tmp_path / "results.rank0.jsonl") == []


def test_bad_inputs(suite, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local checkpoint"):
        evaluate(EvalConfig(str(suite), str(tmp_path / "nope"), str(tmp_path)), progress=False)
    with pytest.raises(ValueError, match="not in the suite"):
        evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), tasks=("counting",)), progress=False)
    with pytest.raises(ValueError, match="mode must be one of"):
        EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path), mode="guess")


def test_cli_eval_and_report(suite, tmp_path, capsys):
    for layout in ("videorope", "mrope"):
        args = [
            "vruler",
            "eval",
            "--suite",
            str(suite),
            "--model",
            "tiny:qwen2_vl",
            "--out",
            str(tmp_path / layout),
            "--layout",
            layout,
            "--scaling",
            "yarn-v",
            "--factor",
            "2",
            "-q",
            "--tasks",
            "v-niah,ordering",
        ]
        assert main(args) == 0
    assert (
        main(
            [
                "vruler",
                "report",
                str(tmp_path / "videorope"),
                str(tmp_path / "mrope"),
                "--out",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| **V-RULER** |" in text and "videorope (videorope, yarn-v)" in text and "mrope (mrope, yarn-v)" in text
    assert (tmp_path / "report" / "videorope-v-niah.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["vruler", "report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]) == 2
    assert "has no results.jsonl" in capsys.readouterr().err


def test_data_parallel_shards_merge_to_the_single_process_result(suite, tmp_path):
    """Two processes (torchrun, gloo on CPU; accelerate launch on GPUs) split the samples."""
    from conftest import run_two_processes

    single = read_results(evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "one")), progress=False))
    run_two_processes(
        "vruler", "eval", "--suite", str(suite), "--model", "tiny:qwen2_vl", "--out", str(tmp_path / "two"), "-q"
    )  # fmt: skip
    shards = [read_results(tmp_path / "two" / f"results.rank{r}.jsonl") for r in (0, 1)]
    assert all(shards) and not {r["id"] for r in shards[0]} & {r["id"] for r in shards[1]}
    assert read_results(tmp_path / "two" / "results.jsonl") == single


def test_another_spelling_of_the_same_suite_and_folder_resumes(suite, tmp_path, monkeypatch):
    evaluate(EvalConfig(str(suite), "tiny:qwen2_vl", str(tmp_path / "run")), progress=False)
    real, scored = runner._score_batch, []
    monkeypatch.setattr(
        runner, "_score_batch", lambda m, p, samples, *a: scored.extend(samples) or real(m, p, samples, *a)
    )
    monkeypatch.chdir(suite.parent)
    again = EvalConfig(f"./{suite.name}/", "tiny:qwen2_vl", str(tmp_path / "other" / ".." / "run"))
    evaluate(again, progress=False)
    assert scored == []


def test_a_second_writer_on_the_run_folder_is_refused(suite, tmp_path, hold, capsys):
    proc = hold(tmp_path / "run")
    argv = ["vruler", "eval", "--suite", str(suite), "--model", "tiny:qwen2_vl", "--out", str(tmp_path / "run"), "-q"]
    assert main(argv) == 2
    assert f"being written by another videorope job (pid {proc.pid}" in capsys.readouterr().err
    assert not (tmp_path / "run" / "results.jsonl").exists()
