"""Evaluate a causal LM on NIAH samples (greedy replies, RULER string match) and report.

Results go to ``RUNDIR/results.jsonl`` as each batch finishes; a re-run resumes only results
of the same run (``RUNDIR/run.json``: the model, its positional choice, the samples file).
``report`` writes a table, a length x depth heatmap per task and accuracy-vs-length curves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from videorope.io import atomic_path, exclusive, path_key, read_records, same_run, write_json, write_records
from videorope.niah.samples import aggregate, encode_prompt, read_samples, score
from videorope.viz import plot_curves, plot_heatmap, save_figure

__all__ = ["evaluate", "read_results", "reply_ids", "report"]

CacheFn = Callable[[torch.Tensor], Any]
"""``cache(attention_mask)``: a fresh transformers cache for one batch (its mask (B, L))."""

read_results = read_records
"""Result records of a run (:func:`videorope.io.read_records`)."""


@torch.no_grad()
def reply_ids(
    model: Any,
    tokenizer: Any,
    batch: Sequence[Mapping],
    max_new_tokens: int | None = None,
    cache: CacheFn | None = None,
):
    """Greedy replies to a batch of samples (prompts left-padded): the prompts' token ids and
    the reply ids (B, new) (rows may end in padding). The default budget fits the answers;
    ``cache(attention_mask)`` gives the KV cache to decode with (default: transformers')."""
    ids = [encode_prompt(tokenizer, s["prompt"], s["chat"]) for s in batch]
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids], device=device)
    mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids], device=device)
    budget = max_new_tokens or 8 + 24 * max(len(s["answers"]) for s in batch)  # 24 tokens hold a UUID
    past = {"past_key_values": cache(mask)} if cache else {}
    out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=budget, do_sample=False,
                         pad_token_id=pad, **past)  # fmt: skip
    return ids, out[:, width:]


def _reply(model: Any, tokenizer: Any, batch: Sequence[Mapping], max_new_tokens: int | None, cache=None) -> list[str]:
    """Greedy replies for a batch, as text."""
    return tokenizer.batch_decode(
        reply_ids(model, tokenizer, batch, max_new_tokens, cache)[1], skip_special_tokens=True
    )


def evaluate(
    model: Any,
    tokenizer: Any,
    samples: str | Path,
    out: str | Path,
    *,
    name: str = "model",
    batch_size: int = 1,
    max_new_tokens: int | None = None,
    cache: CacheFn | None = None,
    progress: bool = True,
) -> Path:
    """Score ``model`` on the samples file; returns ``out/results.jsonl`` (one record per sample:
    id, task, length, depth, prediction, score). ``name`` labels the run in ``run.json`` (say
    there which ``cache`` the replies decode with, so another cache starts over)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    samples, out = Path(samples), Path(out)
    todo = read_samples(samples)
    run = {"model": path_key(name), "positional": getattr(model.config, "videorope", None),
           "max_new_tokens": max_new_tokens, "samples": path_key(samples),
           "samples_sha256": hashlib.sha256(samples.read_bytes()).hexdigest()}  # fmt: skip
    with exclusive(out):
        return _evaluate(model, tokenizer, todo, out, run, batch_size, max_new_tokens, cache, progress)


def _evaluate(model: Any, tokenizer: Any, todo: list[dict], out: Path, run: dict[str, Any], batch_size: int,
              max_new_tokens: int | None, cache: CacheFn | None, progress: bool) -> Path:  # fmt: skip
    results = out / "results.jsonl"
    kept = read_results(results) if same_run(out / "run.json", run) else []
    write_json(out / "run.json", run)
    write_records(results, kept)  # drops a line torn by a crash, or the results of another run
    done = {r["id"] for r in kept}
    todo = [s for s in todo if s["id"] not in done]
    model.eval()
    with results.open("a") as f:
        for start in tqdm(range(0, len(todo), batch_size), desc="NIAH", disable=not progress):
            batch = todo[start : start + batch_size]
            for s, text in zip(batch, _reply(model, tokenizer, batch, max_new_tokens, cache), strict=True):
                record = {k: s[k] for k in ("id", "task", "length", "depth")}
                f.write(json.dumps({**record, "prediction": text, "score": score(text, s["answers"])}) + "\n")
            f.flush()
    return results


def report(rundirs: Sequence[str | Path], out: str | Path) -> Path:
    """Write ``out/niah.md`` (accuracy per task and length for each run), a heatmap per run and
    task (length x depth) and accuracy-vs-length curves per task; returns the markdown path."""
    out = Path(out)
    runs = {}
    for rundir in map(Path, rundirs):
        if not (rundir / "results.jsonl").is_file():
            raise FileNotFoundError(f"{rundir} has no results.jsonl; run `videorope niah eval` (it resumes) first")
        runs[rundir.name] = aggregate(read_results(rundir / "results.jsonl"))
    tasks = sorted({t for agg in runs.values() for t in agg})
    lines = ["# NIAH report", "", "Mean RULER string-match score (%) per context length (tokens).", ""]
    for task in tasks:
        lengths = sorted({n for agg in runs.values() for n in agg.get(task, {})})
        curves = {}
        lines += [f"## {task}", "", "| run | " + " | ".join(map(str, lengths)) + " |", "|---|" + "---|" * len(lengths)]
        for name, agg in runs.items():
            cells = agg.get(task, {})
            means = {n: sum(d.values()) / len(d) for n, d in cells.items()}
            curves[name] = means
            lines.append(
                f"| {name} | " + " | ".join(f"{100 * means[n]:.1f}" if n in means else "-" for n in lengths) + " |"
            )
            depths = sorted({d for by_depth in cells.values() for d in by_depth})
            grid = [[cells.get(n, {}).get(d) for n in lengths] for d in depths]
            figure = plot_heatmap(
                grid, lengths, [f"{100 * d:.0f}%" for d in depths], f"{task}: {name}", x_name="tokens"
            )
            save_figure(figure, out / f"{name}-{task}.png")
            lines.append("")
        save_figure(plot_curves(curves, f"{task}: accuracy vs length", x_name="tokens"), out / f"curve-{task}.png")
        lines += [f"![{task}](curve-{task}.png)", *(f"![{task} {n}]({n}-{task}.png)" for n in runs), ""]
    path = out / "niah.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
