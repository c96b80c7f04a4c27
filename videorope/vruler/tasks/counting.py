"""Counting: needle images with k objects each, spread evenly; count them all."""

from __future__ import annotations

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import counting_needles
from videorope.vruler.placement import spread_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample


@TASKS.register(
    "counting",
    paper="VideoRoPE++ (Wei et al., 2025)",
    summary="1-2 needle images of k copies of one object, spread evenly; how many in total?",
    options={"images": (1, 2), "objects": (0, 9), "n_options": 4},
    uses_depth=False,
)
def counting(
    cell: Cell, material: Material, *, images: tuple[int, int], objects: tuple[int, int], n_options: int
) -> Sample:
    rng = cell.rng
    counts = [rng.randint(*objects) for _ in range(rng.randint(*images))]
    needles = counting_needles(cell.seed, counts, n_options=n_options)
    positions = spread_positions(cell.frame_count, len(needles))
    return group_sample(cell, material, positions, needles, "choice", {"counts": counts})
