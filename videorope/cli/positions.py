"""``videorope theory`` and ``videorope layout``: what a model's rotary predicts, and what a layout draws."""

from __future__ import annotations

import argparse
import json

from videorope.cli.flags import grid, length, positional_options, registered, repeatable


def _theory(args: argparse.Namespace) -> None:
    from videorope import theory

    result = theory.report(args.model, target_length=args.target_length)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.format())


def _layout(args: argparse.Namespace) -> None:
    from videorope.viz import plot_layout, save_figure

    options = positional_options(args, ("temporal_spacing",))
    fig = plot_layout(args.layout, args.frames, args.grid, args.allocation, args.head_dim, **options)
    print(save_figure(fig, args.out))


def add(sub: argparse._SubParsersAction) -> None:
    """The theory and layout commands."""
    from videorope.known_configs import KNOWN_CONFIGS

    p = sub.add_parser("theory", help="critical dimension, extrapolation bound and extension factors of a model")
    p.add_argument("--model", required=True, help=f"built-in name ({', '.join(KNOWN_CONFIGS)}) or a config path")
    p.add_argument("--target-length", type=length, help="context to reach, e.g. 32k: prints NTK lambda and YaRN factor")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_theory)

    p = sub.add_parser("layout", help="draw the position ids of a layout and its frequency allocation")
    registered(p, "--layout", "LAYOUTS", "default: videorope", default="videorope")
    registered(p, "--allocation", "ALLOCATIONS", "default: the layout's own")
    p.add_argument("--frames", type=int, default=8, help="frames after merging (default 8)")
    p.add_argument("--grid", type=grid, default=(4, 4), help="merged grid HxW per frame (default 4x4)")
    p.add_argument("--head-dim", type=int, default=128, help="rotary dims for the allocation bar (default 128)")
    p.add_argument("--temporal-spacing", type=float, help="delta for videorope / hope")
    repeatable(p, "--option", "any other layout option, e.g. visual_stride=0.5 (repeatable)")
    p.add_argument("--out", default="layout.png", help="image path (default layout.png)")
    p.set_defaults(run=_layout)
