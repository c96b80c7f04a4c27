"""Use a V-RULER suite inside the tools people already have.

- :func:`to_dataset`: the manifest as a ``datasets.Dataset`` (one row per sample);
- :func:`export_lmms_eval`: an lmms-eval task folder (``<name>.yaml``, ``utils.py`` and the
  samples as ``manifest.jsonl``) whose ``doc_to_visual`` materialises each sample to an mp4
  (cached in the suite folder) and whose ``process_results`` grades with
  :func:`videorope.vruler.scoring.grade`. Samples keep their context, so an ``@paper``
  sample is the same frames (needles filling two-frame slots) and is reported at the same
  count (slots) as in ``vruler eval``; its system turn is the one Qwen-VL chat templates add
  by default. The multimodal stacks are left out: their filler text is sized with the
  model's tokenizer, which lmms-eval hooks do not see.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from videorope.io import atomic_path
from videorope.vruler.manifest import read_manifest

__all__ = ["export_lmms_eval", "to_dataset"]


def _row(sample) -> dict[str, Any]:
    d = sample.to_dict()
    d["context"] = json.dumps(d["context"], sort_keys=True)  # task extras differ per task: one string column
    d["options"] = list(d["options"] or [])
    return d


def to_dataset(suite_dir: str | Path):
    """The suite's samples as a ``datasets.Dataset`` (``context`` as a JSON string)."""
    import datasets

    rows = [_row(s) for s in read_manifest(Path(suite_dir) / "manifest.jsonl")]
    return datasets.Dataset.from_list(rows)


class _Function(str):
    """An lmms-eval hook, written as ``!function utils.NAME``."""


class _TaskDumper(yaml.SafeDumper):
    pass


_TaskDumper.add_representer(_Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def _task_yaml(name: str, manifest: Path) -> dict[str, Any]:
    hook = lambda fn: _Function(f"utils.{fn}")  # noqa: E731
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(manifest)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": hook("doc_to_visual"),
        "doc_to_text": hook("doc_to_text"),
        "doc_to_target": "answer",
        "generation_kwargs": {"max_new_tokens": 32, "do_sample": False},
        "process_results": hook("process_results"),
        "metric_list": [{"metric": "vruler_accuracy", "aggregation": hook("vruler_score"), "higher_is_better": True}],
    }


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


_UTILS = '''\
"""lmms-eval hooks for a V-RULER suite (written by videorope; needs `pip install videorope[video]`)."""

import json
from pathlib import Path

from videorope.vruler.haystack import write_video
from videorope.vruler.manifest import Sample
from videorope.vruler.materialize import materialize
from videorope.vruler.prompts import question_text
from videorope.vruler.scoring import aggregate, grade

SUITE = Path({suite!r})
CACHE = SUITE / "lmms_eval_videos"


def _sample(doc):
    return Sample.from_dict({{**doc, "context": json.loads(doc["context"])}})


def doc_to_visual(doc):
    """The sample's frames as an mp4, written once into the suite folder."""
    path = CACHE / (doc["id"].replace("/", "__") + ".mp4")
    if not path.exists():
        frames = materialize(_sample(doc), SUITE)
        write_video(path, frames, len(frames), fps=2.0)
    return [str(path)]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return question_text(_sample(doc))


def process_results(doc, results):
    correct = grade(results[0], doc["scoring"], doc["answer"], doc["options"] or None)
    count = json.loads(doc["context"]).get("count", doc["frame_count"])  # slots for the @paper presets
    record = {{"task": doc["task"], "frame_count": count, "depth": doc["depth"], "correct": correct}}
    return {{"vruler_accuracy": record}}


def vruler_score(records):
    """The V-RULER score: mean over tasks of each task's accuracy."""
    return aggregate(records).overall
'''


def export_lmms_eval(suite_dir: str | Path, out_dir: str | Path, name: str = "vruler") -> Path:
    """Write ``out_dir/<name>.yaml`` and ``out_dir/utils.py`` for lmms-eval; returns the YAML path.

    ``name`` is the lmms-eval task name and the file name: letters, digits, ``_``, ``.`` and
    ``-``. The YAML is written by a YAML emitter, so any suite path round-trips."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"task name {name!r} must be 1-100 letters, digits, '_', '.' or '-' (e.g. vruler_small)")
    suite = Path(suite_dir).resolve()
    samples = [s for s in read_manifest(suite / "manifest.jsonl") if not {"text_tokens", "stack"} & set(s.context)]
    out = Path(out_dir).resolve()
    manifest = out / "manifest.jsonl"
    with atomic_path(manifest) as tmp:  # one row per sample, its context as a JSON string (as to_dataset)
        tmp.write_text("".join(json.dumps(_row(s), sort_keys=True) + "\n" for s in samples), encoding="utf-8")
    yaml_path = out / f"{name}.yaml"
    with atomic_path(yaml_path) as tmp:
        header = f"# lmms-eval task for the V-RULER suite {json.dumps(str(suite))} (written by videorope).\n"
        body = yaml.dump(_task_yaml(name, manifest), Dumper=_TaskDumper, sort_keys=False, allow_unicode=True)
        tmp.write_text(header + body, encoding="utf-8")
    with atomic_path(out / "utils.py") as tmp:
        tmp.write_text(_UTILS.format(suite=str(suite)))
    return yaml_path
