"""V-RULER scoring: teacher-forced exact match, generated answers, multiple choice, aggregates.

Pure functions. Conventions (REFERENCE section 8):
- retrieval is scored teacher-forced: the answer tokens are fed after the prompt and every
  answer position's argmax must be its token; a tie for the maximum counts as wrong (the
  model did not prefer the answer);
- free text is normalised (case, surrounding punctuation, whitespace) before matching;
- the V-RULER score is the mean over tasks of each task's accuracy over all its samples.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from videorope.vruler.paper import answer_letter

__all__ = [
    "Aggregate",
    "aggregate",
    "choice_match",
    "generated_match",
    "grade",
    "is_preset",
    "list_match",
    "normalize",
    "teacher_forced_exact",
]

_STRIP = string.punctuation + string.whitespace


def normalize(text: str) -> str:
    """Case-folded, whitespace collapsed, surrounding punctuation removed."""
    return " ".join(text.casefold().split()).strip(_STRIP)


def teacher_forced_exact(
    logits: torch.Tensor, answer_ids: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Whether every answer token is the strict argmax at its position.

    Args:
        logits: (B, A, V) logits that PREDICT the answer tokens (position ``i`` predicts
            ``answer_ids[:, i]``; i.e. already shifted by one from the model's output).
        answer_ids: (B, A) answer token ids.
        mask: (B, A) bool, False for padding in shorter answers.

    Returns:
        bool (B,).
    """
    if logits.shape[:2] != answer_ids.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not cover answer_ids {tuple(answer_ids.shape)}")
    target = logits.gather(-1, answer_ids.unsqueeze(-1))  # (B, A, 1)
    best_other = logits.scatter(-1, answer_ids.unsqueeze(-1), float("-inf")).amax(-1, keepdim=True)
    ok = (target > best_other).squeeze(-1)  # strict: ties are wrong
    if mask is not None:
        ok = ok | ~mask.bool()
    return ok.all(-1)


def generated_match(prediction: str, answer: str) -> bool:
    """A generated answer matches if, normalised, it is the answer or starts with it as a whole word
    (``"7."``, ``"7, on the balloon"``); ``"17"`` does not match ``"7"``."""
    pred, ans = normalize(prediction), normalize(answer)
    if not ans:
        raise ValueError("the reference answer is empty")
    return pred == ans or (pred.startswith(ans) and not pred[len(ans)].isalnum())


_SEPARATOR = re.compile(r"[,;\n]|\band\b")


def list_match(prediction: str, answer: Sequence[str], ordered: bool) -> bool:
    """A list answer (``"3, 8, 5"``, ``"red star, blue heart"``): the items, in order or as a set.

    Items are split on commas, semicolons, newlines and ``and``; when the reference items
    are single words, whitespace separates items too (``"3 8 5"``).
    """
    items = [normalize(x) for x in _SEPARATOR.split(prediction.casefold())]
    items = [x for x in items if x]
    expected = [normalize(x) for x in answer]
    if all(" " not in x for x in expected):
        items = [w for x in items for w in x.split()]
    return items == expected if ordered else (len(items) == len(expected) and sorted(items) == sorted(expected))


_LETTER = re.compile(r"^\(?([A-Za-z])\)?(?:[.:)\s]|$)")


def choice_match(prediction: str, options: Sequence[str], answer: str) -> bool:
    """Multiple choice: the prediction names the answer by letter (``"B"``, ``"(B)"``, ``"B. 7"``)
    or by its option text. A letter outside the options, or text that names no option or
    several (``"7 or 3"``), is wrong."""
    if answer not in options:
        raise ValueError(f"answer {answer!r} is not among the options {list(options)}")
    text = prediction.strip()
    letter = _LETTER.match(text)
    if letter:
        index = ord(letter.group(1).upper()) - ord("A")
        return 0 <= index < len(options) and options[index] == answer
    named = [o for o in options if re.search(rf"(?<!\w){re.escape(normalize(o))}(?!\w)", normalize(text))]
    return named == [answer]


def _letter(prefixes: str) -> Callable[[str, str, Sequence[str] | None], bool]:
    def match(prediction: str, answer: str, options: Sequence[str] | None) -> bool:
        return answer_letter(prediction, prefixes) == answer_letter(answer, prefixes)

    return match


_GRADERS: dict[str, Callable[[str, str, Sequence[str] | None], bool]] = {
    "choice": lambda p, a, o: choice_match(p, o or (a,), a),
    "exact": lambda p, a, o: generated_match(p, a),
    "list": lambda p, a, o: list_match(p, a.split(", "), ordered=False),
    "list-ordered": lambda p, a, o: list_match(p, a.split(", "), ordered=True),
    "letter": _letter("original"),
    "letter-fixed": _letter("fixed"),
}


def grade(prediction: str, scoring: str, answer: str, options: Sequence[str] | None = None) -> bool:
    """Grade a generated answer by the sample's ``scoring`` (see ``manifest.SCORINGS``).

    A multiple-choice letter is accepted whenever the sample has options; list answers are
    the items of ``answer`` separated by ", "; ``letter`` compares the option letters that
    :func:`videorope.vruler.paper.answer_letter` reads from the reply and from the answer.
    """
    if scoring not in _GRADERS:
        raise ValueError(f"unknown scoring {scoring!r}")
    if options and _LETTER.match(prediction.strip()):
        return choice_match(prediction, options, answer)
    return _GRADERS[scoring](prediction, answer, options)


@dataclass(frozen=True)
class Aggregate:
    """Accuracy per (task, frame_count, depth) cell, per task, and the overall V-RULER score."""

    cells: dict[tuple[str, int, float], tuple[float, int]]
    tasks: dict[str, tuple[float, int]]
    overall: float | None
    """The mean over tasks (a V-RULER score); ``None`` when every task is an ``@paper`` preset."""

    def by_frames(self) -> dict[str, dict[int, float]]:
        """Accuracy per task and frame count, over all depths (weighted by samples)."""
        sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (task, frames, _), (accuracy, n) in self.cells.items():
            sums[task, frames][0] += accuracy * n
            sums[task, frames][1] += n
        out: dict[str, dict[int, float]] = {}
        for (task, frames), (total, n) in sorted(sums.items()):
            out.setdefault(task, {})[frames] = total / n
        return out

    def to_dict(self) -> dict:
        return {
            "overall": self.overall,
            "tasks": {t: {"accuracy": a, "samples": n} for t, (a, n) in self.tasks.items()},
            "cells": [
                {"task": t, "frame_count": f, "depth": d, "accuracy": a, "samples": n}
                for (t, f, d), (a, n) in sorted(self.cells.items())
            ],
        }


def is_preset(task: str) -> bool:
    """Whether ``task`` is an ``@paper`` preset (the original's construction and reports)."""
    return task.endswith("@paper")


def aggregate(results: Iterable[Mapping]) -> Aggregate:
    """Aggregate result records (each with ``task``, ``frame_count``, ``depth``, ``correct``)."""
    cells: dict[tuple[str, int, float], list[bool]] = defaultdict(list)
    tasks: dict[str, list[bool]] = defaultdict(list)
    for i, r in enumerate(results):
        try:
            key = (str(r["task"]), int(r["frame_count"]), float(r["depth"]))
            correct = bool(r["correct"])
        except KeyError as err:
            raise ValueError(f"result {i} lacks {err}; records need task, frame_count, depth, correct") from None
        cells[key].append(correct)
        tasks[key[0]].append(correct)
    if not tasks:
        raise ValueError("no results to aggregate")
    mean = {k: (sum(v) / len(v), len(v)) for k, v in tasks.items()}
    own = [a for k, (a, _) in mean.items() if not is_preset(k)]  # the original has no cross-task mean
    return Aggregate(
        cells={k: (sum(v) / len(v), len(v)) for k, v in cells.items()},
        tasks=mean,
        overall=sum(own) / len(own) if own else None,
    )
