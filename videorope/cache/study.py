"""FourierAttention as a study of a model: calibrate a channel plan, then weigh memory against
accuracy beside the full cache, StreamingLLM and SnapKV.

:func:`calibrate_model` writes the plan (JSON) and a plot of where its kept K channels sit
against the critical dimension. :func:`run_eval` runs NIAH (:mod:`videorope.niah`) and a
continuation perplexity per cache; StreamingLLM and SnapKV get the token budget that holds
as many bytes as the first FourierAttention schedule at the longest length. Every NIAH run
and perplexity resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from videorope import theory
from videorope.cache.calibrate import channel_errors, kept_vs_critical
from videorope.cache.fourier import FourierOptions, expected_nbytes
from videorope.cache.plan import FourierPlan, kv_shape
from videorope.cache.policies import build_cache
from videorope.extend import text_ids
from videorope.io import atomic_path, read_by_length, write_by_length, write_json
from videorope.models import load_model
from videorope.niah import NiahConfig, accuracy_by_length, evaluate, generate, read_results
from videorope.viz import plot_lines, save_figure

__all__ = ["FourierEvalConfig", "calibrate_model", "continuation_perplexity", "run_eval"]

REPLY = 64
"""Tokens planned beyond the longest prompt (the reply)."""


@dataclass(frozen=True)
class FourierEvalConfig:
    """``schedules``: FourierAttention settings to compare (``inverted-pyramid``,
    ``uniform:0.9``, ...); the first sets the memory of the StreamingLLM and SnapKV rows.
    ``lengths``: NIAH and perplexity lengths (tokens); ``niah``: overrides of
    :class:`~videorope.niah.NiahConfig` except ``lengths``. ``calibration``: text prompts of
    the longest length that calibrate the plan. ``tail``: tokens scored by the perplexity.
    ``affine``: the paper's affine correction in the FourierAttention caches."""

    model: str = "smollm2"
    schedules: tuple[str, ...] = ("inverted-pyramid", "uniform:0.9", "uniform:0.5")
    baselines: tuple[str, ...] = ("streaming", "snapkv")
    lengths: tuple[int, ...] = (4096, 8192)
    niah: dict[str, Any] = field(default_factory=lambda: {"depths": 3})
    sinks: int = 4
    window: int = 1020
    frequencies: int = 512
    affine: bool = False
    calibration: int = 2
    tail: int = 256
    text: str | None = None
    out: str = "fourier"

    def __post_init__(self) -> None:
        if not self.schedules or not self.lengths:
            raise ValueError("schedules and lengths must not be empty")
        self.options()  # validates sinks, window, frequencies against the lengths

    def options(self) -> FourierOptions:
        return FourierOptions(max(self.lengths) + REPLY, self.sinks, self.window, self.frequencies, affine=self.affine)


def _calibration_prompts(tokenizer: Any, text: str | None, length: int, count: int) -> list[torch.Tensor]:
    """``count`` consecutive ``length``-token pieces of the text."""
    ids = text_ids(tokenizer, text, length * count)
    return list(ids.view(count, length))


def _plot_kept(report: dict[str, Any], title: str, out: Path) -> None:
    counts = dict(enumerate(report["kept_per_pair"]))
    fig = plot_lines({"kept K channels": counts}, title, "rotary pair (0 = highest frequency)", "kept channels",
                     log_x=False)  # fmt: skip
    fig.axes[0].axvline(report["critical_dim"] / 2 - 0.5, color="0.5", linestyle="--", label="critical dimension")
    fig.axes[0].legend()
    save_figure(fig, out)


def _write_plan(errors: tuple[torch.Tensor, torch.Tensor], spec: str, critical_dim: int, meta: dict[str, Any],
                out: Path) -> dict[str, Any]:  # fmt: skip
    """Plan ``spec`` from the channel errors, saved to ``out`` with its placement plot (.png)."""
    plan = FourierPlan.from_errors(*errors, spec, **meta)
    report = kept_vs_critical(plan, critical_dim)
    plan.meta["kept_vs_critical"] = report
    plan.save(out)
    share = 100 * report["kept_low_frequency_share"]
    _plot_kept(report, f"{meta['model']} {spec}: {share:.0f}% of kept K channels beyond the critical dim",
               out.with_suffix(".png"))  # fmt: skip
    return {**report, "compressed_fraction": plan.compressed_fraction()}


def _calibrate(model: Any, tokenizer: Any, name: str, options: FourierOptions, specs: tuple[str, ...],
               outs: list[Path], prompts: int, text: str | None, progress: bool) -> list[dict[str, Any]]:  # fmt: skip
    length = options.max_length
    errors = channel_errors(model, _calibration_prompts(tokenizer, text, length, prompts), options, progress)
    meta = {"model": name, "frequencies": options.frequencies, "sinks": options.sinks, "window": options.window,
            "max_length": options.max_length, "affine": options.affine, "prompts": [length] * prompts}  # fmt: skip
    critical = theory.report(model.config).critical_dimension
    return [_write_plan(errors, spec, critical, meta, out) for spec, out in zip(specs, outs, strict=True)]


def calibrate_model(
    model_name: str, out: str | Path, options: FourierOptions, spec: str = "inverted-pyramid", prompts: int = 2,
    text: str | None = None, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Calibrate a plan for ``model_name`` on ``prompts`` pieces of text of ``options.max_length``
    tokens; write it to ``out`` (JSON) and ``out`` with ``.png`` (kept K channels per rotary
    pair vs the critical dimension). Returns where the kept K channels fall."""
    model, tokenizer = load_model(model_name, attn_implementation="sdpa")
    return _calibrate(model.eval(), tokenizer, model_name, options, (spec,), [Path(out)], prompts, text, progress)[0]


@torch.no_grad()
def continuation_perplexity(model: Any, ids: torch.Tensor, context: int, cache: Any, chunk: int = 32) -> float:
    """exp(mean NLL) of ``ids[context:]`` (ids (L,)) after an exact prefill of ``ids[:context]``
    into ``cache``, the rest fed ``chunk`` tokens at a time so each chunk reads the cache."""
    device = next(model.parameters()).device
    ids = ids.to(device)
    logits = [model(input_ids=ids[None, :context], past_key_values=cache, use_cache=True, logits_to_keep=1).logits[0]]
    for start in range(context, len(ids) - 1, chunk):
        piece = ids[start : min(start + chunk, len(ids) - 1)]
        logits.append(model(input_ids=piece[None], past_key_values=cache, use_cache=True).logits[0])
    nll = torch.nn.functional.cross_entropy(torch.cat(logits).float(), ids[context:], reduction="mean")
    return math.exp(nll.item())


def _methods(config: FourierEvalConfig, model: Any, plans: dict[str, FourierPlan]) -> dict[str, dict[str, Any]]:
    """name -> {policy, options (JSON-able), build options, bytes at the longest length}: the
    full cache, the first schedule and the baselines at its memory, then the other schedules."""
    options, longest, dtype = config.options(), max(config.lengths), model.dtype
    layers, heads, head_dim = kv_shape(model.config)
    per_token = 2 * layers * heads * head_dim * torch.finfo(dtype).bits // 8
    fourier = {s: expected_nbytes(p, options, longest, dtype) for s, p in plans.items()}
    budget = round(fourier[config.schedules[0]] / per_token)
    settings = dataclasses.asdict(options) | {"coefficient_dtype": str(options.coefficient_dtype)}
    fouriers = {f"fourier {spec}": {"policy": "fourier", "options": {"schedule": spec, **settings},
                                    "build": {"plan": plan, **dataclasses.asdict(options)},
                                    "bytes": fourier[spec], "compressed": plan.compressed_fraction()}
                for spec, plan in plans.items()}  # fmt: skip
    baselines = {policy: {"policy": policy, "options": {"budget": budget}, "bytes": per_token * min(budget, longest)}
                 for policy in config.baselines}  # fmt: skip
    first, *others = fouriers.items()  # the comparison at equal memory first, other ratios after
    return {"full": {"policy": "full", "options": {}, "bytes": per_token * longest}, first[0]: first[1], **baselines,
            **dict(others)}  # fmt: skip


def _plan_matches(path: Path, config: FourierEvalConfig) -> bool:
    """Whether ``path`` holds a plan calibrated with this model and these cache settings."""
    if not path.is_file():
        return False
    meta, o = FourierPlan.load(path).meta, config.options()
    want = {"model": config.model, "frequencies": o.frequencies, "sinks": o.sinks, "window": o.window,
            "max_length": o.max_length, "affine": o.affine, "prompts": [o.max_length] * config.calibration}  # fmt: skip
    return all(meta.get(k) == v for k, v in want.items())


def run_eval(config: FourierEvalConfig, progress: bool = True) -> Path:
    """Run (or resume) the comparison; returns ``out/fourier.md`` (``fourier.json`` and
    ``memory.png`` beside it)."""
    out, options = Path(config.out), config.options()
    model, tokenizer = load_model(config.model, attn_implementation="sdpa")
    model.eval()
    paths = [out / "plans" / f"{spec.replace(':', '-')}.json" for spec in config.schedules]
    if not all(_plan_matches(p, config) for p in paths):
        _calibrate(model, tokenizer, config.model, options, config.schedules, paths, config.calibration, config.text,
                   progress)  # fmt: skip
    plans = {spec: FourierPlan.load(p) for spec, p in zip(config.schedules, paths, strict=True)}
    niah = dataclasses.replace(NiahConfig(**config.niah), lengths=tuple(config.lengths))
    samples = generate(niah, tokenizer, out / "niah", progress=progress)
    skip = config.calibration * options.max_length  # perplexity on text the calibration did not see
    text = text_ids(tokenizer, config.text, skip + max(config.lengths))[skip:]
    results = {}
    for name, m in tqdm(_methods(config, model, plans).items(), desc="caches", disable=not progress):

        def cache(mask, m=m):  # noqa: E306
            return build_cache(m["policy"], model, mask, **m.get("build", m["options"]))

        run = out / "runs" / name.replace(" ", "-").replace(":", "-")
        label = json.dumps({"model": config.model, "policy": m["policy"], "options": m["options"]})
        accuracy = accuracy_by_length(read_results(evaluate(model, tokenizer, samples, run, name=label, cache=cache,
                                                            progress=progress)))  # fmt: skip
        ppl_run = {"cache": label, "text": config.text, "tail": config.tail}
        ppl = read_by_length(run / "perplexity.json", ppl_run)
        for length in config.lengths:
            if length not in ppl:
                ppl[length] = continuation_perplexity(model, text[:length], length - config.tail, cache(None))
                write_by_length(run / "perplexity.json", ppl_run, ppl)
        results[name] = {k: v for k, v in m.items() if k != "build"} | {"niah": accuracy, "perplexity": ppl}
    summary = {"model": config.model, "lengths": list(config.lengths), "full_bytes": results["full"]["bytes"],
               "settings": dataclasses.asdict(config), "methods": results}  # fmt: skip
    write_json(out / "fourier.json", summary)
    _plot_memory(summary, out / "memory.png")
    return _markdown(summary, out)


def _mean(values: dict[int, float]) -> float:
    return sum(values.values()) / len(values)


def _plot_memory(summary: dict[str, Any], path: Path) -> None:
    full = summary["full_bytes"]
    curves = {name: {r["bytes"] / full: _mean(r["niah"])} for name, r in summary["methods"].items()}
    fig = plot_lines(curves, f"NIAH (mean over {summary['lengths']}) vs cache memory at {max(summary['lengths'])}",
                     "cache bytes / full cache", "NIAH accuracy", log_x=False, ylim=(-0.05, 1.05))  # fmt: skip
    save_figure(fig, path)


def _markdown(summary: dict[str, Any], out: Path) -> Path:
    lengths, full = summary["lengths"], summary["full_bytes"]
    lines = [
        f"# FourierAttention vs other caches: {summary['model']}",
        "",
        f"Cache bytes at {max(lengths)} tokens (batch 1); NIAH: mean string-match score (%); perplexity of the last "
        f"{summary['settings']['tail']} tokens read through the cache after an exact prefill.",
        "",
        "| cache | compressed channels | bytes | x full | " + " | ".join(f"NIAH {n}" for n in lengths)
        + " | NIAH vs full | " + " | ".join(f"ppl {n}" for n in lengths) + " |",
        "|---|" + "---|" * (2 * len(lengths) + 4),
    ]  # fmt: skip
    reference = _mean(summary["methods"]["full"]["niah"])
    for name, r in summary["methods"].items():
        compressed = f"{100 * r['compressed']:.0f}%" if "compressed" in r else "-"
        niah = " | ".join(f"{100 * r['niah'][n]:.0f}" for n in lengths)
        ppl = " | ".join(f"{r['perplexity'][n]:.2f}" for n in lengths)
        relative = f"{100 * _mean(r['niah']) / reference:.0f}%" if reference else "-"
        lines.append(f"| {name} | {compressed} | {r['bytes'] / 2**20:.1f} MiB | {r['bytes'] / full:.2f} | {niah} "
                     f"| {relative} | {ppl} |")  # fmt: skip
    lines += ["", "![NIAH accuracy vs cache memory](memory.png)", ""]
    path = out / "fourier.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
