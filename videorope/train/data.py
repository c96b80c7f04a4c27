"""Video-QA training data: JSONL rows, validated with line numbers, loaded as a ``datasets.Dataset``.

Two kinds of file are accepted:

- plain video QA, one object per line: ``{"video": "clips/a.mp4", "question": "...",
  "answer": "..."}`` plus optional ``"id"`` and ``"frames"`` (how many frames to sample
  evenly; default from the training config). Video paths are relative to the file's folder.
- a V-RULER ``manifest.jsonl``: every sample is materialised from its haystack and needles.

Frames are read with decord by index (never by decoding a whole file) and go through the
model's own processor in :class:`Collator`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videorope.inputs import answer_ids, answer_labels, encode
from videorope.vruler.haystack import probe, read_frames
from videorope.vruler.manifest import Sample
from videorope.vruler.materialize import materialize
from videorope.vruler.prompts import question_text

__all__ = ["FIELDS", "Collator", "load_rows", "row_frames"]

FIELDS = ("id", "video", "question", "answer", "frames")
"""Keys of a plain video-QA row; ``video``, ``question`` and ``answer`` are required."""


def _plain_row(d: dict[str, Any], where: str, root: Path) -> dict[str, Any]:
    unknown = sorted(set(d) - set(FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; a row has {', '.join(FIELDS)}")
    for key in ("video", "question", "answer"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            raise ValueError(f"{where}: {key!r} must be a non-empty string, got {d.get(key)!r}")
    video = root / d["video"]
    if not video.is_file():
        raise ValueError(f"{where}: video {video} does not exist; paths are relative to the JSONL file's folder")
    frames = d.get("frames")
    if frames is not None and (not isinstance(frames, int) or frames < 1):
        raise ValueError(f"{where}: 'frames' must be a positive integer, got {frames!r}")
    return {"id": d.get("id", where), "video": str(video), "question": d["question"], "answer": d["answer"],
            "frames": frames, "sample": None}  # fmt: skip


def load_rows(path: str | Path, options_in_prompt: bool = True):
    """Validated rows of a video-QA JSONL or a V-RULER manifest, as a ``datasets.Dataset``.

    Each row holds ``id``, ``question``, ``answer`` and either ``video`` (+ ``frames``) or
    ``sample`` (a V-RULER sample as JSON, with ``suite`` its folder). Errors name the line.
    A V-RULER sample's question lists its options unless ``options_in_prompt`` is false.
    """
    import datasets

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset file at {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON ({err})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected a JSON object per line")
        if "haystack" in d:
            try:
                sample = Sample.from_dict(d)
            except (TypeError, KeyError, ValueError) as err:
                raise ValueError(f"{where}: not a V-RULER sample ({err})") from None
            if not sample.answer.strip():
                raise ValueError(f"{where}: empty answer")
            question = question_text(sample, options_in_prompt)
            rows.append({"id": sample.id, "video": str(path.parent), "question": question, "answer": sample.answer,
                         "frames": None, "sample": json.dumps(sample.to_dict())})  # fmt: skip
        else:
            rows.append(_plain_row(d, where, path.parent))
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return datasets.Dataset.from_list(rows)


def row_frames(row: dict[str, Any], num_frames: int) -> np.ndarray:
    """The row's frames, uint8 (F, H, W, 3): a materialised V-RULER sample, or frames sampled
    evenly from the video by index."""
    if row["sample"] is not None:
        return materialize(Sample.from_dict(json.loads(row["sample"])), row["video"])
    n = row["frames"] or num_frames
    total = probe(row["video"]).num_frames
    indices = np.linspace(0, total - 1, num=min(n, total)).round().astype(int).tolist()
    return read_frames(row["video"], indices)


@dataclass
class Collator:
    """Rows -> processor inputs with ``labels`` on the answer tokens (and the end-of-turn token) only."""

    processor: Any
    num_frames: int = 16
    video_kwargs: dict[str, Any] | None = None

    def __call__(self, rows: list[dict[str, Any]]):
        videos = [row_frames(r, self.num_frames) for r in rows]
        messages = [[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": r["question"]}]}]
                    for r in rows]  # fmt: skip
        eos = self.processor.tokenizer.eos_token or ""
        answers = [r["answer"] + eos for r in rows]
        batch = encode(self.processor, messages, videos, answers, self.video_kwargs)
        batch["labels"] = answer_labels(batch["input_ids"], answer_ids(self.processor.tokenizer, answers))
        return batch
