"""``videorope demo``: V-RULER in miniature, end to end, on a CPU.

1. generate a training suite and an evaluation suite (1x, 2x and 4x the training frames);
2. train the pocket video LM once per positional scheme with ``videorope finetune``, or reuse
   what ``out/models`` already holds (``retrain`` starts over);
3. evaluate every scheme (VideoRoPE also with YaRN-V) on the evaluation suite;
4. write ``out/report``: the V-RULER report, accuracy-vs-length curves and ``summary.json``.

Every step reads the previous step's files, so a re-run reuses what exists.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorope.io import write_json
from videorope.train import TrainConfig, train
from videorope.viz import plot_curves, save_figure
from videorope.vruler.report import load_run, report
from videorope.vruler.runner import EvalConfig, evaluate
from videorope.vruler.suite import SuiteConfig, generate_suite

__all__ = ["DemoConfig", "Scheme", "run_demo"]


@dataclass(frozen=True)
class Scheme:
    """A positional scheme to compare; ``model_of`` evaluates another scheme's trained model."""

    name: str
    layout: str
    scaling: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    model_of: str | None = None


@dataclass(frozen=True)
class DemoConfig:
    """The demo: suites, the training recipe (``TrainConfig`` fields) and the schemes."""

    out: str = "demo"
    train_suite: SuiteConfig = field(default_factory=SuiteConfig)
    eval_suite: SuiteConfig = field(default_factory=SuiteConfig)
    train: dict[str, Any] = field(default_factory=dict)
    schemes: tuple[Scheme, ...] = ()
    batch_size: int = 4
    retrain: bool = False

    def __post_init__(self) -> None:
        names = [s.name for s in self.schemes]
        if len(set(names)) != len(names):
            raise ValueError(f"scheme names must be unique, got {names}")
        for s in self.schemes:
            if s.model_of is not None and s.model_of not in names:
                raise ValueError(f"scheme {s.name!r} uses the model of {s.model_of!r}, which is not a scheme")


def _trained(config: DemoConfig, scheme: Scheme, manifest: Path, progress: bool) -> Path:
    """The scheme's trained model folder, training it unless it already exists."""
    run = Path(config.out) / "models" / scheme.name
    final = run / "final"
    if config.retrain and run.exists():
        shutil.rmtree(run)
    if not final.is_dir():
        recipe = TrainConfig(
            data=str(manifest), out=str(run), layout=scheme.layout, scaling=scheme.scaling, options=scheme.options,
            **config.train,
        )  # fmt: skip
        train(recipe, progress=progress)
    return final


def run_demo(config: DemoConfig, progress: bool = True) -> Path:
    """Run (or resume) the demo; returns the report folder."""
    out = Path(config.out)
    train_manifest = generate_suite(config.train_suite, out / "data" / "train", progress=progress)
    eval_dir = out / "data" / "eval"
    generate_suite(config.eval_suite, eval_dir, progress=progress)
    models = {
        s.name: _trained(config, s, train_manifest, progress) for s in config.schemes if s.model_of is None
    }  # fmt: skip
    runs = []
    for s in config.schemes:
        run = out / "runs" / s.name
        if config.retrain and run.exists():
            shutil.rmtree(run)
        evaluate(
            EvalConfig(str(eval_dir), str(models[s.model_of or s.name]), str(run), layout=s.layout,
                       scaling=s.scaling, options=s.options, batch_size=config.batch_size),
            progress=progress,
        )  # fmt: skip
        runs.append(run)
    report_dir = out / "report"
    report(runs, report_dir)
    train_frames = max(config.train_suite.frame_counts)
    summary: dict[str, Any] = {"train_frames": train_frames, "schemes": {}}
    curves: dict[str, dict[str, dict[int, float]]] = {}
    for s, run in zip(config.schemes, runs, strict=True):
        _, _, agg = load_run(run)
        summary["schemes"][s.name] = {**dataclasses.asdict(s), **agg.to_dict()}
        for task, points in agg.by_frames().items():
            curves.setdefault(task, {})[s.name] = points
    for task, by_scheme in curves.items():
        fig = plot_curves(
            by_scheme, f"{task}: accuracy vs frames (trained at {train_frames})", train_length=train_frames
        )
        save_figure(fig, report_dir / f"curve-{task}.png")
    summary["curves"] = {t: {n: {str(f): a for f, a in p.items()} for n, p in c.items()} for t, c in curves.items()}
    write_json(report_dir / "summary.json", summary)
    return report_dir
