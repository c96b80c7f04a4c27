"""The ``videorope`` command line: a thin layer over the library.

videorope theory --model Qwen2-VL-7B --target-length 128k
videorope layout --layout videorope --frames 8 --grid 4x4 --out layout.png
videorope niah generate --set lengths=[2048,4096] --out niah/
videorope niah eval --samples niah/niah.jsonl --out run/ && videorope niah report run/ --out report/
videorope analyze positional --length 4k --out analysis/
videorope llada niah --model path/to/LLaDA-8B-Base --scaling critical-ntk --target-length 24k --out llada/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _length(text: str) -> int:
    """``8192``, ``8k`` or ``1m`` -> tokens (k = 1024)."""
    scale = {"k": 1024, "m": 1024**2}.get(text[-1:].lower(), 1)
    try:
        value = int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a length; use e.g. 8192, 8k or 1m") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"length must be positive, got {text!r}")
    return value


def _grid(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"grid {text!r} must look like HxW, e.g. 4x4") from None
    return h, w


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"option {text!r} must look like key=value")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _theory(args: argparse.Namespace) -> None:
    from videorope import theory

    result = theory.report(args.model, target_length=args.target_length)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.format())


def _layout(args: argparse.Namespace) -> None:
    from videorope.viz import plot_layout, save_figure

    options = _positional_options(args, ("temporal_spacing",))
    fig = plot_layout(args.layout, args.frames, args.grid, args.allocation, args.head_dim, **options)
    print(save_figure(fig, args.out))


def _positional_options(args: argparse.Namespace, flags: tuple[str, ...]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs plus the named positional flags that were given."""
    options = dict(args.option)
    options.update({key: getattr(args, key) for key in flags if getattr(args, key) is not None})
    return options


def _vruler_generate(args: argparse.Namespace) -> None:
    from videorope.config import load
    from videorope.vruler.suite import SuiteConfig, generate_suite

    config = load(SuiteConfig, args.config, args.set)
    print(generate_suite(config, args.out, progress=not args.quiet))


def _vruler_eval(args: argparse.Namespace) -> None:
    from videorope.vruler.runner import EvalConfig, evaluate

    options = _positional_options(args, ("temporal_spacing", "factor", "target_length"))
    config = EvalConfig(
        suite=args.suite,
        model=args.model,
        out=args.out,
        layout=args.layout,
        allocation=args.allocation,
        scaling=args.scaling,
        options=options,
        mode=args.mode,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        max_tokens=args.max_tokens,
        tasks=tuple(args.tasks.split(",")) if args.tasks else None,
        video_kwargs=dict(args.video_option),
    )
    print(evaluate(config, progress=not args.quiet))


def _vruler_report(args: argparse.Namespace) -> None:
    from videorope.vruler.report import report

    print(report(args.rundirs, args.out))


def _vruler_export(args: argparse.Namespace) -> None:
    from videorope.vruler.export import export_lmms_eval, to_dataset

    if args.lmms_eval:
        print(export_lmms_eval(args.suite, args.lmms_eval, args.name))
    if args.dataset:
        to_dataset(args.suite).save_to_disk(args.dataset)
        print(args.dataset)


def _niah_generate(args: argparse.Namespace) -> None:
    from videorope.config import load
    from videorope.models import load_tokenizer
    from videorope.niah import NiahConfig, generate

    config = load(NiahConfig, args.config, args.set)
    print(generate(config, load_tokenizer(args.model), args.out, progress=not args.quiet))


def _niah_eval(args: argparse.Namespace) -> None:
    import videorope
    from videorope.models import load_model
    from videorope.niah import evaluate

    options = _positional_options(args, ("factor", "target_length"))
    model, tokenizer = load_model(args.model)
    if args.scaling or options:
        model = videorope.apply(model, scaling=args.scaling, **options)
    results = evaluate(model, tokenizer, args.samples, args.out, name=args.model, batch_size=args.batch_size,
                       max_new_tokens=args.max_new_tokens, progress=not args.quiet)  # fmt: skip
    print(results)


def _llada_niah(args: argparse.Namespace) -> None:
    from videorope.studies.llada import run_niah

    options = _positional_options(args, ("factor", "target_length"))
    report = run_niah(args.model, args.out, tuple(args.lengths), _niah_sweep(args), args.scaling, options,
                      args.batch_size, progress=not args.quiet)  # fmt: skip
    print(report.read_text())


def _niah_report(args: argparse.Namespace) -> None:
    from videorope.niah import report

    print(report(args.rundirs, args.out))


def _niah_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """The NIAH overrides that ``--tasks``, ``--depths`` and ``--samples`` give (see :func:`_niah_flags`)."""
    return {"depths": args.depths, "samples_per_cell": args.samples, "tasks": {t: {} for t in args.tasks.split(",")}}


def _extend(args: argparse.Namespace) -> None:
    from videorope.studies.extend import ExtendConfig, run_extend

    niah = _niah_sweep(args)
    config = ExtendConfig(model=args.model, methods=tuple(args.methods.split(",")), lengths=tuple(args.lengths),
                          target_length=args.target_length, niah=niah, text=args.text, out=args.out)  # fmt: skip
    print(run_extend(config, progress=not args.quiet).read_text())


def _analyze(args: argparse.Namespace) -> None:
    from videorope.studies.analysis import AnalyzeConfig, analyze

    niah = _niah_sweep(args)
    config = AnalyzeConfig(model=args.model, methods=tuple(args.methods.split(",")), target_length=args.target_length,
                           length=args.length, lengths=tuple(args.lengths), niah=niah, text=args.text,
                           queries=args.queries, keys=args.keys, fraction=args.fraction, seeds=args.seeds,
                           energy=args.energy, out=args.out)  # fmt: skip
    path = analyze(args.kind, config, progress=not args.quiet)
    print(path.with_suffix(".md").read_text())
    print(f"data: {path}\nfigure: {path.with_suffix('.png')}")


def _cache_flags(p: argparse.ArgumentParser) -> None:
    """The FourierCache settings shared by calibrate and eval."""
    p.add_argument("--sinks", type=int, default=4, help="exact first tokens (default 4)")
    p.add_argument("--window", type=int, default=1020, help="exact most recent tokens (default 1020)")
    p.add_argument("--frequencies", type=int, default=512, help="DFT bins kept per compressed channel (default 512)")
    p.add_argument("--text", help="UTF-8 text for text calibration and perplexity (default: Python's pydoc topics)")
    p.add_argument("--prompts", type=int, default=2,
                   help="calibration prompts (per NIAH task for task prompts) (default 2)")  # fmt: skip


def _fourier_calibrate(args: argparse.Namespace) -> None:
    from videorope.cache import FourierOptions
    from videorope.studies.fourier import REPLY, calibrate_model

    options = FourierOptions(sinks=args.sinks, window=args.window, frequencies=args.frequencies, max_new_tokens=REPLY)
    report = calibrate_model(args.model, args.out, options, args.schedule, args.recipe, args.prompts, args.text,
                             args.length, not args.quiet)  # fmt: skip
    print(f"plan: {args.out} ({100 * report['compressed_fraction']:.1f}% of K/V channels compressed)")
    share, chance = 100 * report["kept_low_frequency_share"], 100 * report["chance_share"]
    print(f"kept K channels beyond the critical dimension ({report['critical_dim']}): {share:.1f}% "
          f"(by chance: {chance:.1f}%)")  # fmt: skip
    print(f"figure: {Path(args.out).with_suffix('.png')}")


def _fourier_eval(args: argparse.Namespace) -> None:
    from videorope.studies.fourier import FourierEvalConfig, run_eval

    config = FourierEvalConfig(model=args.model, variants=tuple(args.variants.split(",")),
                               baselines=tuple(b for b in args.baselines.split(",") if b), lengths=tuple(args.lengths),
                               niah=_niah_sweep(args), sinks=args.sinks, window=args.window,
                               frequencies=args.frequencies, calibration=args.prompts, text=args.text,
                               out=args.out)  # fmt: skip
    print(run_eval(config, progress=not args.quiet).read_text())


def _finetune(args: argparse.Namespace) -> None:
    from videorope.config import load
    from videorope.train import TrainConfig, train

    print(train(load(TrainConfig, args.config, args.set), progress=not args.quiet))


def _demo(args: argparse.Namespace) -> None:
    import dataclasses

    from videorope.studies.demo import load_demo, run_demo

    config = load_demo(args.config, args.set)
    config = dataclasses.replace(config, out=args.out or config.out, retrain=args.retrain or config.retrain)
    report = run_demo(config, progress=not args.quiet)
    print((report / "summary.md").read_text())
    print(f"report: {report}")


def _lengths(text: str) -> list[int]:
    """``4k,8k,16k`` -> token counts."""
    return [_length(x) for x in text.split(",")]


def _niah_flags(p: argparse.ArgumentParser, tasks: str = "single", depths: int = 3, samples: int = 1) -> None:
    """``--tasks``, ``--depths`` and ``--samples`` of a study that runs NIAH (defaults as given)."""
    p.add_argument("--tasks", default=tasks, help=f"comma-separated NIAH tasks (default: {tasks})")
    p.add_argument("--depths", type=int, default=depths,
                   help=f"needle depths per length, evenly spaced (default {depths})")  # fmt: skip
    p.add_argument("--samples", type=int, default=samples,
                   help=f"NIAH samples per task, length and depth (default {samples})")  # fmt: skip


def _repeatable(p: argparse.ArgumentParser, flag: str, help: str, parse: Any = _option) -> None:
    """A repeatable ``KEY=VALUE`` flag, parsed by ``parse`` (``str`` leaves it to the config loader)."""
    p.add_argument(flag, type=parse, action="append", default=[], metavar="KEY=VALUE", help=help)


class _Registered(argparse.Action):
    """A flag whose choices are the names in a :mod:`videorope.rope` registry, looked up only
    when that command's help is shown or the flag is given (the registries import torch, so
    ``videorope --help`` stays fast)."""

    def __init__(self, *args: Any, registry: str, **kwargs: Any):
        self.registry = registry
        super().__init__(*args, **kwargs)

    @property
    def choices(self) -> list[str]:
        from videorope import rope

        return getattr(rope, self.registry).names()

    @choices.setter
    def choices(self, _: Any) -> None:  # argparse assigns None; the registry decides
        pass

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)


def _registered(p: argparse.ArgumentParser, flag: str, registry: str, help: str, **kwargs: Any) -> None:
    kind = registry.lower().rstrip("s")
    p.add_argument(flag, action=_Registered, registry=registry, metavar=kind.upper(), **kwargs,
                   help=f"a registered {kind} (README catalogue; a wrong name lists them); {help}")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from videorope.known_configs import KNOWN_CONFIGS

    parser = argparse.ArgumentParser(prog="videorope", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("theory", help="critical dimension, extrapolation bound and extension factors of a model")
    p.add_argument("--model", required=True, help=f"built-in name ({', '.join(KNOWN_CONFIGS)}) or a config path")
    p.add_argument(
        "--target-length", type=_length, help="context to reach, e.g. 32k: prints NTK lambda and YaRN factor"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_theory)

    p = sub.add_parser("layout", help="draw the position ids of a layout and its frequency allocation")
    _registered(p, "--layout", "LAYOUTS", "default: videorope", default="videorope")
    _registered(p, "--allocation", "ALLOCATIONS", "default: the layout's own")
    p.add_argument("--frames", type=int, default=8, help="frames after merging (default 8)")
    p.add_argument("--grid", type=_grid, default=(4, 4), help="merged grid HxW per frame (default 4x4)")
    p.add_argument("--head-dim", type=int, default=128, help="rotary dims for the allocation bar (default 128)")
    p.add_argument("--temporal-spacing", type=float, help="delta for videorope / hope")
    _repeatable(p, "--option", "any other layout option, e.g. visual_stride=0.5 (repeatable)")
    p.add_argument("--out", default="layout.png", help="image path (default layout.png)")
    p.set_defaults(run=_layout)

    p = sub.add_parser("demo", help="V-RULER in miniature: train pocket video LMs per scheme, evaluate, report")
    p.add_argument("--config", help="demo YAML (default: the pocket recipe, configs/pocket/demo.yaml)")
    p.add_argument("--out", help="output folder (default: the config's, demo/)")
    p.add_argument(
        "--retrain", action="store_true", help="train the pocket models from the recipe instead of reusing them"
    )
    _repeatable(p, "--set", "override a config key, e.g. --set train.max_steps=50 (repeatable)", str)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_demo)

    p = sub.add_parser("finetune", help="train a Qwen-VL model with a positional scheme (accelerate; resumes)")
    p.add_argument("--config", help="training YAML, e.g. configs/train/qwen2vl-videorope.yaml")
    _repeatable(p, "--set", "override a config key, e.g. --set max_steps=10 (repeatable)", str)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_finetune)

    vruler = sub.add_parser("vruler", help="V-RULER: generate a video long-context suite, evaluate, report")
    vsub = vruler.add_subparsers(dest="vruler_command", required=True, metavar="STEP")
    p = vsub.add_parser("generate", help="write haystack video, needle images and the JSONL manifest")
    p.add_argument("--config", help="suite YAML, e.g. configs/vruler/cpu-small.yaml (default: built-in defaults)")
    _repeatable(p, "--set", "override a config key, e.g. --set haystack.videos=my_videos/ (repeatable)", str)
    p.add_argument("--out", required=True, help="suite folder (created; a re-run resumes)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_vruler_generate)

    p = vsub.add_parser("eval", help="evaluate a model on a suite (resumes; accelerate launch for several GPUs)")
    p.add_argument("--suite", required=True, help="suite folder written by `videorope vruler generate`")
    p.add_argument("--model", required=True, help="local Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint, or tiny:qwen2_vl")
    p.add_argument("--out", required=True, help="run folder: results.jsonl, run.json")
    _registered(p, "--layout", "LAYOUTS", "default: videorope")
    _registered(p, "--allocation", "ALLOCATIONS", "default: the layout's own")
    p.add_argument("--scaling", help="e.g. yarn-v; default: the model's own")
    p.add_argument("--temporal-spacing", type=float, help="delta of the videorope / hope layouts")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn, yarn-v")
    p.add_argument("--target-length", type=_length, help="target of critical-ntk, e.g. 32k")
    _repeatable(p, "--option", "any other layout / allocation / scaling option (repeatable)")
    p.add_argument("--mode", choices=("teacher-forced", "generate"), default="teacher-forced")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--max-tokens", type=int, help="refuse, before running, samples longer than this")
    p.add_argument("--tasks", help="comma-separated subset of the suite's tasks")
    _repeatable(p, "--video-option", "passed to the video processor, e.g. max_pixels=50176 (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_vruler_eval)

    p = vsub.add_parser("export", help="the suite as an lmms-eval task and/or a datasets.Dataset on disk")
    p.add_argument("--suite", required=True)
    p.add_argument("--lmms-eval", metavar="DIR", help="write <name>.yaml, utils.py and the samples here")
    p.add_argument("--name", default="vruler", help="lmms-eval task name (default vruler)")
    p.add_argument("--dataset", metavar="DIR", help="save a datasets.Dataset here (save_to_disk)")
    p.set_defaults(run=_vruler_export)

    p = vsub.add_parser("report", help="markdown tables and heatmaps from run folders")
    p.add_argument("rundirs", nargs="+", help="run folders written by `videorope vruler eval`")
    p.add_argument("--out", required=True, help="report folder: report.md and PNG heatmaps")
    p.set_defaults(run=_vruler_report)

    p = sub.add_parser("extend", help="NIAH and perplexity per length-extension method vs the predicted bound")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--methods", default="none,linear,ntk,dynamic,yarn,critical-ntk", help="comma-separated scalings")
    p.add_argument("--lengths", type=_lengths, default=[4096, 8192, 12288, 16384],
                   help="comma-separated context lengths, e.g. 4k,8k,16k")  # fmt: skip
    p.add_argument("--target-length", type=_length, help="what each method is set for (default: the longest length)")
    _niah_flags(p)
    p.add_argument("--text", help="UTF-8 text for perplexity (default: Python's pydoc topics)")
    p.add_argument("--out", required=True, help="study folder: extend.md, extend.json, niah.png, runs/ (resumes)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_extend)

    p = sub.add_parser("analyze", help="attention diagnostics: pair contributions, positional heads, ablation, ...")
    p.add_argument("kind", help="contributions, positional, ablation, noise, entropy or sink (see the README)")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument(
        "--methods", default="none", help="comma-separated scalings; the first is the reference (default none)"
    )
    p.add_argument("--target-length", type=_length, help="what each method is set for (default: the longest length)")
    p.add_argument("--length", type=_length, default=4096, help="tokens of text for attention geometry (default 4k)")
    p.add_argument("--lengths", type=_lengths, default=[2048, 4096],
                   help="NIAH lengths of ablation, noise and entropy (default 2k,4k)")  # fmt: skip
    _niah_flags(p)
    p.add_argument("--text", help="UTF-8 text for attention geometry (default: Python's pydoc topics)")
    p.add_argument("--queries", type=int, default=64, help="query positions sampled per sequence (default 64)")
    p.add_argument("--keys", type=int, default=512, help="key positions sampled for pair statistics (default 512)")
    p.add_argument("--fraction", type=float, default=0.1, help="share of heads ablated (default 0.1)")
    p.add_argument("--seeds", type=int, default=3, help="random-head / noise draws (default 3)")
    p.add_argument("--energy", type=float, default=0.5, help="noise energy relative to each q/k vector (default 0.5)")
    p.add_argument("--out", required=True, help="folder: KIND.json, KIND.png, KIND.md (NIAH runs resume)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_analyze)

    fourier = sub.add_parser("fourier", help="FourierAttention KV cache: calibrate a channel plan, compare caches")
    fsub = fourier.add_subparsers(dest="fourier_command", required=True, metavar="STEP")
    p = fsub.add_parser("calibrate", help="pick the exact channels per layer and KV head; plot them vs critical dim")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--length", type=_length, default=8192, help="calibration prompt length (default 8k)")
    p.add_argument("--schedule", default="inverted-pyramid",
                   help="compressed share per layer: inverted-pyramid (default) or uniform:RATIO")  # fmt: skip
    p.add_argument("--recipe", default="original", choices=["original", "videorope"],
                   help="original (the released code's: keys before RoPE, NIAH task prompts, ranked across a "
                        "layer's heads) or videorope (cache keys, text, per head)")  # fmt: skip
    _cache_flags(p)
    p.add_argument("--out", required=True, help="plan JSON (a PNG beside it); FourierCache(FourierPlan.load(...))")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_fourier_calibrate)

    p = fsub.add_parser("eval", help="NIAH and perplexity: full cache, FourierAttention, StreamingLLM, SnapKV")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--variants", default="inverted-pyramid@original,inverted-pyramid@videorope",
                   help="FourierAttention settings, each SCHEDULE@RECIPE (recipes: original, videorope, "
                        "original-noaffine, original-fixed); the first sets the baselines' memory")  # fmt: skip
    p.add_argument("--baselines", default="streaming,snapkv", help="cache policies at equal memory ('' for none)")
    p.add_argument("--lengths", type=_lengths, default=[4096, 8192], help="NIAH and perplexity lengths (default 4k,8k)")
    _niah_flags(p, tasks="single,multikey", depths=5, samples=2)
    _cache_flags(p)
    p.add_argument("--out", required=True, help="study folder: fourier.md, fourier.json, memory.png, plans/, runs/")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_fourier_eval)

    niah = sub.add_parser("niah", help="text needle-in-a-haystack (RULER): generate samples, evaluate, report")
    nsub = niah.add_subparsers(dest="niah_command", required=True, metavar="STEP")
    p = nsub.add_parser("generate", help="write niah.jsonl: prompts of exact token lengths for a model's tokenizer")
    p.add_argument("--model", default="smollm2", help="whose tokenizer and chat template (default: smollm2)")
    p.add_argument("--config", help="NIAH YAML, e.g. configs/niah/ruler-small.yaml (default: built-in defaults)")
    _repeatable(p, "--set", "override a config key, e.g. --set lengths=[2048,4096] (repeatable)", str)
    p.add_argument("--out", required=True, help="folder for niah.jsonl and niah.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_niah_generate)

    p = nsub.add_parser("eval", help="greedy replies of a causal LM, scored by string match (resumes)")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--samples", required=True, help="niah.jsonl written by `videorope niah generate`")
    p.add_argument("--out", required=True, help="run folder: results.jsonl, run.json")
    p.add_argument("--scaling", help="length extension, e.g. yarn, ntk, critical-ntk; default: the model's own")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn")
    p.add_argument("--target-length", type=_length, help="target of critical-ntk, e.g. 16k")
    _repeatable(p, "--option", "any other scaling option (repeatable)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, help="default: enough for the sample's answers")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_niah_eval)

    p = nsub.add_parser("report", help="tables, length x depth heatmaps and accuracy-vs-length curves")
    p.add_argument("rundirs", nargs="+", help="run folders written by `videorope niah eval`")
    p.add_argument("--out", required=True, help="report folder: niah.md and PNGs")
    p.set_defaults(run=_niah_report)

    llada = sub.add_parser("llada", help="LLaDA, the masked diffusion LM: NIAH through its sampler")
    lsub = llada.add_subparsers(dest="llada_command", required=True, metavar="STEP")
    p = lsub.add_parser("niah", help="NIAH samples, replies by the LLaDA sampler, heatmaps (resumes)")
    p.add_argument(
        "--model", required=True, help="a local LLaDA checkpoint folder (config.json, safetensors, tokenizer)"
    )
    p.add_argument("--lengths", type=_lengths, default=[4096, 8192], help="NIAH lengths (default 4k,8k)")
    p.add_argument("--scaling", help="length extension, e.g. critical-ntk (LongLLaDA); default: none")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn")
    p.add_argument("--target-length", type=_length, help="target of critical-ntk, e.g. 24k")
    _repeatable(p, "--option", "any other scaling option (repeatable)")
    _niah_flags(p)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--out", required=True, help="folder: niah/ (samples), run/ (replies), report/ (tables, PNGs)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_llada_niah)
    return parser


def _version() -> str:
    from videorope import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as err:  # user errors; anything else is a bug: traceback
        print(f"videorope {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
