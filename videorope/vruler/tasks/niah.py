"""V-NIAH and V-NIAH-D: one needle at a depth; optionally one look-alike distractor at +-D frames.

Owns the retrieval needle's generator (:func:`retrieval_needle`), its look-alikes
(:func:`look_alikes`) and the choice between a user's needles and drawn ones
(:func:`retrieval`, :func:`look_alike`), which the stack task shares.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from videorope.vruler.manifest import Sample
from videorope.vruler.needles import (
    COLOURS,
    LABEL_RANGE,
    OBJECTS,
    NeedleSpec,
    check_label,
    check_n_options,
    drawn_spec,
    is_label,
    shuffled_options,
)
from videorope.vruler.placement import depth_position, distractor_position
from videorope.vruler.tasks.base import TASKS, Cell, Material, make_sample

__all__ = ["look_alike", "look_alikes", "retrieval", "retrieval_needle"]

_QUESTIONS: dict[str, Callable[[str, str, str], str]] = {
    "label": lambda o, c, lab: f"What number is written on the {c} {o}?",
    "colour": lambda o, c, lab: f"What colour is the {o} with the number {lab} on it?",
    "object": lambda o, c, lab: f"What shape is the {c} object with the number {lab} on it?",
}


def retrieval_needle(
    seed: int, *, ask: str = "label", n_options: int = 4, labels: Sequence[str] | None = None
) -> NeedleSpec:
    """A V-NIAH needle: one labelled object, a question about one of its attributes.

    ``ask="label"`` (default): "What number is written on the <colour> <object>?", answer
    the label: a two-digit number from :data:`LABEL_RANGE`, or one of ``labels`` when given
    (a smaller label set makes the needles easier to read, e.g. for a model trained from
    scratch). ``ask="colour"`` / ``"object"`` ask for the colour / shape of the object with
    a given number. ``n_options`` options of the asked attribute, the answer among them, in
    an order drawn from ``seed``. Pure function of its arguments.
    """
    if ask not in _QUESTIONS:
        raise ValueError(f"ask must be one of: {', '.join(_QUESTIONS)}; got {ask!r}")
    check_n_options(n_options)
    if labels is None:
        labels = [str(v) for v in range(LABEL_RANGE[0], LABEL_RANGE[1] + 1)]
    else:
        labels = list(dict.fromkeys(str(v) for v in labels))
        for label in labels:
            check_label(label)
        if "" in labels:
            raise ValueError("labels must not contain '' (a needle's label is what the question asks for)")
    domain = {"object": list(OBJECTS), "colour": list(COLOURS), "label": labels}[ask]
    if n_options > len(domain):
        raise ValueError(f"n_options={n_options} exceeds the {len(domain)} possible values of {ask!r}")
    rng = random.Random(seed)
    obj, colour, label = rng.choice(OBJECTS), rng.choice(list(COLOURS)), rng.choice(labels)
    attrs = {"object": obj, "colour": colour, "label": label}
    answer = attrs[ask]
    return drawn_spec(
        question=_QUESTIONS[ask](obj, colour, label),
        answer=answer,
        options=shuffled_options(rng, answer, domain, n_options),
        kind="retrieval",
        asked=ask,
        **attrs,
    )


def look_alikes(
    needle: NeedleSpec, n: int = 1, *, seed: int = 0, key: str | Sequence[str] | None = None
) -> list[NeedleSpec]:
    """``n`` distractors for ``needle`` that differ from it in exactly the asked attribute.

    Each distractor keeps every attribute of ``needle`` except ``needle.asked`` ("label",
    "colour" or "object"), which takes a value from ``needle.options`` other than the
    answer: the distractor's value is a lure among the options by construction, and never
    the answer. Distractors are distinct from each other; question and options are the
    needle's, ``answer`` the distractor's own value, ``kind="distractor"``. ``seed`` picks
    which wrong options become lures. ``n`` must be at most ``len(needle.options) - 1``.

    A look-alike that differs ONLY in the asked attribute makes the question ambiguous
    (two red balloons, two numbers). ``key="colour"`` (or ``"object"``) also changes that
    identifying attribute to another value, so the question names the needle alone while
    the distractor still looks alike and carries a lure among the options. ``key=("colour",
    "object")`` changes both (a look-alike that is easier to tell apart).
    """
    if needle.asked not in _QUESTIONS or not needle.drawable or needle.count is not None:
        raise ValueError(
            f"look_alikes needs a drawable single-object needle asking 'label', 'colour' or 'object'; got "
            f"asked={needle.asked!r}, object={needle.object!r}, colour={needle.colour!r}, count={needle.count}"
        )
    wrong = [o for o in needle.options if o != needle.answer]
    if needle.asked == "object":
        wrong = [o for o in wrong if o in OBJECTS]
    elif needle.asked == "colour":
        wrong = [o for o in wrong if o in COLOURS]
    else:
        wrong = [o for o in wrong if is_label(o)]
    if not 0 <= n <= len(wrong):
        raise ValueError(f"n={n} look-alikes requested but the needle has only {len(wrong)} drawable wrong options")
    keys = () if key is None else (key,) if isinstance(key, str) else tuple(key)
    if any(k == needle.asked or k not in ("colour", "object") for k in keys) or len(set(keys)) != len(keys):
        raise ValueError(
            f"key must be 'colour', 'object' or both, each differing from the asked attribute, got {key!r}"
        )
    rng = random.Random(seed)
    out = []
    for value in rng.sample(wrong, n):
        kw = {k: getattr(needle, k) for k in ("question", "options", "asked", "object", "colour", "label")}
        kw[needle.asked] = value
        for k in keys:
            domain = OBJECTS if k == "object" else tuple(COLOURS)
            kw[k] = rng.choice([v for v in domain if v != getattr(needle, k)])
        out.append(drawn_spec(**kw, answer=value, kind="distractor"))
    return out


def retrieval(material: Material, seed: int, n_options: int, labels: Sequence[str] | None = None) -> NeedleSpec:
    """A retrieval needle: one of the user's (not a distractor), else a drawn one
    (labelled from ``labels`` when given)."""
    own = [n for n in material.user_needles if n.kind != "distractor"]
    if own:
        return random.Random(seed).choice(own)
    return retrieval_needle(seed, n_options=n_options, labels=labels)


def look_alike(
    material: Material, needle: NeedleSpec, rng: random.Random, keys: Sequence[str] | None = None
) -> NeedleSpec | None:
    """A distractor for ``needle``: drawn (same object, other colour, a lure number among the
    options, so the question still names the needle alone; ``keys`` names the attributes
    that differ instead, e.g. colour and object) or, for a user needle, one of the user's
    ``kind: distractor`` needles with the same question (``None`` if there is none)."""
    if needle.drawable and needle.asked:
        key = keys or ("colour" if needle.asked != "colour" else "object")
        return look_alikes(needle, seed=rng.randrange(2**31), key=key)[0]
    mates = [n for n in material.user_needles if n.kind == "distractor" and n.question == needle.question]
    return rng.choice(mates) if mates else None


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
        retrieval(material, cell.seed, n_options, labels)
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
    needle = retrieval(material, cell.seed, n_options, labels)
    position = depth_position(cell.frame_count, cell.depth)
    inserts = [(position, needle, "needle")]
    other = distractor_position(cell.frame_count, position, distance, rng)
    lure = look_alike(material, needle, rng, lure_differs) if other is not None else None
    if lure is not None:
        inserts.append((other, lure, "distractor"))
    return make_sample(
        cell, material, inserts, needle.question, needle.answer, "choice", needle.options, {"distance": distance}
    )
