"""``videorope niah``: text needle-in-a-haystack samples, replies, reports."""

from __future__ import annotations

import argparse

from videorope.cli.flags import length, positional_options, quiet, repeatable


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

    options = positional_options(args, ("factor", "target_length"))
    model, tokenizer = load_model(args.model)
    if args.scaling or options:
        model = videorope.apply(model, scaling=args.scaling, **options)
    results = evaluate(model, tokenizer, args.samples, args.out, name=args.model, batch_size=args.batch_size,
                       max_new_tokens=args.max_new_tokens, progress=not args.quiet)  # fmt: skip
    print(results)


def _niah_report(args: argparse.Namespace) -> None:
    from videorope.niah import report

    print(report(args.rundirs, args.out))


def add(sub: argparse._SubParsersAction) -> None:
    """The niah group."""
    niah = sub.add_parser("niah", help="text needle-in-a-haystack (RULER): generate samples, evaluate, report")
    nsub = niah.add_subparsers(dest="niah_command", required=True, metavar="STEP")
    p = nsub.add_parser("generate", help="write niah.jsonl: prompts of exact token lengths for a model's tokenizer")
    p.add_argument("--model", default="smollm2", help="whose tokenizer and chat template (default: smollm2)")
    p.add_argument("--config", help="NIAH YAML, e.g. configs/niah/ruler-small.yaml (default: built-in defaults)")
    repeatable(p, "--set", "override a config key, e.g. --set lengths=[2048,4096] (repeatable)", str)
    p.add_argument("--out", required=True, help="folder for niah.jsonl and niah.json")
    quiet(p, "no progress bar")
    p.set_defaults(run=_niah_generate)

    p = nsub.add_parser("eval", help="greedy replies of a causal LM, scored by string match (resumes)")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--samples", required=True, help="niah.jsonl written by `videorope niah generate`")
    p.add_argument("--out", required=True, help="run folder: results.jsonl, run.json")
    p.add_argument("--scaling", help="length extension, e.g. yarn, ntk, critical-ntk; default: the model's own")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn")
    p.add_argument("--target-length", type=length, help="target of critical-ntk, e.g. 16k")
    repeatable(p, "--option", "any other scaling option (repeatable)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, help="default: enough for the sample's answers")
    quiet(p, "no progress bar")
    p.set_defaults(run=_niah_eval)

    p = nsub.add_parser("report", help="tables, length x depth heatmaps and accuracy-vs-length curves")
    p.add_argument("rundirs", nargs="+", help="run folders written by `videorope niah eval`")
    p.add_argument("--out", required=True, help="report folder: niah.md and PNGs")
    p.set_defaults(run=_niah_report)
