"""``videorope fourier``: calibrate a FourierAttention channel plan, compare caches."""

from __future__ import annotations

import argparse
from pathlib import Path

from videorope.cli.flags import length, lengths, niah_flags, niah_sweep, quiet


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
                               niah=niah_sweep(args), sinks=args.sinks, window=args.window,
                               frequencies=args.frequencies, calibration=args.prompts, text=args.text,
                               out=args.out)  # fmt: skip
    print(run_eval(config, progress=not args.quiet).read_text())


def add(sub: argparse._SubParsersAction) -> None:
    """The fourier group."""
    fourier = sub.add_parser("fourier", help="FourierAttention KV cache: calibrate a channel plan, compare caches")
    fsub = fourier.add_subparsers(dest="fourier_command", required=True, metavar="STEP")
    p = fsub.add_parser("calibrate", help="pick the exact channels per layer and KV head; plot them vs critical dim")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--length", type=length, default=8192, help="calibration prompt length (default 8k)")
    p.add_argument("--schedule", default="inverted-pyramid",
                   help="compressed share per layer: inverted-pyramid (default) or uniform:RATIO")  # fmt: skip
    p.add_argument("--recipe", default="original", choices=["original", "videorope"],
                   help="original (the released code's: keys before RoPE, NIAH task prompts, ranked across a "
                        "layer's heads) or videorope (cache keys, text, per head)")  # fmt: skip
    _cache_flags(p)
    p.add_argument("--out", required=True, help="plan JSON (a PNG beside it); FourierCache(FourierPlan.load(...))")
    quiet(p, "no progress bar")
    p.set_defaults(run=_fourier_calibrate)

    p = fsub.add_parser("eval", help="NIAH and perplexity: full cache, FourierAttention, StreamingLLM, SnapKV")
    p.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    p.add_argument("--variants", default="inverted-pyramid@original,inverted-pyramid@videorope",
                   help="FourierAttention settings, each SCHEDULE@RECIPE (recipes: original, videorope, "
                        "original-noaffine, original-fixed); the first sets the baselines' memory")  # fmt: skip
    p.add_argument("--baselines", default="streaming,snapkv", help="cache policies at equal memory ('' for none)")
    p.add_argument("--lengths", type=lengths, default=[4096, 8192], help="NIAH and perplexity lengths (default 4k,8k)")
    niah_flags(p, tasks="single,multikey", depths=5, samples=2)
    _cache_flags(p)
    p.add_argument("--out", required=True, help="study folder: fourier.md, fourier.json, memory.png, plans/, runs/")
    quiet(p)
    p.set_defaults(run=_fourier_eval)
