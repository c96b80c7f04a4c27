"""Exports: a datasets.Dataset, and an lmms-eval task whose hooks run here without lmms-eval."""

import importlib.util
import json

import numpy as np
import pytest
import yaml

pytest.importorskip("decord")
datasets = pytest.importorskip("datasets")

from videorope.vruler.export import export_lmms_eval, to_dataset  # noqa: E402
from videorope.vruler.haystack import probe, read_frames  # noqa: E402
from videorope.vruler.manifest import read_manifest  # noqa: E402
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite  # noqa: E402

CONFIG = SuiteConfig(
    frame_counts=(8,),
    depths=(0.5,),
    haystack=HaystackConfig(height=32, width=32, fps=1.0),
    tasks={"v-niah-d": {"distance": 2}, "ordering": {}, "multimodal-stack": {"text_tokens": 16}, "v-niah@paper": {}},
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    generate_suite(CONFIG, out, progress=False)
    return out


def test_to_dataset(suite):
    ds = to_dataset(suite)
    samples = read_manifest(suite / "manifest.jsonl")
    assert isinstance(ds, datasets.Dataset) and len(ds) == len(samples)
    assert ds[0]["id"] == samples[0].id and json.loads(ds[0]["context"]) == samples[0].context


class _Tags(yaml.SafeLoader):
    pass


_Tags.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def test_lmms_eval_task_and_hooks(suite, tmp_path):
    task = yaml.load(export_lmms_eval(suite, tmp_path).read_text(), Loader=_Tags)
    assert task["task"] == "vruler" and task["doc_to_visual"] == "!function utils.doc_to_visual"
    docs = [json.loads(line) for line in open(task["dataset_kwargs"]["data_files"]["test"])]
    assert {d["task"] for d in docs} == {"v-niah-d", "ordering", "v-niah@paper"}  # not the stack (its tokenizer)
    spec = importlib.util.spec_from_file_location("vruler_utils", tmp_path / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    records = []
    for doc in docs:
        (video,) = utils.doc_to_visual(doc)
        assert probe(video).num_frames == doc["frame_count"]
        if doc["task"] == "v-niah@paper":  # the same frames as `vruler eval`: a needle slot of two equal frames
            frames = read_frames(video, range(doc["frame_count"]))
            needle = doc["needle_frames"][0]
            assert doc["needle_frames"] == [needle, needle + 1]
            assert np.abs(frames[needle].astype(int) - frames[needle + 1]).mean() < 2  # equal up to the H.264 coding
        assert doc["question"] in utils.doc_to_text(doc)
        records.append(utils.process_results(doc, [doc["answer"]])["vruler_accuracy"])
    assert all(r["correct"] for r in records) and utils.vruler_score(records) == 1.0
    assert {r["frame_count"] for r in records if r["task"] == "v-niah@paper"} == {8}  # slots, as `vruler eval`


def test_cli_export(suite, tmp_path):
    from videorope.cli import main

    assert (
        main(
            [
                "vruler",
                "export",
                "--suite",
                str(suite),
                "--lmms-eval",
                str(tmp_path / "task"),
                "--dataset",
                str(tmp_path / "ds"),
            ]
        )
        == 0
    )
    assert (tmp_path / "task" / "vruler.yaml").is_file()
    assert len(datasets.load_from_disk(str(tmp_path / "ds"))) == len(read_manifest(suite / "manifest.jsonl"))


def test_hostile_paths_round_trip_and_hostile_names_are_refused(suite, tmp_path):
    import shutil

    hostile = tmp_path / "a #b: [c]\n- d"  # a comment, a mapping, a flow list and a new line in one folder name
    shutil.copytree(suite, hostile / "suite")
    out = hostile / "task #1"
    task = yaml.load(export_lmms_eval(hostile / "suite", out, name="v-ruler.small_1").read_text(), Loader=_Tags)
    assert task["task"] == "v-ruler.small_1" and task["dataset_kwargs"]["data_files"]["test"] == str(
        out / "manifest.jsonl"
    )
    keys = {"task", "dataset_path", "dataset_kwargs", "test_split", "output_type", "doc_to_visual", "doc_to_text",
            "doc_to_target", "generation_kwargs", "process_results", "metric_list"}  # fmt: skip
    assert set(task) == keys  # nothing injected
    spec = importlib.util.spec_from_file_location("hostile_utils", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    assert utils.SUITE == (hostile / "suite").resolve()
    for name in ("vruler\nprocess_results: x", "a b", "../up", "", "x" * 101):
        with pytest.raises(ValueError, match="task name"):
            export_lmms_eval(suite, tmp_path / "bad", name=name)
