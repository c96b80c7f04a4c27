"""``videorope demo`` (the main job) and ``videorope finetune``."""

from __future__ import annotations

import argparse

from videorope.cli.flags import quiet, repeatable


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


def add(sub: argparse._SubParsersAction) -> None:
    """The demo and finetune commands."""
    p = sub.add_parser("demo", help="V-RULER in miniature: train pocket video LMs per scheme, evaluate, report")
    p.add_argument("--config", help="demo YAML (default: the pocket recipe, configs/pocket/demo.yaml)")
    p.add_argument("--out", help="output folder (default: the config's, demo/)")
    p.add_argument(
        "--retrain", action="store_true", help="train the pocket models from the recipe instead of reusing them"
    )
    repeatable(p, "--set", "override a config key, e.g. --set train.max_steps=50 (repeatable)", str)
    quiet(p)
    p.set_defaults(run=_demo)

    p = sub.add_parser("finetune", help="train a Qwen-VL model with a positional scheme (accelerate; resumes)")
    p.add_argument("--config", help="training YAML, e.g. configs/train/qwen2vl-videorope.yaml")
    repeatable(p, "--set", "override a config key, e.g. --set max_steps=10 (repeatable)", str)
    quiet(p, "no progress bar")
    p.set_defaults(run=_finetune)
