"""FourierAttention as a study of a model: calibrate a channel plan, then weigh memory against
accuracy beside the full cache, StreamingLLM and SnapKV.

:func:`calibrate_model` writes the plan (JSON) and a plot of where its kept K channels sit
against the critical dimension. :func:`run_eval` runs NIAH (:mod:`videorope.niah`) and a
continuation perplexity per cache; StreamingLLM and SnapKV get the token budget that holds
as many bytes as the first FourierAttention variant at the longest length. Each NIAH
accuracy carries its 95% interval and its paired difference from the full cache. Every
NIAH run and perplexity resumes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from videorope import theory
from videorope.cache.calibrate import CALIBRATIONS, channel_errors, kept_vs_critical
from videorope.cache.fourier import FourierOptions, expected_nbytes
from videorope.cache.plan import FourierPlan, kv_shape, schedule
from videorope.cache.policies import build_cache
from videorope.io import one_writer
from videorope.models import load_model
from videorope.niah import NiahConfig, generate
from videorope.niah.samples import encode_prompt, read_samples
from videorope.perplexity import continuation_perplexity, text_ids
from videorope.stats import paired_difference, wilson
from videorope.studies.sweep import Sweep, publish
from videorope.viz import plot_lines, plt, save_figure

__all__ = ["RECIPES", "REPLY", "FourierEvalConfig", "Recipe", "calibrate_model", "run_eval"]

REPLY = 64
"""Tokens planned beyond a NIAH prompt (the reply)."""


@dataclass(frozen=True)
class Recipe:
    """FourierAttention end to end: ``calibration`` (a name in
    :data:`~videorope.cache.calibrate.CALIBRATIONS`), ``period`` (``prompt``: prompt + planned
    new tokens - sinks - window, per prompt, as the released code; ``fixed``: the longest
    length + the reply or the perplexity tail, whichever is longer, for every prompt),
    ``affine`` and ``stream_offset``
    (:class:`~videorope.cache.FourierOptions`)."""

    calibration: str
    period: str
    affine: bool
    stream_offset: int


RECIPES = {
    "original": Recipe("original", "prompt", True, 1),
    "videorope": Recipe("videorope", "fixed", False, 0),
    "original-noaffine": Recipe("original", "prompt", False, 1),
    "original-fixed": Recipe("original", "fixed", True, 1),
}
"""FourierAttention settings by name: the released code's (``original``), videorope's earlier
default (``videorope``: cache keys after RoPE, per-head counts, fixed period, no affine), and
the original with one choice changed."""


def parse_variant(spec: str) -> tuple[str, str]:
    """``schedule@recipe`` (recipe default ``original``) -> (schedule, recipe), both checked."""
    schedule_spec, _, recipe = spec.partition("@")
    recipe = recipe or "original"
    if recipe not in RECIPES:
        raise ValueError(f"unknown FourierAttention recipe {recipe!r} in {spec!r}; known: {', '.join(RECIPES)}")
    schedule(schedule_spec, 1)
    return schedule_spec, recipe


@dataclass(frozen=True)
class FourierEvalConfig:
    """``variants``: FourierAttention settings to compare, each ``schedule@recipe``
    (``inverted-pyramid@original``, ``uniform:0.5@videorope``; :data:`RECIPES`); the first sets
    the memory of the StreamingLLM and SnapKV rows. ``lengths``: NIAH and perplexity lengths
    (tokens); ``niah``: overrides of :class:`~videorope.niah.NiahConfig` except ``lengths``.
    ``calibration``: prompts per NIAH task (task prompts, seed + 1) or text pieces that
    calibrate the plans, at the longest length. ``tail``: tokens scored by the perplexity."""

    model: str = "smollm2"
    variants: tuple[str, ...] = ("inverted-pyramid@original", "inverted-pyramid@videorope")
    baselines: tuple[str, ...] = ("streaming", "snapkv")
    lengths: tuple[int, ...] = (4096, 8192)
    niah: dict[str, Any] = field(
        default_factory=lambda: {"depths": 5, "samples_per_cell": 2, "tasks": {"single": {}, "multikey": {}}}
    )
    sinks: int = 4
    window: int = 1020
    frequencies: int = 512
    calibration: int = 2
    tail: int = 256
    text: str | None = None
    out: str = "fourier"

    def __post_init__(self) -> None:
        if not self.variants or not self.lengths:
            raise ValueError("variants and lengths must not be empty")
        for spec in self.variants:
            self.options(parse_variant(spec)[1], REPLY)  # validates sinks, window, frequencies

    def options(self, recipe: str, new_tokens: int) -> FourierOptions:
        """The cache options of ``recipe`` for prompts followed by ``new_tokens`` tokens."""
        r = RECIPES[recipe]
        period = {"max_length": max(self.lengths) + max(REPLY, self.tail)} if r.period == "fixed" else \
            {"max_new_tokens": new_tokens}  # fmt: skip
        return FourierOptions(sinks=self.sinks, window=self.window, frequencies=self.frequencies, affine=r.affine,
                              stream_offset=r.stream_offset, **period)  # fmt: skip


def _text_prompts(tokenizer: Any, text: str | None, length: int, count: int) -> list[torch.Tensor]:
    """``count`` consecutive ``length``-token pieces of the text."""
    ids = text_ids(tokenizer, text, length * count)
    return list(ids.view(count, length))


def _task_prompts(tokenizer: Any, niah: NiahConfig, length: int, count: int, out: Path) -> list[torch.Tensor]:
    """``count`` NIAH prompts per task at ``length`` tokens, drawn with another seed than the eval's."""
    config = dataclasses.replace(niah, lengths=(length,), depths=count, samples_per_cell=1, seed=niah.seed + 1)
    samples = read_samples(generate(config, tokenizer, out, progress=False))
    return [torch.tensor(encode_prompt(tokenizer, s["prompt"], s["chat"])) for s in samples]


def _plot_kept(report: dict[str, Any], title: str, out: Path) -> None:
    counts = dict(enumerate(report["kept_per_pair"]))
    fig = plot_lines({"kept K channels": counts}, title, "rotary pair (0 = highest frequency)",
                     "kept channels (all layers and heads)", log_x=False)  # fmt: skip
    ax = fig.axes[0]
    ax.axvline(report["critical_dim"] / 2 - 0.5, color="0.5", linestyle="--", label="critical dimension")
    ax.axhline(sum(counts.values()) / len(counts), color="0.3", linestyle=":", label="the same count in every pair")
    ax.legend()
    save_figure(fig, out)


def _write_plan(errors: tuple[torch.Tensor, torch.Tensor], spec: str, rank: str, critical_dim: int,
                meta: dict[str, Any], out: Path) -> dict[str, Any]:  # fmt: skip
    """Plan ``spec`` from the channel errors, saved to ``out`` with its placement plot (.png)."""
    plan = FourierPlan.from_errors(*errors, spec, rank, **meta)
    report = kept_vs_critical(plan, critical_dim)
    plan.meta["kept_vs_critical"] = report
    plan.save(out)
    share = 100 * report["kept_low_frequency_share"]
    _plot_kept(report, f"{meta['model']} {spec} ({meta['calibration']} calibration):\n{share:.0f}% of kept K "
                       f"channels beyond the critical dimension ({100 * report['chance_share']:.0f}% by chance)",
               out.with_suffix(".png"))  # fmt: skip
    return {**report, "compressed_fraction": plan.compressed_fraction()}


def _calibrate(model: Any, name: str, prompts: list[torch.Tensor], options: FourierOptions, recipe: str,
               specs: Sequence[str], outs: Sequence[Path], progress: bool) -> list[dict[str, Any]]:  # fmt: skip
    """Score the channels once with calibration ``recipe``; write one plan per schedule."""
    calibration = CALIBRATIONS[recipe]
    errors = channel_errors(model, prompts, options, calibration, progress)
    meta = {"model": name, "frequencies": options.frequencies, "sinks": options.sinks, "window": options.window,
            "calibration": recipe, "prompts": [len(p) for p in prompts]}  # fmt: skip
    critical = theory.report(model.config).critical_dimension
    return [_write_plan(errors, spec, calibration.rank, critical, meta, out)
            for spec, out in zip(specs, outs, strict=True)]  # fmt: skip


def calibrate_model(
    model_name: str, out: str | Path, options: FourierOptions, spec: str = "inverted-pyramid",
    recipe: str = "original", prompts: int = 2, text: str | None = None, length: int = 8192,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Calibrate a plan for ``model_name`` with calibration ``recipe`` on ``prompts`` prompts of
    ``length`` tokens (NIAH task prompts for a recipe that takes them, else pieces of the
    text); write it to ``out`` (JSON) and ``out`` with ``.png`` (kept K channels per rotary pair
    vs the critical dimension). Returns where the kept K channels fall."""
    model, tokenizer = load_model(model_name, attn_implementation="sdpa")
    out = Path(out)
    if CALIBRATIONS[recipe].prompts == "task":
        ids = _task_prompts(tokenizer, NiahConfig(tasks={"single": {}, "multikey": {}}), length, prompts,
                            out.with_suffix(".prompts"))  # fmt: skip
    else:
        ids = _text_prompts(tokenizer, text, length, prompts)
    return _calibrate(model.eval(), model_name, ids, options, recipe, (spec,), [out], progress)[0]


def _plan_path(out: Path, schedule_spec: str, calibration: str) -> Path:
    return out / "plans" / f"{schedule_spec.replace(':', '-')}@{calibration}.json"


def _plans(config: FourierEvalConfig, model: Any, tokenizer: Any, niah: NiahConfig, out: Path,
           progress: bool) -> dict[tuple[str, str], FourierPlan]:  # fmt: skip
    """(schedule, calibration) -> plan, for every variant; calibrated once per calibration
    recipe (reused from ``out/plans`` when calibrated with the same settings)."""
    longest, wanted = max(config.lengths), {}
    for spec in config.variants:
        schedule_spec, recipe = parse_variant(spec)
        wanted.setdefault(RECIPES[recipe].calibration, {})[schedule_spec] = recipe
    plans = {}
    for calibration, specs in wanted.items():
        options = config.options(next(iter(specs.values())), REPLY)
        if CALIBRATIONS[calibration].prompts == "task":
            prompts = _task_prompts(tokenizer, niah, longest, config.calibration, out / "calibration")
        else:
            prompts = _text_prompts(tokenizer, config.text, options.for_prompt(longest).max_length, config.calibration)
        paths = [_plan_path(out, spec, calibration) for spec in specs]
        want = {"model": config.model, "frequencies": options.frequencies, "sinks": options.sinks,
                "window": options.window, "calibration": calibration, "prompts": [len(p) for p in prompts]}  # fmt: skip
        if not all(p.is_file() and all(FourierPlan.load(p).meta.get(k) == v for k, v in want.items()) for p in paths):
            _calibrate(model, config.model, prompts, options, calibration, list(specs), paths, progress)
        plans |= {(spec, calibration): FourierPlan.load(path) for spec, path in zip(specs, paths, strict=True)}
    return plans


def _methods(config: FourierEvalConfig, model: Any, plans: dict[tuple[str, str], FourierPlan]) -> dict[str, dict]:
    """name -> {policy, options (JSON-able), recipe, plan, bytes at the longest length}: the
    full cache, the first variant and the baselines at its memory, then the other variants."""
    longest, dtype = max(config.lengths), model.dtype
    layers, heads, head_dim = kv_shape(model.config)
    per_token = 2 * layers * heads * head_dim * torch.finfo(dtype).bits // 8
    fouriers = {}
    for spec in config.variants:
        schedule_spec, recipe = parse_variant(spec)
        plan, options = plans[(schedule_spec, RECIPES[recipe].calibration)], config.options(recipe, REPLY)
        settings = dataclasses.asdict(options) | {"coefficient_dtype": str(options.coefficient_dtype)}
        fouriers[f"fourier {schedule_spec}@{recipe}"] = {
            "policy": "fourier", "options": {"schedule": schedule_spec, "recipe": recipe, **settings},
            "plan": plan, "recipe": recipe, "compressed": plan.compressed_fraction(),
            "bytes": expected_nbytes(plan, options.for_prompt(longest), longest, dtype)}  # fmt: skip
    first, *others = fouriers.items()  # the comparison at equal memory first, other variants after
    budget = round(first[1]["bytes"] / per_token)
    baselines = {policy: {"policy": policy, "options": {"budget": budget}, "bytes": per_token * min(budget, longest)}
                 for policy in config.baselines}  # fmt: skip
    return {"full": {"policy": "full", "options": {}, "bytes": per_token * longest}, first[0]: first[1], **baselines,
            **dict(others)}  # fmt: skip


def _cache_fn(config: FourierEvalConfig, model: Any, method: dict[str, Any], new_tokens: int):
    """``cache(attention_mask)`` for one method, planned for ``new_tokens`` after each prompt."""
    if method["policy"] != "fourier":
        return lambda mask: build_cache(method["policy"], model, mask, **method["options"])
    options = dataclasses.asdict(config.options(method["recipe"], new_tokens))
    return lambda mask: build_cache("fourier", model, mask, plan=method["plan"], **options)


@one_writer(lambda config, *_, **__: config.out)
def run_eval(config: FourierEvalConfig, progress: bool = True) -> Path:
    """Run (or resume) the comparison; returns ``out/fourier.md`` (``fourier.json`` and
    ``memory.png`` beside it)."""
    out = Path(config.out)
    model, tokenizer = load_model(config.model, attn_implementation="sdpa")
    model.eval()
    sweep = Sweep(out, tokenizer, dataclasses.replace(NiahConfig(**config.niah), lengths=config.lengths), progress)
    plans = _plans(config, model, tokenizer, sweep.niah, out, progress)
    skip = config.calibration * (max(config.lengths) + max(REPLY, config.tail))  # text no calibration saw
    text = text_ids(tokenizer, config.text, skip + max(config.lengths))[skip:]
    results = {}
    for name, m in tqdm(_methods(config, model, plans).items(), desc="caches", disable=not progress):
        label = json.dumps({"model": config.model, "policy": m["policy"], "options": m["options"]})
        scores = sweep.niah_scores(name, model, label, max_new_tokens=None, cache=_cache_fn(config, model, m, REPLY))

        def measure(length: int, m: dict = m) -> float:
            cache = _cache_fn(config, model, m, config.tail)(None)
            return continuation_perplexity(model, text[:length], length - config.tail, cache)

        ppl = sweep.perplexity(name, {"cache": label, "text": config.text, "tail": config.tail}, measure)
        measured = {
            "niah": {str(n): by_id for n, by_id in scores.items()},
            "perplexity": {str(n): v for n, v in ppl.items()},
        }
        results[name] = {k: v for k, v in m.items() if k != "plan"} | measured
    summary = {"model": config.model, "lengths": list(config.lengths), "full_bytes": results["full"]["bytes"],
               "settings": dataclasses.asdict(config), "methods": _with_intervals(results)}  # fmt: skip
    return publish(out, "fourier", summary, {"memory.png": _plot_memory(summary)}, _markdown(summary))


def _with_intervals(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method and length: NIAH accuracy with its Wilson 95% interval, and the paired
    difference from the full cache on the same samples (bootstrap 95% interval)."""
    full = results["full"]["niah"]
    for r in results.values():
        r["accuracy"], r["vs_full"] = {}, {}
        for length, by_id in r["niah"].items():
            ids = sorted(by_id)
            mean, low, high = wilson([by_id[i] for i in ids])
            r["accuracy"][length] = {"mean": mean, "low": low, "high": high, "samples": len(ids)}
            r["vs_full"][length] = paired_difference([by_id[i] for i in ids], [full[length][i] for i in ids])
    return results


def _plot_memory(summary: dict[str, Any]) -> Figure:
    full, longest = summary["full_bytes"], str(max(summary["lengths"]))
    methods = summary["methods"]
    n = methods["full"]["accuracy"][longest]["samples"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (name, r) in enumerate(methods.items()):
        a = r["accuracy"][longest]
        x = r["bytes"] / full + 0.006 * (i - len(methods) / 2)  # a small offset keeps equal-memory points apart
        ax.errorbar([x], [a["mean"]], yerr=[[a["mean"] - a["low"]], [a["high"] - a["mean"]]], fmt="o", capsize=4,
                    label=name)  # fmt: skip
    ax.axhline(0, color="0.6", linestyle=":", label="chance (a 7-digit number): 0")
    ax.set(xlabel=f"cache bytes / full cache at {longest} tokens", ylabel=f"NIAH accuracy at {longest} tokens",
           ylim=(-0.05, 1.05), title=f"{Path(summary['model']).name}: NIAH vs cache memory\n{n} samples per cache, "
           "95% Wilson intervals")  # fmt: skip
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: no point hidden under it
    fig.tight_layout()
    return fig


def _markdown(summary: dict[str, Any]) -> list[str]:
    lengths, full = [str(n) for n in summary["lengths"]], summary["full_bytes"]
    methods = summary["methods"]
    n = {length: methods["full"]["accuracy"][length]["samples"] for length in lengths}
    pct = lambda a: f"{100 * a['mean']:.0f} [{100 * a['low']:.0f}, {100 * a['high']:.0f}]"  # noqa: E731
    diff = lambda d: f"{100 * d['difference']:+.0f} [{100 * d['low']:+.0f}, {100 * d['high']:+.0f}]"  # noqa: E731
    lines = [
        f"# FourierAttention vs other caches: {summary['model']}",
        "",
        f"Cache bytes at {max(summary['lengths'])} tokens (batch 1). NIAH: mean string-match score (%) with its 95% "
        f"Wilson interval, over {', '.join(f'{n[x]} samples at {x}' for x in lengths)}; vs full: the paired "
        f"difference from the full cache on the same samples, in points, with its 95% bootstrap interval. "
        f"Perplexity of the last {summary['settings']['tail']} tokens read through the cache after an exact "
        "prefill (one text).",
        "",
        "| cache | compressed channels | bytes | x full | " + " | ".join(f"NIAH {x}" for x in lengths)
        + " | " + " | ".join(f"vs full {x}" for x in lengths) + " | " + " | ".join(f"ppl {x}" for x in lengths) + " |",
        "|---|" + "---|" * (3 * len(lengths) + 3),
    ]  # fmt: skip
    for name, r in methods.items():
        compressed = f"{100 * r['compressed']:.0f}%" if "compressed" in r else "-"
        niah = " | ".join(pct(r["accuracy"][x]) for x in lengths)
        versus = " | ".join(diff(r["vs_full"][x]) if name != "full" else "-" for x in lengths)
        ppl = " | ".join(f"{r['perplexity'][x]:.2f}" for x in lengths)
        lines.append(f"| {name} | {compressed} | {r['bytes'] / 2**20:.1f} MiB | {r['bytes'] / full:.2f} | {niah} "
                     f"| {versus} | {ppl} |")  # fmt: skip
    return [*lines, "", "![NIAH accuracy vs cache memory](memory.png)", ""]
