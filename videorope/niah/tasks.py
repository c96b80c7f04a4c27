"""NIAH tasks (RULER conventions, REFERENCE section 9), one registered function per task:
``fn(keys, value, **options) -> Problem``. ``keys(n)`` draws n distinct keys and
``value()`` one value (a 7-digit number or a UUID)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from videorope.registry import Registry

__all__ = ["TASKS", "Problem", "needle_sentence"]

TASKS = Registry("niah task")


def needle_sentence(key: str, value: str, kind: str) -> str:
    """The needle: ``One of the special magic numbers for <key> is: <value>.``"""
    return f"One of the special magic {kind} for {key} is: {value}."


@dataclass(frozen=True)
class Problem:
    """What a sample hides and asks: ``needles`` (key, value) with the asked ones first,
    ``asked`` keys, the ``answers`` to find in the reply."""

    needles: tuple[tuple[str, str], ...]
    asked: tuple[str, ...]
    answers: tuple[str, ...]

    def question(self, kind: str) -> str:
        """The question; ``kind`` is the plural of the values ("numbers" or "uuids")."""
        noun, verb = (kind, "are all") if len(self.answers) > 1 else (kind[:-1], "is")
        return f"What {verb} the special magic {noun} for {', '.join(self.asked)} mentioned in the provided text?"

    def answer_prefix(self, kind: str) -> str:
        """The start of the reply the prompt ends with, so the next tokens are the answer."""
        noun, verb = (kind, "are") if len(self.answers) > 1 else (kind[:-1], "is")
        return f"The special magic {noun} for {', '.join(self.asked)} mentioned in the provided text {verb}"


Keys = Callable[[int], list[str]]
Value = Callable[[], str]


def _check(name: str, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 64:
        raise ValueError(f"{name} must be an int in [2, 64], got {n!r}")


@TASKS.register("single", paper="RULER (Hsieh et al., 2024)", summary="one needle; what is its value?")
def single(keys: Keys, value: Value) -> Problem:
    (key,) = keys(1)
    v = value()
    return Problem(((key, v),), (key,), (v,))


@TASKS.register(
    "multikey",
    paper="RULER (Hsieh et al., 2024)",
    summary="`needles` needles with distinct keys; the value of one of them",
    options={"needles": 4},
)
def multikey(keys: Keys, value: Value, *, needles: int) -> Problem:
    _check("needles", needles)
    pairs = tuple((k, value()) for k in keys(needles))
    return Problem(pairs, (pairs[0][0],), (pairs[0][1],))


@TASKS.register(
    "multivalue",
    paper="RULER (Hsieh et al., 2024)",
    summary="`values` needles with the same key; all their values",
    options={"values": 4},
)
def multivalue(keys: Keys, value: Value, *, values: int) -> Problem:
    _check("values", values)
    (key,) = keys(1)
    found: list[str] = []
    while len(found) < values:
        if (v := value()) not in found:
            found.append(v)
    return Problem(tuple((key, v) for v in found), (key,), tuple(found))


@TASKS.register(
    "multiquery",
    paper="RULER (Hsieh et al., 2024)",
    summary="`queries` needles with distinct keys; the values of all of them",
    options={"queries": 4},
)
def multiquery(keys: Keys, value: Value, *, queries: int) -> Problem:
    _check("queries", queries)
    pairs = tuple((k, value()) for k in keys(queries))
    return Problem(pairs, tuple(k for k, _ in pairs), tuple(v for _, v in pairs))
