"""Ordering: 2-4 clearly distinct needles spread evenly; give their order of appearance."""

from __future__ import annotations

import random
from itertools import permutations

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import COLOURS, OBJECTS, NeedleSpec, check_n_options, drawn_spec, shuffled_options
from videorope.vruler.placement import spread_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample

__all__ = ["ordering_needles"]


def ordering_needles(seed: int, n: int = 3, *, n_options: int = 4) -> list[NeedleSpec]:
    """``n`` (2 to 4) needles for "In which order do these appear?", pairwise different in object AND colour.

    Each is one unlabelled object. The list order is the order of appearance; the answer
    names them in that order ("red star, blue heart, green circle") and the options are
    ``min(n_options, n!)`` distinct orders of the same objects, shuffled.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 4:
        raise ValueError(f"n must be an int in [2, 4], got {n!r}")
    check_n_options(n_options)
    rng = random.Random(seed)
    pairs = list(zip(rng.sample(OBJECTS, n), rng.sample(list(COLOURS), n), strict=True))
    names = [f"{c} {o}" for o, c in pairs]
    answer = ", ".join(names)
    orders = [", ".join(p) for p in permutations(names)]
    options = shuffled_options(rng, answer, orders, n_options)
    question = "In which order do these objects appear in the video: " + ", ".join(sorted(names)) + "?"
    return [
        drawn_spec(
            question=question, answer=answer, options=options, kind="ordering", asked="order", object=o, colour=c
        )
        for o, c in pairs
    ]


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
