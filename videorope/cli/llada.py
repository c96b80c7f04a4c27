"""``videorope llada``: LLaDA, the masked diffusion LM, through its sampler."""

from __future__ import annotations

import argparse

from videorope.cli.flags import length, lengths, niah_flags, niah_sweep, positional_options, quiet, repeatable


def _llada_niah(args: argparse.Namespace) -> None:
    from videorope.studies.llada import run_niah

    options = positional_options(args, ("factor", "target_length"))
    report = run_niah(args.model, args.out, tuple(args.lengths), niah_sweep(args), args.scaling, options,
                      args.batch_size, progress=not args.quiet)  # fmt: skip
    print(report.read_text())


def add(sub: argparse._SubParsersAction) -> None:
    """The llada group."""
    llada = sub.add_parser("llada", help="LLaDA, the masked diffusion LM: NIAH through its sampler")
    lsub = llada.add_subparsers(dest="llada_command", required=True, metavar="STEP")
    p = lsub.add_parser("niah", help="NIAH samples, replies by the LLaDA sampler, heatmaps (resumes)")
    p.add_argument(
        "--model", required=True, help="a local LLaDA checkpoint folder (config.json, safetensors, tokenizer)"
    )
    p.add_argument("--lengths", type=lengths, default=[4096, 8192], help="NIAH lengths (default 4k,8k)")
    p.add_argument("--scaling", help="length extension, e.g. critical-ntk (LongLLaDA); default: none")
    p.add_argument("--factor", type=float, help="scale factor of linear, ntk, dynamic, yarn")
    p.add_argument("--target-length", type=length, help="target of critical-ntk, e.g. 24k")
    repeatable(p, "--option", "any other scaling option (repeatable)")
    niah_flags(p)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--out", required=True, help="folder: niah/ (samples), run/ (replies), report/ (tables, PNGs)")
    quiet(p, "no progress bar")
    p.set_defaults(run=_llada_niah)
