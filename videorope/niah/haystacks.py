"""The text the needles hide in (RULER conventions, REFERENCE section 9), one registered
function per haystack: ``fn(rng, chars, needle, **options) -> str`` returns at least ``chars``
characters of text made of whole sentences; ``needle(rng)`` draws one distractor needle
sentence (the needle haystack is made of them)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from videorope.registry import REQUIRED, Registry

__all__ = ["HAYSTACKS", "NOISE"]

HAYSTACKS = Registry("haystack")

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
"""RULER's noise haystack: five plain sentences, repeated."""


def _repeat(text: str, chars: int) -> str:
    return text * (chars // len(text) + 1)


@HAYSTACKS.register("noise", paper="RULER (Hsieh et al., 2024)", summary="the same five plain sentences, repeated")
def noise(rng: random.Random, chars: int, needle: Callable[[random.Random], str]) -> str:
    return _repeat(NOISE, chars)


@HAYSTACKS.register(
    "essay",
    paper="RULER (Hsieh et al., 2024; Paul Graham essays there)",
    summary="your own text files, whitespace collapsed, in order, repeated as needed",
    options={"files": REQUIRED},
)
def essay(rng: random.Random, chars: int, needle: Callable[[random.Random], str], *, files: list[str]) -> str:
    if isinstance(files, str) or not files:
        raise ValueError(f"the essay haystack needs files: a list of text file paths, got {files!r}")
    texts = []
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"essay haystack file {path} does not exist")
        texts.append(" ".join(path.read_text(encoding="utf-8").split()))
    text = " ".join(t for t in texts if t)
    if not text:
        raise ValueError(f"the essay haystack files {files} hold no text")
    return _repeat(text + " ", chars)


@HAYSTACKS.register(
    "needle", paper="RULER (Hsieh et al., 2024)", summary="distractor needles only: magic numbers of other keys"
)
def needles(rng: random.Random, chars: int, needle: Callable[[random.Random], str]) -> str:
    out, n = [], 0
    while n < chars:
        out.append(needle(rng) + " ")
        n += len(out[-1])
    return "".join(out)
