"""V-NIAH and V-NIAH-D: one needle at a depth; optionally one look-alike distractor at +-D frames."""

from __future__ import annotations

import random

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import retrieval_needle
from videorope.vruler.placement import depth_position, distractor_position
from videorope.vruler.tasks.base import TASKS, Cell, Material, make_sample


@TASKS.register(
    "v-niah",
    paper="LongVA (Zhang et al., 2024); VideoRoPE (Wei et al., ICML 2025)",
    summary="one needle image at a depth; what number is on the <colour> <object>? (or its colour or shape: `ask`)",
    options={"ask": "label", "n_options": 4, "labels": None},
    uses_depth=True,
)
def v_niah(cell: Cell, material: Material, *, ask: str | list[str], n_options: int, labels: list[str] | None) -> Sample:
    """``ask``: the attribute asked ("label", "colour" or "object"), or a list of them, one
    drawn per sample from its seed (e.g. to teach a model colours and shapes as well as numbers)."""
    if not isinstance(ask, str):
        ask = random.Random(f"ask-{cell.seed}").choice(ask)
    needle = (
        material.retrieval(cell.seed, n_options, labels)
        if ask == "label"
        else retrieval_needle(cell.seed, ask=ask, n_options=n_options, labels=labels)
    )
    position = depth_position(cell.frame_count, cell.depth)
    return make_sample(
        cell, material, [(position, needle, "needle")], needle.question, needle.answer, "choice", needle.options
    )


@TASKS.register(
    "v-niah-d",
    paper="VideoRoPE (Wei et al., ICML 2025)",
    summary="V-NIAH plus a look-alike distractor `distance` frames away (random side, forced to the side that fits)",
    options={"distance": 200, "n_options": 4, "labels": None, "lure_differs": None},
    uses_depth=True,
)
def v_niah_d(
    cell: Cell, material: Material, *, distance: int, n_options: int, labels: list[str] | None,
    lure_differs: list[str] | None,
) -> Sample:  # fmt: skip
    """``lure_differs``: the attributes in which the look-alike differs besides its label
    (default: its colour; ``[colour, object]`` is easier to tell apart)."""
    rng = cell.rng
    needle = material.retrieval(cell.seed, n_options, labels)
    position = depth_position(cell.frame_count, cell.depth)
    inserts = [(position, needle, "needle")]
    other = distractor_position(cell.frame_count, position, distance, rng)
    lure = material.look_alike(needle, rng, lure_differs) if other is not None else None
    if lure is not None:
        inserts.append((other, lure, "distractor"))
    return make_sample(
        cell, material, inserts, needle.question, needle.answer, "choice", needle.options, {"distance": distance}
    )
