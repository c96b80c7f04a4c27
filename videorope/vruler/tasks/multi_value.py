"""Multi-key multi-value: needles sharing a key and differing in value, inside a depth window."""

from __future__ import annotations

import random

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import (
    COLOURS,
    LABEL_RANGE,
    OBJECTS,
    NeedleSpec,
    check_n_options,
    drawn_spec,
    new_label,
    shuffled_options,
)
from videorope.vruler.placement import window_positions
from videorope.vruler.tasks.base import TASKS, Cell, Material, group_sample

__all__ = ["multi_value_needles"]


def multi_value_needles(seed: int, n: int = 3, *, n_options: int = 4) -> list[NeedleSpec]:
    """Multi-key multi-value: ``n`` (>= 2) needles sharing the key (object + colour) with distinct labels.

    The list order is the order of appearance. Question "What numbers are written on the
    <colour> <object>s, in order of appearance?", answer the labels in list order joined by
    ", ". Options: the answer, other orders of the same labels, and lists with one label
    replaced; distinct, shuffled.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 8:
        raise ValueError(f"n must be an int in [2, 8], got {n!r}")
    check_n_options(n_options)
    rng = random.Random(seed)
    obj, colour = rng.choice(OBJECTS), rng.choice(list(COLOURS))
    labels = [str(v) for v in rng.sample(range(LABEL_RANGE[0], LABEL_RANGE[1] + 1), n)]
    answer = ", ".join(labels)
    alternatives: list[str] = []
    for _ in range(100 * n_options):
        alt = list(labels)
        if rng.random() < 0.5:
            rng.shuffle(alt)
        else:
            alt[rng.randrange(n)] = new_label(rng, avoid=labels)
        text = ", ".join(alt)
        if text != answer and text not in alternatives:
            alternatives.append(text)
            if len(alternatives) == n_options - 1:
                break
    else:
        raise ValueError(f"could not draw n_options={n_options} distinct options for {n} labels; ask for fewer")
    question = f"What numbers are written on the {colour} {obj}s, in order of appearance?"
    options = shuffled_options(rng, answer, alternatives, n_options)
    return [
        drawn_spec(
            question=question,
            answer=answer,
            options=options,
            kind="multi_value",
            asked="labels",
            object=obj,
            colour=colour,
            label=label,
        )
        for label in labels
    ]


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
