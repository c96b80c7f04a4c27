"""Ordering: 2-4 clearly distinct needles spread evenly; give their order of appearance."""

from __future__ import annotations

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import ordering_needles
from videorope.vruler.placement import spread_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample


@TASKS.register(
    "ordering",
    paper="VideoRoPE++ (Wei et al., 2025)",
    summary="2-4 needles differing in object and colour, spread evenly; in which order do they appear?",
    options={"needles": (2, 4), "n_options": 4},
    uses_depth=False,
)
def ordering(cell: Cell, material: Material, *, needles: tuple[int, int], n_options: int) -> Sample:
    specs = ordering_needles(cell.seed, cell.rng.randint(*needles), n_options=n_options)
    return group_sample(cell, material, spread_positions(cell.frame_count, len(specs)), specs, "list-ordered")
