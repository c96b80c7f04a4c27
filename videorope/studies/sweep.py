"""The one resumable length x method sweep that the text studies share, and their writer.

A :class:`Sweep` over one tokenizer and one NIAH configuration (lengths included) lays out
its folder as::

    out/niah/                   samples, generated once for the tokenizer
    out/runs/<method>/          replies and scores (run.json, results.jsonl)
    out/runs/<method>/perplexity.json   perplexity by length

A method is a name and a ``key`` (JSON-able: what identifies it, e.g. model, options, hooks,
cache). A re-run keeps every finished result of a method whose key is unchanged and starts a
method whose key changed over. :func:`publish` writes a study's JSON, figures and markdown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from videorope.io import atomic_path, read_by_length, write_by_length, write_json
from videorope.niah import NiahConfig, evaluate, generate, read_results
from videorope.viz import save_figure

__all__ = ["Sweep", "accuracy", "publish"]

Scores = dict[int, dict[str, float]]
"""length -> sample id -> score."""


class Sweep:
    """NIAH replies and perplexity per method and length, resumable (layout in the module docstring)."""

    def __init__(self, out: str | Path, tokenizer: Any, niah: NiahConfig, progress: bool = True):
        self.out, self.tokenizer, self.niah, self.progress = Path(out), tokenizer, niah, progress
        self._samples: Path | None = None

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(self.niah.lengths)

    def samples(self) -> Path:
        """The NIAH samples file (generated on first use; reused when it matches)."""
        if self._samples is None:
            self._samples = generate(self.niah, self.tokenizer, self.out / "niah", progress=self.progress)
        return self._samples

    def run(self, method: str) -> Path:
        """The run folder of ``method`` (spaces and colons become dashes)."""
        return self.out / "runs" / method.replace(" ", "-").replace(":", "-")

    def niah_scores(self, method: str, model: Any, key: Any, **evaluate_options: Any) -> Scores:
        """Scores of ``model`` as it stands (hooks and ``cache`` included; ``evaluate_options``
        go to :func:`videorope.niah.evaluate`), by length and sample id."""
        name = key if isinstance(key, str) else json.dumps(key)
        results = evaluate(model, self.tokenizer, self.samples(), self.run(method), name=name,
                           progress=self.progress, **evaluate_options)  # fmt: skip
        scores: Scores = {}
        for r in read_results(results):
            scores.setdefault(r["length"], {})[r["id"]] = r["score"]
        return dict(sorted(scores.items()))

    def perplexity(self, method: str, key: Any, measure: Callable[[int], float]) -> dict[int, float]:
        """``measure(length)`` at every length, each saved as soon as it is measured."""
        path = self.run(method) / "perplexity.json"
        values = read_by_length(path, key)
        for length in self.lengths:
            if length not in values:
                values[length] = measure(length)
                write_by_length(path, key, values)
        return {n: values[n] for n in self.lengths}


def accuracy(scores: Scores) -> dict[int, float]:
    """Mean score per length over every task and depth."""
    return {n: sum(by_id.values()) / len(by_id) for n, by_id in sorted(scores.items())}


def publish(out: str | Path, stem: str, data: Mapping[str, Any], figures: Mapping[str, Figure],
            markdown: list[str]) -> Path:  # fmt: skip
    """Write ``out/stem.json``, each figure to ``out/<its file name>`` and ``out/stem.md``
    (atomically); returns the markdown's path."""
    out = Path(out)
    write_json(out / f"{stem}.json", dict(data))
    for name, figure in figures.items():
        save_figure(figure, out / name)
    path = out / f"{stem}.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(markdown))
    return path
