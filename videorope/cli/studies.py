"""``videorope extend`` and ``videorope analyze``: the text studies of length extension and attention."""

from __future__ import annotations

import argparse

from videorope.cli.flags import length, lengths, niah_flags, niah_sweep, quiet


def _extend(args: argparse.Namespace) -> None:
    from videorope.studies.extend import ExtendConfig, run_extend

    niah = niah_sweep(args)
    config = ExtendConfig(model=args.model, methods=tuple(args.methods.split(",")), lengths=tuple(args.lengths),
                          target_length=args.target_length, niah=niah, text=args.text, out=args.out)  # fmt: skip
    print(run_extend(config, progress=not args.quiet).read_text())


def _analyze(args: argparse.Namespace) -> None:
    from videorope.studies.analysis import AnalyzeConfig, analyze

    niah = niah_sweep(args)
    config = AnalyzeConfig(model=args.model, methods=tuple(args.methods.split(",")), target_length=args.target_length,
                           length=args.length, lengths=tuple(args.lengths), niah=niah, text=args.text,
                           queries=args.queries, keys=args.keys, fraction=args.fraction, seeds=args.seeds,
                           energy=args.energy, out=args.out)  # fmt: skip
    path = analyze(args.kind, config, progress=not args.quiet)
    print(path.with_suffix(".md").read_text())
    print(f"data: {path}\nfigure: {path.with_suffix('.png')}")


def add(sub: argparse._SubParsersAction) -> None:
    """The extend and analyze commands."""
    p = sub.add_parser("extend", help="NIAH and perplexity per length-extension method vs the predicted bound")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--methods", default="none,linear,ntk,dynamic,yarn,critical-ntk", help="comma-separated scalings")
    p.add_argument("--lengths", type=lengths, default=[4096, 8192, 12288, 16384],
                   help="comma-separated context lengths, e.g. 4k,8k,16k")  # fmt: skip
    p.add_argument("--target-length", type=length, help="what each method is set for (default: the longest length)")
    niah_flags(p)
    p.add_argument("--text", help="UTF-8 text for perplexity (default: Python's pydoc topics)")
    p.add_argument("--out", required=True, help="study folder: extend.md, extend.json, niah.png, runs/ (resumes)")
    quiet(p)
    p.set_defaults(run=_extend)

    p = sub.add_parser("analyze", help="attention diagnostics: pair contributions, positional heads, ablation, ...")
    p.add_argument("kind", help="contributions, positional, ablation, noise, entropy or sink (see the README)")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument(
        "--methods", default="none", help="comma-separated scalings; the first is the reference (default none)"
    )
    p.add_argument("--target-length", type=length, help="what each method is set for (default: the longest length)")
    p.add_argument("--length", type=length, default=4096, help="tokens of text for attention geometry (default 4k)")
    p.add_argument("--lengths", type=lengths, default=[2048, 4096],
                   help="NIAH lengths of ablation, noise and entropy (default 2k,4k)")  # fmt: skip
    niah_flags(p)
    p.add_argument("--text", help="UTF-8 text for attention geometry (default: Python's pydoc topics)")
    p.add_argument("--queries", type=int, default=64, help="query positions sampled per sequence (default 64)")
    p.add_argument("--keys", type=int, default=512, help="key positions sampled for pair statistics (default 512)")
    p.add_argument("--fraction", type=float, default=0.1, help="share of heads ablated (default 0.1)")
    p.add_argument("--seeds", type=int, default=3, help="random-head / noise draws (default 3)")
    p.add_argument("--energy", type=float, default=0.5, help="noise energy relative to each q/k vector (default 0.5)")
    p.add_argument("--out", required=True, help="folder: KIND.json, KIND.png, KIND.md (NIAH runs resume)")
    quiet(p)
    p.set_defaults(run=_analyze)
