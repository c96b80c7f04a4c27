"""Counting: needle images with k objects each, spread evenly; count them all."""

from __future__ import annotations

import random
from collections.abc import Sequence

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import (
    COLOURS,
    MAX_COUNT,
    OBJECTS,
    NeedleSpec,
    check_n_options,
    drawn_spec,
    shuffled_options,
)
from videorope.vruler.placement import spread_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample

__all__ = ["counting_needles"]


def counting_needles(seed: int, counts: Sequence[int], *, n_options: int = 4) -> list[NeedleSpec]:
    """Counting needles: one image per entry of ``counts``, each with that many copies of one object.

    All images show the same object in the same colour (drawn from ``seed``); spec ``i``
    has ``count == counts[i]`` (its per-image count) and its own ``layout_seed``. Every
    spec carries the group's question "How many <colour> <object>s are shown in total?",
    answer ``str(sum(counts))``, and ``n_options`` options: the answer and nearby
    non-negative integers, shuffled.
    """
    check_n_options(n_options)
    counts = list(counts)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_COUNT for k in counts):
        raise ValueError(f"counts must be a non-empty list of ints in [0, {MAX_COUNT}], got {counts!r}")
    rng = random.Random(seed)
    obj, colour = rng.choice(OBJECTS), rng.choice(list(COLOURS))
    total = sum(counts)
    near = [str(total + d) for d in range(-n_options, n_options + 1) if total + d >= 0 and d != 0]
    near.sort(key=lambda s: abs(int(s) - total))
    options = shuffled_options(rng, str(total), near[: n_options - 1], n_options)
    question = f"How many {colour} {obj}s are shown in total?"
    return [
        drawn_spec(
            question=question,
            answer=str(total),
            options=options,
            kind="counting",
            asked="count",
            object=obj,
            colour=colour,
            count=k,
            layout_seed=rng.randrange(2**31),
        )
        for k in counts
    ]


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
