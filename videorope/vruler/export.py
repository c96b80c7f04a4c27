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
from pathlib import Path
from typing import Any

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


_YAML = """\
# lmms-eval task for the V-RULER suite at {suite} (written by videorope).
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {manifest}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 32
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: vruler_accuracy
    aggregation: !function utils.vruler_score
    higher_is_better: true
"""

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
    """Write ``out_dir/<name>.yaml`` and ``out_dir/utils.py`` for lmms-eval; returns the YAML path."""
    suite = Path(suite_dir).resolve()
    samples = [s for s in read_manifest(suite / "manifest.jsonl") if not {"text_tokens", "stack"} & set(s.context)]
    out = Path(out_dir).resolve()
    manifest = out / "manifest.jsonl"
    with atomic_path(manifest) as tmp:  # one row per sample, its context as a JSON string (as to_dataset)
        tmp.write_text("".join(json.dumps(_row(s), sort_keys=True) + "\n" for s in samples), encoding="utf-8")
    yaml_path = out / f"{name}.yaml"
    with atomic_path(yaml_path) as tmp:
        tmp.write_text(_YAML.format(name=name, suite=suite, manifest=manifest))
    with atomic_path(out / "utils.py") as tmp:
        tmp.write_text(_UTILS.format(suite=str(suite)))
    return yaml_path
