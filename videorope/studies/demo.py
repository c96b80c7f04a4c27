"""``videorope demo``: V-RULER in miniature, end to end, on a CPU.

1. generate a training suite and an evaluation suite (1x, 2x and 4x the training frames);
2. for each positional scheme, reuse the pocket video LM in ``out/models``, else the
   committed checkpoint trained by this exact recipe (``checkpoints/<scheme>``, see
   ``configs/pocket/``), else train it with ``videorope finetune`` (``retrain`` always trains);
3. evaluate every scheme (VideoRoPE also with YaRN-V) on the evaluation suite;
4. write ``out/report``: ``summary.md`` (accuracy per scheme at each length, where each model
   came from), the V-RULER ``report.md`` with heatmaps, accuracy-vs-length curves, and
   ``summary.json`` with every number.

Every step reads the previous step's files, so a re-run reuses what exists.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from videorope.config import load
from videorope.io import atomic_path, one_writer, write_json
from videorope.train import TrainConfig, train
from videorope.viz import plot_curves, save_figure
from videorope.vruler.report import load_run, report
from videorope.vruler.runner import EvalConfig, evaluate
from videorope.vruler.suite import SuiteConfig, generate_suite

__all__ = ["DEFAULT_CONFIG", "DemoConfig", "Scheme", "Stage", "load_demo", "run_demo"]

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "pocket" / "demo.yaml"
"""The pocket recipe in the source tree (the README installs the package from a clone)."""

RECIPE = "recipe.json"
"""File in a trained model folder recording the recipe that produced it."""

TRAINING = "training.json"
"""File in a trained model folder recording how long training took; ``log-<stage>.jsonl``
beside it are the training logs of each stage."""


@dataclass(frozen=True)
class Scheme:
    """A positional scheme to compare; ``model_of`` evaluates another scheme's trained model."""

    name: str
    layout: str
    scaling: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    model_of: str | None = None


@dataclass(frozen=True)
class Stage:
    """A curriculum stage: ``max_steps`` of training on the training suite cut to ``frame_counts``
    (with ``tasks`` instead of the suite's when given), with ``train`` overriding the
    recipe's ``TrainConfig`` fields (e.g. ``lr``)."""

    frame_counts: tuple[int, ...]
    max_steps: int
    tasks: dict[str, Any] | None = None
    train: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoConfig:
    """The demo: suites, the training recipe (``TrainConfig`` fields, and curriculum stages run
    in order before the main run, each starting from the previous one's model), the schemes,
    and the folder of committed checkpoints (one subfolder per scheme) reused when their
    recipe matches."""

    out: str = "demo"
    train_suite: SuiteConfig = field(default_factory=SuiteConfig)
    eval_suite: SuiteConfig = field(default_factory=SuiteConfig)
    train: dict[str, Any] = field(default_factory=dict)
    curriculum: tuple[Stage, ...] = ()
    schemes: tuple[Scheme, ...] = ()
    checkpoints: str | None = None
    batch_size: int = 4
    retrain: bool = False

    def __post_init__(self) -> None:
        names = [s.name for s in self.schemes]
        if len(set(names)) != len(names):
            raise ValueError(f"scheme names must be unique, got {names}")
        for s in self.schemes:
            if s.model_of is not None and s.model_of not in names:
                raise ValueError(f"scheme {s.name!r} uses the model of {s.model_of!r}, which is not a scheme")


def load_demo(path: str | Path | None = None, overrides: list[str] = ()) -> DemoConfig:
    """The demo config at ``path`` with ``key.path=value`` overrides; ``train.model`` and
    ``checkpoints``, when relative, are relative to the config file's folder (default config:
    :data:`DEFAULT_CONFIG`)."""
    path = DEFAULT_CONFIG if path is None else Path(path)
    if not path.is_file():
        hint = (
            " (it lives in the source tree: install from a clone, pip install -e .)" if path == DEFAULT_CONFIG else ""
        )
        raise FileNotFoundError(f"no demo config at {path}{hint}; pass --config FILE")
    config = load(DemoConfig, path, overrides)

    def near(p: str) -> str:
        return str(path.parent / p) if (path.parent / p).exists() else p

    train = dict(config.train)
    if isinstance(train.get("model"), str):
        train["model"] = near(train["model"])
    return dataclasses.replace(config, train=train, checkpoints=config.checkpoints and near(config.checkpoints))


def _recipe(config: DemoConfig, scheme: Scheme) -> dict[str, Any]:
    """What determines a scheme's trained model: the training suite, the training settings (a
    model config file by its content) and the positional scheme."""
    settings = dict(config.train)
    model = Path(str(settings.get("model", "")))
    if model.suffix in (".yaml", ".yml", ".json") and model.is_file():
        settings["model"] = yaml.safe_load(model.read_text())
    positional = {"layout": scheme.layout, "scaling": scheme.scaling, "options": scheme.options}
    recipe = {"train_suite": dataclasses.asdict(config.train_suite), "train": settings, "scheme": positional}
    recipe["curriculum"] = [dataclasses.asdict(stage) for stage in config.curriculum]
    return json.loads(json.dumps(recipe))


def _training_suites(config: DemoConfig, out: Path, progress: bool) -> list[Path]:
    """The manifest of each curriculum stage, then the main training suite's."""
    suites = [
        dataclasses.replace(config.train_suite, frame_counts=s.frame_counts, tasks=s.tasks or config.train_suite.tasks)
        for s in config.curriculum
    ]
    folders = [f"train-stage-{i + 1}" for i in range(len(suites))] + ["train"]
    return [
        generate_suite(suite, out / "data" / folder, progress=progress)
        for suite, folder in zip([*suites, config.train_suite], folders, strict=True)
    ]


def _made_by(folder: Path, recipe: dict[str, Any]) -> bool:
    """Whether the model in ``folder`` was trained by ``recipe`` (warns when not)."""
    if not (folder / RECIPE).is_file():
        return False
    if json.loads((folder / RECIPE).read_text()) == recipe:
        return True
    warnings.warn(f"{folder} was trained by another recipe; not using it", stacklevel=3)
    return False


def _trained(config: DemoConfig, scheme: Scheme, manifests: list[Path], progress: bool) -> tuple[Path, str, bool]:
    """(model folder, where it came from, whether it was trained now) for ``scheme``: reused
    from ``out/models``, committed, or trained now (each curriculum stage in
    ``out/models/<scheme>/stage-<i>``, then the main run). Only a model trained by the current
    recipe is reused."""
    run = Path(config.out) / "models" / scheme.name
    final = run / "final"
    recipe = _recipe(config, scheme)
    if not config.retrain and _made_by(final, recipe):
        return final, "reused from an earlier run", False
    committed = Path(config.checkpoints) / scheme.name if config.checkpoints else None
    if not config.retrain and committed is not None and _made_by(committed, recipe):
        minutes = json.loads((committed / TRAINING).read_text())["minutes"]
        return committed, f"committed checkpoint {committed} (trained in {minutes:.1f} min)", False
    if run.exists():
        shutil.rmtree(run)
    start = time.perf_counter()
    settings = {**config.train, "layout": scheme.layout, "scaling": scheme.scaling, "options": scheme.options}
    stages = [{**s.train, "max_steps": s.max_steps} for s in config.curriculum] + [{}]
    folders = [run / f"stage-{i + 1}" for i in range(len(config.curriculum))] + [run]
    for manifest, folder, changes in zip(manifests, folders, stages, strict=True):
        stage = TrainConfig(**{**settings, **changes, "data": str(manifest), "out": str(folder)})
        settings["model"] = str(train(stage, progress=progress))
    minutes = (time.perf_counter() - start) / 60
    for i, folder in enumerate(folders):  # the training logs travel with the model
        shutil.copyfile(folder / "log.jsonl", final / f"log-{i + 1}.jsonl")
    write_json(final / TRAINING, {"minutes": round(minutes, 2), "stages": len(folders)})
    write_json(final / RECIPE, recipe)
    return final, f"trained now ({minutes:.1f} min)", True


def _stage_accuracies(model: Path) -> list[float]:
    """Held-out accuracy at the end of each training stage, from the model's ``log-<i>.jsonl``."""
    out = []
    for i in itertools.count(1):
        log = model / f"log-{i}.jsonl"
        if not log.is_file():
            break
        evals = [r["eval_accuracy"] for r in map(json.loads, log.read_text().splitlines()) if "eval_accuracy" in r]
        out.append(evals[-1] if evals else float("nan"))
    return out


def _summary_md(config: DemoConfig, summary: dict[str, Any]) -> str:
    frames = sorted({int(f) for c in summary["curves"].values() for p in c.values() for f in p})
    train_frames = summary["train_frames"]
    head = " | ".join(f"{f} frames ({f / train_frames:g}x)" for f in frames)
    lines = [
        "# videorope demo: V-RULER in miniature",
        "",
        f"Pocket video LMs trained at {train_frames} frames, evaluated at {', '.join(map(str, frames))} frames "
        "(teacher-forced exact match, %).",
        "",
    ]
    for task, by_scheme in summary["curves"].items():
        lines += [f"## {task}", "", f"| scheme | {head} |", "|---|" + "---|" * len(frames)]
        for name, points in by_scheme.items():
            cells = " | ".join(f"{100 * points[str(f)]:.1f}" if str(f) in points else "-" for f in frames)
            lines.append(f"| {name} | {cells} |")
        lines += ["", f"![{task}](curve-{task}.png)", ""]
    lines += ["## Models", "", "| scheme | model | held-out accuracy after each training stage |", "|---|---|---|"]
    for name, s in summary["schemes"].items():
        stages = ", ".join(f"{100 * a:.1f}" for a in s["stage_accuracies"]) or "-"
        lines.append(f"| {name} | {s['model_source']} | {stages} |")
    lines.append("")
    lines += ["Heatmaps (frames x depth) and per-run tables: [report.md](report.md). Every number: summary.json."]
    return "\n".join(lines) + "\n"


@one_writer(lambda config, *_, **__: config.out)
def run_demo(config: DemoConfig, progress: bool = True) -> Path:
    """Run (or resume) the demo; returns the report folder."""
    out = Path(config.out)
    manifests = _training_suites(config, out, progress)
    eval_dir = out / "data" / "eval"
    generate_suite(config.eval_suite, eval_dir, progress=progress)
    models = {s.name: _trained(config, s, manifests, progress) for s in config.schemes if s.model_of is None}
    options_in_prompt = config.train.get("options_in_prompt", True)
    runs = []
    for s in config.schemes:
        run = out / "runs" / s.name
        if models[s.model_of or s.name][2] and run.exists():  # results of an older model
            shutil.rmtree(run)
        evaluate(
            EvalConfig(str(eval_dir), str(models[s.model_of or s.name][0]), str(run), layout=s.layout,
                       scaling=s.scaling, options=s.options, batch_size=config.batch_size,
                       options_in_prompt=options_in_prompt),
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
        model, source, _ = models[s.model_of or s.name]
        summary["schemes"][s.name] = {
            **dataclasses.asdict(s), "model_source": source, "stage_accuracies": _stage_accuracies(model),
            **agg.to_dict(),
        }  # fmt: skip
        for task, points in agg.by_frames().items():
            curves.setdefault(task, {})[s.name] = points
    for task, by_scheme in curves.items():
        fig = plot_curves(
            by_scheme, f"{task}: accuracy vs frames (trained at {train_frames})", train_length=train_frames
        )
        save_figure(fig, report_dir / f"curve-{task}.png")
    summary["curves"] = {t: {n: {str(f): a for f, a in p.items()} for n, p in c.items()} for t, c in curves.items()}
    write_json(report_dir / "summary.json", summary)
    with atomic_path(report_dir / "summary.md") as tmp:
        tmp.write_text(_summary_md(config, summary))
    return report_dir
