"""Tables and heatmaps from one or more V-RULER runs.

``report(rundirs, out)`` writes ``report.md`` (per-run task accuracies and the overall
V-RULER score, a comparison across runs, accuracy per frame count) and one heatmap PNG per
run and task (frame count x depth, like the V-NIAH figures). A ``@paper`` task also gets its
cells in the original's ``all_accuracies.json`` form (``RUN-TASK-all_accuracies.json``); the
V-RULER score, a mean over tasks the original does not compute, leaves them out.
"""

from __future__ import annotations

import json
from pathlib import Path

from videorope.io import atomic_path, write_json
from videorope.viz import plot_heatmap, save_figure
from videorope.vruler.runner import read_results
from videorope.vruler.scoring import Aggregate, aggregate, is_preset

__all__ = ["load_run", "paper_accuracies", "report"]


def load_run(rundir: str | Path) -> tuple[str, dict, Aggregate]:
    """(label, run.json, aggregate) of a finished run folder."""
    rundir = Path(rundir)
    results = rundir / "results.jsonl"
    if not results.is_file():
        raise FileNotFoundError(f"{rundir} has no results.jsonl; run `videorope vruler eval` (it resumes) first")
    meta = json.loads((rundir / "run.json").read_text()) if (rundir / "run.json").is_file() else {}
    positional = meta.get("positional") or {}
    label = f"{rundir.name} ({positional.get('layout') or '-'}, {positional.get('scaling') or '-'})"
    return label, meta, aggregate(read_results(results))


def paper_accuracies(agg: Aggregate, task: str) -> list[dict]:
    """A ``@paper`` task's cells as the original writes ``all_accuracies.json``: per haystack
    size and depth, ``{"Num. Frame": slots, "Frame Depth": depth in % rounded to tens, "Score":
    mean over the needle sets}``, in sweep order."""
    cells = sorted((f, d, acc) for (t, f, d), (acc, _) in agg.cells.items() if t == task)
    return [{"Num. Frame": f, "Frame Depth": round(d * 100, -1), "Score": acc} for f, d, acc in cells]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def report(rundirs: list[str | Path], out: str | Path) -> Path:
    """Write ``out/report.md`` and heatmaps for ``rundirs``; returns the markdown path."""
    out = Path(out)
    runs = [(Path(d), *load_run(d)) for d in rundirs]
    tasks = sorted({t for *_, agg in runs for t in agg.tasks})
    lines = [
        "# V-RULER report",
        "",
        "## Overall",
        "",
        "| task | " + " | ".join(label for _, label, _, _ in runs) + " |",
    ]
    lines.append("|---|" + "---|" * len(runs))
    for task in tasks:
        cells = [_pct(agg.tasks[task][0]) if task in agg.tasks else "-" for *_, agg in runs]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines.append("| **V-RULER** | " + " | ".join(f"**{_pct(agg.overall)}**" for *_, agg in runs) + " |")
    for rundir, label, meta, agg in runs:
        frames = sorted({f for _, f, _ in agg.cells})
        lines += ["", f"## {label}", "", f"Model `{meta.get('model', '?')}`, suite `{meta.get('suite', '?')}`.", ""]
        lines += ["| task | " + " | ".join(f"{f} frames" for f in frames) + " |", "|---|" + "---|" * len(frames)]
        figures = []
        per_frames = agg.by_frames()
        for task in sorted(agg.tasks):
            lines.append(f"| {task} | " + " | ".join(_pct(per_frames[task].get(f)) for f in frames) + " |")
            depths = sorted({d for (t, _, d) in agg.cells if t == task})
            grid = [[agg.cells.get((task, f, d), (None, 0))[0] for f in frames] for d in depths]
            name = f"{rundir.name}-{task}.png"
            save_figure(plot_heatmap(grid, frames, [f"{100 * d:.0f}%" for d in depths], f"{task}: {label}"), out / name)
            figures.append(f"![{task}]({name})")
        lines += ["", *figures]
    for rundir, _, _, agg in runs:
        for task in sorted(filter(is_preset, agg.tasks)):
            write_json(out / f"{rundir.name}-{task}-all_accuracies.json", paper_accuracies(agg, task))
    path = out / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
