"""What the command groups share: argument types (lengths like ``8k``, ``HxW`` grids,
``KEY=VALUE`` options), flags whose choices are a registry's names (looked up only when
needed, so ``videorope --help`` stays fast), and the NIAH sweep flags of the studies."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = [
    "Registered",
    "grid",
    "length",
    "lengths",
    "niah_flags",
    "niah_sweep",
    "option",
    "positional_options",
    "quiet",
    "registered",
    "repeatable",
]


def length(text: str) -> int:
    """``8192``, ``8k`` or ``1m`` -> tokens (k = 1024)."""
    scale = {"k": 1024, "m": 1024**2}.get(text[-1:].lower(), 1)
    try:
        value = int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a length; use e.g. 8192, 8k or 1m") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"length must be positive, got {text!r}")
    return value


def lengths(text: str) -> list[int]:
    """``4k,8k,16k`` -> token counts."""
    return [length(x) for x in text.split(",")]


def grid(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"grid {text!r} must look like HxW, e.g. 4x4") from None
    return h, w


def option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"option {text!r} must look like key=value")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def repeatable(p: argparse.ArgumentParser, flag: str, help: str, parse: Any = option) -> None:
    """A repeatable ``KEY=VALUE`` flag, parsed by ``parse`` (``str`` leaves it to the config loader)."""
    p.add_argument(flag, type=parse, action="append", default=[], metavar="KEY=VALUE", help=help)


class Registered(argparse.Action):
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


def registered(p: argparse.ArgumentParser, flag: str, registry: str, help: str, **kwargs: Any) -> None:
    kind = registry.lower().rstrip("s")
    p.add_argument(flag, action=Registered, registry=registry, metavar=kind.upper(), **kwargs,
                   help=f"a registered {kind} (README catalogue; a wrong name lists them); {help}")  # fmt: skip


def positional_options(args: argparse.Namespace, flags: tuple[str, ...]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs plus the named positional flags that were given."""
    options = dict(args.option)
    options.update({key: getattr(args, key) for key in flags if getattr(args, key) is not None})
    return options


def niah_flags(p: argparse.ArgumentParser, tasks: str = "single", depths: int = 3, samples: int = 1) -> None:
    """``--tasks``, ``--depths`` and ``--samples`` of a study that runs NIAH (defaults as given)."""
    p.add_argument("--tasks", default=tasks, help=f"comma-separated NIAH tasks (default: {tasks})")
    p.add_argument("--depths", type=int, default=depths,
                   help=f"needle depths per length, evenly spaced (default {depths})")  # fmt: skip
    p.add_argument("--samples", type=int, default=samples,
                   help=f"NIAH samples per task, length and depth (default {samples})")  # fmt: skip


def niah_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """The NIAH overrides that ``--tasks``, ``--depths`` and ``--samples`` give (see :func:`niah_flags`)."""
    return {"depths": args.depths, "samples_per_cell": args.samples, "tasks": {t: {} for t in args.tasks.split(",")}}


def quiet(p: argparse.ArgumentParser, what: str = "no progress bars") -> None:
    """``-q`` / ``--quiet``."""
    p.add_argument("-q", "--quiet", action="store_true", help=what)
