"""Intervals for the accuracies a study reports (ground floor: imports nothing of videorope).

- :func:`wilson`: a 95% score interval for a mean of scores in [0, 1] (NIAH string match,
  exact match), honest at 0% and 100% where a normal or bootstrap interval collapses;
- :func:`paired_difference`: the mean difference of two methods scored on the same samples,
  with a 95% paired-bootstrap interval and the discordant counts (who won where they differ).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

__all__ = ["paired_difference", "wilson"]

Z95 = 1.959963984540054


def wilson(scores: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high) of ``scores`` (each in [0, 1]) with the Wilson 95% interval."""
    n = len(scores)
    if n == 0:
        raise ValueError("no scores to summarise")
    p = sum(scores) / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(a: Sequence[float], b: Sequence[float], resamples: int = 10000,
                      seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Mean of ``a - b`` over paired samples, its 95% percentile interval from ``resamples``
    paired bootstrap draws (seeded), and the counts where ``a`` beat ``b`` and the reverse."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired scores need the same, non-zero number of samples, got {len(a)} and {len(b)}")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    rng, n = random.Random(seed), len(diffs)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    return {"difference": sum(diffs) / n, "low": means[int(0.025 * resamples)],
            "high": means[min(resamples - 1, int(0.975 * resamples))], "a_better": sum(d > 0 for d in diffs),
            "b_better": sum(d < 0 for d in diffs), "samples": n}  # fmt: skip
