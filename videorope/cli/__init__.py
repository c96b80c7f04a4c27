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
import signal
import sys
from collections.abc import Sequence

from videorope.cli import fourier, llada, niah, positions, studies, train, vruler

__all__ = ["build_parser", "main"]

GROUPS = (positions, train, vruler, studies, fourier, niah, llada)
"""One module per command group, in the order ``videorope --help`` lists them; each adds its
parsers with ``add(sub)`` and imports what its commands run only when they run."""


USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError)
"""What a user's input causes (each names the input); reported in one line, exit status 2."""


def _version() -> str:
    from videorope import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videorope", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add(sub)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: temporaries are removed, locks released


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args.run(args)
    except USER_ERRORS as err:  # anything else is a bug: traceback
        print(f"videorope {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0
