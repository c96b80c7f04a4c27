"""``videorope vruler``: generate a suite, evaluate a model on it, export it, report."""

from __future__ import annotations

import argparse

from videorope.cli.flags import length, positional_options, quiet, registered, repeatable


def _vruler_generate(args: argparse.Namespace) -> None:
    from videorope.config import load
    from videorope.vruler.suite import SuiteConfig, generate_suite

    config = load(SuiteConfig, args.config, args.set)
    print(generate_suite(config, args.out, progress=not args.quiet, force=args.force))


def _vruler_eval(args: argparse.Namespace) -> None:
    from videorope.vruler.runner import EvalConfig, evaluate

    options = positional_options(args, ("temporal_spacing", "factor", "target_length"))
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


def add(sub: argparse._SubParsersAction) -> None:
    """The vruler group."""
    vruler = sub.add_parser("vruler", help="V-RULER: generate a video long-context suite, evaluate, report")
    vsub = vruler.add_subparsers(dest="vruler_command", required=True, metavar="STEP")
    p = vsub.add_parser("generate", help="write haystack video, needle images and the JSONL manifest")
    p.add_argument("--config", help="suite YAML, e.g. configs/vruler/cpu-small.yaml (default: built-in defaults)")
    repeatable(p, "--set", "override a config key, e.g. --set haystack.videos=my_videos/ (repeatable)", str)
    p.add_argument("--out", required=True, help="suite folder (created; a re-run resumes)")
    p.add_argument("--force", action="store_true", help="start even when the size estimate says it cannot fit")
    quiet(p)
    p.set_defaults(run=_vruler_generate)

    p = vsub.add_parser("eval", help="evaluate a model on a suite (resumes; accelerate launch for several GPUs)")
    p.add_argument("--suite", required=True, help="suite folder written by `videorope vruler generate`")
    p.add_argument("--model", required=True, help="local Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint, or tiny:qwen2_vl")
    p.add_argument("--out", required=True, help="run folder: results.jsonl, run.json")
    registered(p, "--layout", "LAYOUTS", "default: videorope")
    registered(p, "--allocation", "ALLOCATIONS", "default: the layout's own")
    p.add_argument("--scaling", help="e.g. yarn-v; default: the model's own")
    p.add_argument("--temporal-spacing", type=float, help="delta of the videorope / hope layouts")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn, yarn-v")
    p.add_argument("--target-length", type=length, help="target of critical-ntk, e.g. 32k")
    repeatable(p, "--option", "any other layout / allocation / scaling option (repeatable)")
    p.add_argument("--mode", choices=("teacher-forced", "generate"), default="teacher-forced")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--max-tokens", type=int, help="refuse, before running, samples longer than this")
    p.add_argument("--tasks", help="comma-separated subset of the suite's tasks")
    repeatable(p, "--video-option", "passed to the video processor, e.g. max_pixels=50176 (repeatable)")
    quiet(p, "no progress bar")
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
