"""Frequency allocation: which axis (t, h or w) each rotary frequency index serves.

Frequency index ``i`` has ``theta_i = base**(-2i/d)``; index 0 is the HIGHEST frequency.
In the rotate-half layout pair ``i`` is channels ``i`` and ``i + d/2``, and both halves
use the same axis. Each allocation is a pure function ``fn(n, **options) -> list[str]`` of
the number of frequencies ``n = rotary_dim / 2``, registered in :data:`ALLOCATIONS`.
An entry's ``zero_axes`` meta lists axes whose frequencies are set to zero (HoPE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videorope.registry import Registry

__all__ = ["ALLOCATIONS", "frequency_axes"]

ALLOCATIONS = Registry("allocation")


def _sections(name: str, sections: Sequence[int] | None, n: int, default: tuple[int, int, int]) -> list[int]:
    """Validated (t, h, w) section sizes; ``default`` is the 64-frequency split, scaled to ``n``."""
    if sections is None:
        h = round(n * default[1] / 64)
        w = round(n * default[2] / 64)
        return [n - h - w, h, w]
    sections = [int(x) for x in sections]
    if len(sections) != 3 or sum(sections) != n or min(sections) < 0:
        raise ValueError(
            f"{name} sections {list(sections)} must be three non-negative sizes (t, h, w) summing to "
            f"head_dim/2 = {n}; e.g. {_sections(name, None, n, default)}"
        )
    return sections


@ALLOCATIONS.register(
    "mrope",
    paper="Qwen2-VL (Wang et al., 2024)",
    summary="chunked: t on the highest frequencies, then h, then w (mrope_section)",
    options={"sections": None},
)
def mrope(n: int, *, sections: Sequence[int] | None) -> list[str]:
    t, h, w = _sections("mrope", sections, n, (16, 24, 24))
    return ["t"] * t + ["h"] * h + ["w"] * w


@ALLOCATIONS.register(
    "interleaved",
    paper="Qwen3-VL (Qwen team, 2025)",
    summary="h at 1,4,7,..., w at 2,5,8,..., t at 0,3,6,... and the remaining tail",
    options={"sections": None},
)
def interleaved(n: int, *, sections: Sequence[int] | None) -> list[str]:
    _, h, w = _sections("interleaved", sections, n, (24, 20, 20))
    if 3 * h - 2 >= n or 3 * w - 1 >= n:
        raise ValueError(
            f"interleaved sections h={h}, w={w} do not fit {n} frequencies (need 3h-2 and 3w-1 < {n}); "
            "give t the larger share"
        )
    axes = ["t"] * n
    for i in range(1, 3 * h, 3):
        axes[i] = "h"
    for i in range(2, 3 * w, 3):
        axes[i] = "w"
    return axes


def lta(n: int, *, temporal: int | None) -> list[str]:
    """Low-frequency temporal allocation: h/w alternate on the high frequencies, t on the
    ``temporal`` lowest (default a quarter of them)."""
    temporal = n // 4 if temporal is None else int(temporal)
    if not 0 <= temporal <= n:
        raise ValueError(f"temporal={temporal} frequencies must lie in [0, head_dim/2 = {n}]")
    spatial = n - temporal
    return ["h" if i % 2 == 0 else "w" for i in range(spatial)] + ["t"] * temporal


ALLOCATIONS.register(
    "videorope",
    paper="VideoRoPE (Wei et al., ICML 2025)",
    summary="low-frequency temporal allocation (LTA): h/w interleaved on the high frequencies, t on the lowest quarter",
    options={"temporal": None},
)(lta)
ALLOCATIONS.register(
    "hope",
    paper="HoPE (Li et al., NeurIPS 2025)",
    summary="LTA with the temporal frequencies set to zero (no rotation along time)",
    options={"temporal": None},
    zero_axes=("t",),
)(lta)


@ALLOCATIONS.register(
    "vanilla",
    paper="RoFormer (Su et al., 2021)",
    summary="every frequency reads the temporal (1D) position",
)
def vanilla(n: int) -> list[str]:
    return ["t"] * n


def frequency_axes(allocation: str, head_dim: int, **options: Any) -> list[str]:
    """``"t"``, ``"h"`` or ``"w"`` for each of the ``head_dim // 2`` frequency indices."""
    if head_dim < 2 or head_dim % 2:
        raise ValueError(f"head_dim (rotary dims) must be a positive even number, got {head_dim}")
    return ALLOCATIONS[allocation].fn(head_dim // 2, **ALLOCATIONS.resolve(allocation, options))
