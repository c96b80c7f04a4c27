"""Multi-key multi-value: needles sharing a key and differing in value, inside a depth window."""

from __future__ import annotations

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import multi_value_needles
from videorope.vruler.placement import window_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample


@TASKS.register(
    "multi-key-multi-value",
    paper="VideoRoPE++ (Wei et al., 2025)",
    summary="3-4 needles with the same object and colour, different numbers, at sorted frames in [d, d+0.1)",
    options={"values": (3, 4), "window": 0.1, "n_options": 4},
    uses_depth=True,
)
def multi_key_multi_value(
    cell: Cell, material: Material, *, values: tuple[int, int], window: float, n_options: int
) -> Sample:
    rng = cell.rng
    needles = multi_value_needles(cell.seed, rng.randint(*values), n_options=n_options)
    positions = window_positions(cell.frame_count, cell.depth, len(needles), window, rng)
    return group_sample(cell, material, positions, needles, "list-ordered")
