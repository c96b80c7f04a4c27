"""Length extension, measured against the critical-dimension prediction (REFERENCE sections 3-4).

For each extension method (a registered scaling, set for a target length) the study measures
NIAH accuracy (:mod:`videorope.niah`) and perplexity at each context length, and reports the
measured effective length (RULER's rule: the longest length up to which accuracy stays at
least 85%) beside :func:`videorope.theory.extrapolation_bound` of the unmodified model and
the target each method was set for. Every result is a file in ``out``; a re-run resumes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

import videorope
from videorope import theory
from videorope.io import one_writer
from videorope.models import load_model, load_text_config, load_tokenizer
from videorope.niah import NiahConfig
from videorope.perplexity import perplexity, text_ids
from videorope.studies.sweep import Sweep, accuracy, publish
from videorope.viz import plot_curves

__all__ = ["ExtendConfig", "effective_length", "load_method", "method_options", "run_extend"]

THRESHOLD = 0.85
"""RULER's effective-length threshold (Llama-2-7B's score at 4K)."""


@dataclass(frozen=True)
class ExtendConfig:
    """The study: ``methods`` (scalings; ``none`` is the model as trained) set for
    ``target_length`` (default: the longest length), measured at ``lengths`` with NIAH
    (``niah`` overrides :class:`~videorope.niah.NiahConfig` fields except ``lengths``) and
    perplexity on ``text`` (a UTF-8 file; default :func:`videorope.perplexity.default_text`)."""

    model: str = "smollm2"
    methods: tuple[str, ...] = ("none", "linear", "ntk", "dynamic", "yarn", "critical-ntk")
    lengths: tuple[int, ...] = (4096, 8192, 12288, 16384)
    target_length: int | None = None
    niah: dict[str, Any] = field(default_factory=lambda: {"depths": 3})
    text: str | None = None
    out: str = "extend"

    def __post_init__(self) -> None:
        if not self.methods or not self.lengths:
            raise ValueError("methods and lengths must not be empty")


def method_options(method: str, train_length: int, target_length: int) -> dict[str, Any]:
    """``videorope.apply`` options that set ``method`` for ``target_length``: the factor
    ``target / train`` for linear, ntk, dynamic and yarn, the target for critical-ntk."""
    if method == "none":
        return {}
    if method == "critical-ntk":
        return {"scaling": method, "target_length": target_length}
    return {"scaling": method, "factor": max(1.0, target_length / train_length)}


def effective_length(accuracy: dict[int, float], threshold: float = THRESHOLD) -> int | None:
    """The longest length up to which every measured accuracy is at least ``threshold``
    (``None`` if the shortest already falls below)."""
    best = None
    for length in sorted(accuracy):
        if accuracy[length] < threshold:
            break
        best = length
    return best


def load_method(name: str, method: str, target_length: int) -> tuple[Any, Any]:
    """(model, tokenizer) of ``name`` (see :func:`~videorope.models.load_model`) with ``method``
    set for ``target_length``, in eval mode."""
    model, tokenizer = load_model(name, attn_implementation="sdpa")
    options = method_options(method, theory.report(model.config).train_length, target_length)
    return (videorope.apply(model, **options) if options else model).eval(), tokenizer


@one_writer(lambda config, *_, **__: config.out)
def run_extend(config: ExtendConfig, progress: bool = True) -> Path:
    """Run (or resume) the study; returns ``out/extend.md`` (``extend.json`` and curves beside)."""
    tokenizer, rope = load_tokenizer(config.model), theory.report(load_text_config(config.model))
    train_length, target = rope.train_length, config.target_length or max(config.lengths)
    predicted = {"head_dim": rope.rotary_dim, "rope_theta": rope.base, "train_length": train_length,
                 "critical_dimension": rope.critical_dimension,
                 "extrapolation_bound": round(rope.extrapolation_bound)}  # fmt: skip
    ids = text_ids(tokenizer, config.text, max(config.lengths))
    sweep = Sweep(config.out, tokenizer, dataclasses.replace(NiahConfig(**config.niah), lengths=config.lengths),
                  progress)  # fmt: skip
    methods = {}
    for method in tqdm(config.methods, desc="methods", disable=not progress):
        model, _ = load_method(config.model, method, target)
        options = method_options(method, train_length, target)
        by_length = accuracy(sweep.niah_scores(method, model, config.model))
        key = {"model": config.model, "method": options, "text": config.text}
        ppl = sweep.perplexity(method, key, lambda n, model=model: perplexity(model, ids[:n]))
        methods[method] = {"options": options, "niah": by_length,
                           "perplexity": ppl, "effective_length": effective_length(by_length)}  # fmt: skip
    summary = {"model": config.model, "target_length": target, "predicted": predicted, "methods": methods}
    curves = {m: r["niah"] for m, r in methods.items()}
    figure = plot_curves(curves, "NIAH accuracy vs length", "tokens", train_length)
    return publish(config.out, "extend", summary, {"niah.png": figure}, _markdown(summary, config))


def _markdown(summary: dict[str, Any], config: ExtendConfig) -> list[str]:
    p = summary["predicted"]
    lengths = sorted(config.lengths)
    lines = [
        f"# Length extension: {summary['model']}",
        "",
        f"Trained at {p['train_length']} tokens; head_dim {p['head_dim']}, rope_theta {p['rope_theta']:g}. Critical "
        f"dimension {p['critical_dimension']}, predicted extrapolation bound {p['extrapolation_bound']} tokens. "
        f"Methods set for {summary['target_length']} tokens. NIAH: mean string-match score (%); effective "
        f"length: the longest length up to which it stays at least {100 * THRESHOLD:.0f}%.",
        "",
        "| method | "
        + " | ".join(f"NIAH {n}" for n in lengths)
        + " | effective length | "
        + " | ".join(f"ppl {n}" for n in lengths)
        + " |",
        "|---|" + "---|" * (2 * len(lengths) + 1),
    ]
    for method, r in summary["methods"].items():
        niah = " | ".join(f"{100 * r['niah'][n]:.0f}" for n in lengths)
        ppl = " | ".join(f"{r['perplexity'][n]:.2f}" for n in lengths)
        lines.append(f"| {method} | {niah} | {r['effective_length'] or '-'} | {ppl} |")
    return [*lines, "", "![NIAH accuracy vs length](niah.png)", ""]
