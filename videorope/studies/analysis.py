"""The diagnostics as studies of a model: ``analyze(kind, config)`` writes ``KIND.json``,
``KIND.png`` and ``KIND.md`` in ``config.out`` and returns the JSON path.

Kinds that read attention on plain text use the first ``config.length`` tokens of
``config.text`` (default: Python's pydoc topics). Kinds that measure retrieval run NIAH
(:mod:`videorope.niah`) at ``config.lengths`` as a :class:`~videorope.studies.sweep.Sweep` in
``out/KIND/`` (one run per condition under ``out/KIND/runs/``) and resume. Methods are
scalings set for ``target_length`` as in :mod:`videorope.studies.extend`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from videorope import theory
from videorope.analysis.attention import attention_rows, entropy, js_divergence
from videorope.analysis.hooks import capture, mask_heads
from videorope.analysis.noise import BANDS, band_dims, inject_noise
from videorope.analysis.pairs import contribution_profile, positional_scores
from videorope.analysis.sink import sink_geometry
from videorope.io import atomic_path, one_writer
from videorope.niah import NiahConfig, read_samples, reply_ids
from videorope.niah import score as niah_score
from videorope.perplexity import text_ids
from videorope.registry import Registry
from videorope.studies.extend import load_method
from videorope.studies.sweep import Sweep, accuracy, publish
from videorope.viz import plot_curves, plot_lines, plot_matrix

__all__ = ["ANALYSES", "AnalyzeConfig", "Study", "analyze"]

ANALYSES = Registry("analysis")
"""Keyed by kind; ``fn(config, progress) -> Study``."""


@dataclass(frozen=True)
class AnalyzeConfig:
    """Settings shared by the kinds; each reads the ones it needs.

    ``methods``: scalings set for ``target_length`` (default: the longest length); entropy and
    sink compare them all (JS divergence against the first), the other kinds use the first.
    ``length``: tokens of text for the attention-geometry kinds (contributions, positional,
    ablation's head ranking; sink needs it beyond the training length). ``lengths`` and
    ``niah`` (overrides of :class:`~videorope.niah.NiahConfig` except ``lengths``): the NIAH
    sweep of ablation, noise and entropy. ``queries`` / ``keys``: positions sampled per
    sequence. ``fraction``: share of heads ablated. ``seeds``: random-head draws (ablation)
    and noise draws (noise). ``energy``: noise energy relative to each vector's."""

    model: str = "smollm2"
    methods: tuple[str, ...] = ("none",)
    target_length: int | None = None
    length: int = 4096
    lengths: tuple[int, ...] = (2048, 4096)
    niah: dict[str, Any] = field(default_factory=lambda: {"depths": 3})
    text: str | None = None
    queries: int = 64
    keys: int = 512
    fraction: float = 0.1
    seeds: int = 3
    energy: float = 0.5
    out: str = "analysis"

    def __post_init__(self) -> None:
        if not self.methods or not self.lengths:
            raise ValueError("methods and lengths must not be empty")
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction must lie in (0, 1), got {self.fraction}")
        if self.seeds < 1 or self.queries < 1 or self.keys < 1:
            raise ValueError("seeds, queries and keys must be positive")

    def load(self, method: str) -> tuple[Any, Any]:
        return load_method(self.model, method, self.target_length or max(self.length, *self.lengths))


@dataclass
class Study:
    """What a kind returns: JSON-ready ``data``, one ``figure`` and a markdown summary."""

    data: dict[str, Any]
    figure: Figure
    markdown: list[str]


@one_writer(lambda kind, config, *_, **__: config.out)
def analyze(kind: str, config: AnalyzeConfig, progress: bool = True) -> Path:
    """Run diagnostic ``kind`` (one of :data:`ANALYSES`); returns ``out/KIND.json``."""
    study: Study = ANALYSES[kind].fn(config, progress)
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "out"}
    data = {"kind": kind, "config": settings, **study.data}
    markdown = [*study.markdown, "", f"![{kind}]({kind}.png)", ""]
    return publish(config.out, kind, data, {f"{kind}.png": study.figure}, markdown).with_suffix(".json")


def _text_capture(config: AnalyzeConfig, model: Any, tokenizer: Any):
    return capture(model, text_ids(tokenizer, config.text, config.length), config.queries)


def _sweep(config: AnalyzeConfig, kind: str, tokenizer: Any, progress: bool) -> Sweep:
    """The kind's NIAH sweep in ``out/<kind>`` (one method per condition)."""
    niah = dataclasses.replace(NiahConfig(**config.niah), lengths=tuple(config.lengths))
    return Sweep(Path(config.out) / kind, tokenizer, niah, progress)


def _niah(config: AnalyzeConfig, kind: str, condition: str, setting: Any, model: Any, tokenizer: Any, progress: bool):
    """NIAH accuracy per length of ``model`` as it stands (hooks included). The run resumes
    only if its model, ``condition`` and ``setting`` (what the hook does) are the same."""
    key = {"model": config.model, "condition": condition, "setting": setting}
    return accuracy(_sweep(config, kind, tokenizer, progress).niah_scores(condition, model, key))


def _mean_curve(curves: list[dict[int, float]]) -> dict[int, float]:
    return {n: sum(c[n] for c in curves) / len(curves) for n in curves[0]}


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |" for row in rows
    ]


def _register(kind: str, summary: str, paper: str) -> Callable:
    return ANALYSES.register(kind, paper=paper, summary=summary)


@_register("contributions", "share of each rotary pair in the |logit| mass, per layer", "REFERENCE section 5")
def _contributions(config: AnalyzeConfig, progress: bool) -> Study:
    model, tokenizer = config.load(config.methods[0])
    profile = contribution_profile(_text_capture(config, model, tokenizer), config.keys)
    critical = theory.report(model.config).critical_dimension
    above = profile[:, critical // 2 :].sum(-1)
    data = {"method": config.methods[0], "length": config.length, "critical_dimension": critical,
            "profile": profile.tolist(), "share_above_critical": above.tolist()}  # fmt: skip
    figure = plot_matrix(profile, f"{config.model}: share of |q.k| per rotary pair ({config.length} tokens)",
                         "rotary pair (0 = fastest)", "layer", "share of |logit| mass",
                         vline=critical / 2 - 0.5)  # fmt: skip
    md = [f"# Pair contributions: {config.model}", "",
          f"Critical dimension {critical} (pairs {critical // 2} and up never complete a period in training, "
          f"dashed line). Share of the |logit| mass above it, mean over layers: {above.mean():.3f}.", "",
          *_table(["layer", "share above critical"], [[i, float(v)] for i, v in enumerate(above)])]  # fmt: skip
    return Study(data, figure, md)


def _ranked(scores: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    heads = [(layer, head) for layer in range(scores["score"].shape[0]) for head in range(scores["score"].shape[1])]
    ranked = sorted(heads, key=lambda lh: -torch.nan_to_num(scores["score"][lh], nan=-2.0).item())
    score, dominant = scores["score"], scores["dominant"]
    return [{"layer": i, "head": h, "score": score[i, h].item(), "dominant": dominant[i, h].item()} for i, h in ranked]


@_register("positional", "positional-head score (Spearman of distance vs dominant dimension)", "token-distance paper")
def _positional(config: AnalyzeConfig, progress: bool) -> Study:
    model, tokenizer = config.load(config.methods[0])
    scores = positional_scores(_text_capture(config, model, tokenizer), config.keys)
    ranked = _ranked(scores)
    data = {"method": config.methods[0], "length": config.length, "score": scores["score"].tolist(),
            "dominant": scores["dominant"].tolist(), "ranked": ranked}  # fmt: skip
    figure = plot_matrix(scores["score"], f"{config.model}: positional-head score ({config.length} tokens)",
                         "head", "layer", "Spearman(distance, dominant dim)", cmap="RdBu_r", center=True)  # fmt: skip
    top = [[r["layer"], r["head"], r["score"], r["dominant"]] for r in ranked[:15]]
    md = [f"# Positional heads: {config.model}", "", f"Top 15 of {len(ranked)} heads ({config.length} tokens).", "",
          *_table(["layer", "head", "score", "mean dominant pair"], top)]  # fmt: skip
    return Study(data, figure, md)


@_register("ablation", "NIAH with the top positional heads masked vs as many random heads", "token-distance paper")
def _ablation(config: AnalyzeConfig, progress: bool) -> Study:
    model, tokenizer = config.load(config.methods[0])
    ranked = _ranked(positional_scores(_text_capture(config, model, tokenizer), config.keys))
    count = max(1, round(config.fraction * len(ranked)))
    every = [(r["layer"], r["head"]) for r in ranked]
    conditions = {"none": [], "positional": every[:count]}
    conditions |= {f"random-{s}": random.Random(s).sample(every, count) for s in range(config.seeds)}
    accuracy = {}
    for name, heads in tqdm(conditions.items(), desc="ablation", disable=not progress):
        with mask_heads(model, heads):
            accuracy[name] = _niah(config, "ablation", name, heads, model, tokenizer, progress)
    random_mean = _mean_curve([accuracy[f"random-{s}"] for s in range(config.seeds)])
    data = {"method": config.methods[0], "heads_masked": count, "heads": conditions,
            "accuracy": accuracy, "random_mean": random_mean}  # fmt: skip
    curves = {"no ablation": accuracy["none"], f"top {count} positional heads": accuracy["positional"],
              f"{count} random heads (mean of {config.seeds})": random_mean}  # fmt: skip
    figure = plot_curves(curves, f"{config.model}: NIAH with heads ablated", "tokens")
    lengths = sorted(accuracy["none"])
    md = [
        f"# Head ablation: {config.model}",
        "",
        f"{count} of {len(ranked)} heads masked; NIAH accuracy (%) per length.",
        "",
        *_table(
            ["heads masked", *map(str, lengths)],
            [[k, *(100 * c[n] for n in lengths)] for k, c in {**accuracy, "random mean": random_mean}.items()],
        ),
    ]
    return Study(data, figure, md)


@_register("noise", "NIAH with equal-energy noise below vs above the critical dimension", "REFERENCE section 4")
def _noise(config: AnalyzeConfig, progress: bool) -> Study:
    model, tokenizer = config.load(config.methods[0])
    rope = theory.report(model.config)
    accuracy = {"clean": _niah(config, "noise", "clean", None, model, tokenizer, progress)}
    for band in BANDS:
        dims = band_dims(rope.rotary_dim, rope.critical_dimension, band)
        for seed in range(config.seeds):
            with inject_noise(model, dims, config.energy, seed):
                setting = {"dims": dims.tolist(), "energy": config.energy, "seed": seed}
                accuracy[f"{band}-{seed}"] = _niah(
                    config, "noise", f"{band}-{seed}", setting, model, tokenizer, progress
                )
    means = {band: _mean_curve([accuracy[f"{band}-{s}"] for s in range(config.seeds)]) for band in BANDS}
    data = {"method": config.methods[0], "critical_dimension": rope.critical_dimension, "energy": config.energy,
            "accuracy": accuracy, "mean": means}  # fmt: skip
    curves = {"clean": accuracy["clean"], **{f"noise {b} critical dim": means[b] for b in BANDS}}
    figure = plot_curves(curves, f"{config.model}: NIAH with q/k noise (energy {config.energy:g})", "tokens")
    lengths = sorted(accuracy["clean"])
    md = [
        f"# Noise injection: {config.model}",
        "",
        f"Gaussian noise of {config.energy:g} x each q and k vector's energy, on the pairs below or above the "
        f"critical dimension {rope.critical_dimension}; NIAH accuracy (%), mean of {config.seeds} noise draws.",
        "",
        *_table(
            ["condition", *map(str, lengths)],
            [[k, *(100 * c[n] for n in lengths)] for k, c in {"clean": accuracy["clean"], **means}.items()],
        ),
    ]
    return Study(data, figure, md)


@torch.no_grad()
def _sample_attention(model: Any, tokenizer: Any, sample: dict) -> dict[str, Any]:
    """Greedy reply to a NIAH sample; entropy (layers, H) of the attention of the queries that
    produced it and their mean attention over the prompt (layers, H, P)."""
    (prompt,), reply = reply_ids(model, tokenizer, [sample])
    out, P = reply[0].tolist(), len(prompt)
    cap = capture(model, prompt + out[:-1], range(P - 1, P - 1 + len(out)))
    ent, dist = [], []
    for layer in range(len(cap.q)):
        rows = attention_rows(cap, layer)
        ent.append(entropy(rows).mean(-1))
        mean = rows[..., :P].mean(1)
        dist.append((mean / mean.sum(-1, keepdim=True)).half())
    score = niah_score(tokenizer.decode(out, skip_special_tokens=True), sample["answers"])
    return {"entropy": torch.stack(ent), "dist": torch.stack(dist), "score": score, "length": sample["length"]}


@_register("entropy", "attention entropy over generated tokens per head; JS divergence between methods", "Zhong 2024")
def _entropy(config: AnalyzeConfig, progress: bool) -> Study:
    runs: dict[str, dict[str, dict]] = {}
    for method in config.methods:
        model, tokenizer = config.load(method)
        samples = read_samples(_sweep(config, "entropy", tokenizer, progress).samples())
        runs[method] = {}
        for sample in tqdm(samples, desc=f"entropy {method}", disable=not progress):
            path = Path(config.out) / "entropy" / method / f"{sample['id']}.pt"
            if not path.is_file():
                with atomic_path(path) as tmp:
                    torch.save(_sample_attention(model, tokenizer, sample), tmp)
            runs[method][sample["id"]] = torch.load(path, weights_only=True)
    reference = config.methods[0]
    methods = {}
    for method, records in runs.items():
        by_length: dict[int, list] = {}
        for sid, r in records.items():
            js = js_divergence(r["dist"].float(), runs[reference][sid]["dist"].float())
            by_length.setdefault(r["length"], []).append((r["entropy"], js, r["score"]))
        hits = [r["entropy"].mean().item() for r in records.values() if r["score"] == 1]
        misses = [r["entropy"].mean().item() for r in records.values() if r["score"] < 1]
        methods[method] = {
            "head_entropy": {n: torch.stack([e for e, _, _ in v]).mean(0).tolist() for n, v in by_length.items()},
            "mean_entropy": {n: torch.stack([e for e, _, _ in v]).mean().item() for n, v in by_length.items()},
            f"js_vs_{reference}": {n: torch.stack([j for _, j, _ in v]).mean().item() for n, v in by_length.items()},
            "accuracy": {n: sum(s for _, _, s in v) / len(v) for n, v in by_length.items()},
            "entropy_retrieved": sum(hits) / len(hits) if hits else None,
            "entropy_missed": sum(misses) / len(misses) if misses else None,
        }  # fmt: skip
    figure = plot_lines({m: r["mean_entropy"] for m, r in methods.items()}, f"{config.model}: attention entropy",
                        "tokens", "mean entropy over heads (nats)")  # fmt: skip
    lengths = sorted(methods[reference]["mean_entropy"])
    md = [
        f"# Attention entropy: {config.model}",
        "",
        "Mean entropy (nats) of the attention of the queries that generated each NIAH reply; JS divergence of "
        f"the mean attention over the prompt against {reference}, per head, averaged.",
        "",
        *_table(
            [
                "method",
                *(f"entropy {n}" for n in lengths),
                *(f"JS {n}" for n in lengths),
                "entropy retrieved",
                "entropy missed",
            ],
            [
                [
                    m,
                    *(r["mean_entropy"][n] for n in lengths),
                    *(r[f"js_vs_{reference}"][n] for n in lengths),
                    r["entropy_retrieved"] or "-",
                    r["entropy_missed"] or "-",
                ]
                for m, r in methods.items()
            ],
        ),
    ]
    return Study({"reference": reference, "methods": methods}, figure, md)


@_register(
    "sink", "first-token norms, key-cloud first singular direction, sink attention within vs beyond L", "Frayed RoPE"
)
def _sink(config: AnalyzeConfig, progress: bool) -> Study:
    methods, curves = {}, {}
    for method in tqdm(config.methods, desc="sink", disable=not progress):
        model, tokenizer = config.load(method)
        train = theory.report(model.config).train_length
        if config.length <= train:
            raise ValueError(f"sink needs length beyond the training length {train}; pass e.g. --length {2 * train}")
        cap = _text_capture(config, model, tokenizer)
        geometry = {k: v.tolist() for k, v in sink_geometry(cap, train).items()}
        means = {k: torch.tensor(v).nanmean().item() for k, v in geometry.items()}
        methods[method] = {"per_head": geometry, "mean": means}
        for name in ("key_share_within", "key_share_beyond", "sink_mass_within", "sink_mass_beyond"):
            curves[f"{method} {name}"] = dict(enumerate(torch.tensor(geometry[name]).mean(-1).tolist()))
    figure = plot_lines(curves, f"{config.model}: sink geometry ({config.length} tokens)", "layer",
                        "mean over heads", log_x=False)  # fmt: skip
    names = list(next(iter(methods.values()))["mean"])
    md = [f"# Sink geometry: {config.model}", "", f"{config.length} tokens of text; means over layers and heads.", "",
          *_table(["method", *names], [[m, *(r["mean"][n] for n in names)] for m, r in methods.items()])]  # fmt: skip
    return Study({"length": config.length, "train_length": train, "methods": methods}, figure, md)
