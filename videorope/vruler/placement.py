"""Where needles and distractors go in a haystack of ``frame_count`` frames.

Pure functions of integers and a seeded ``random.Random``; positions are indices into the
materialised frame sequence (0 .. frame_count-1). Conventions follow V-NIAH / V-RULER
(REFERENCE section 8): a needle at depth ``d`` sits at ``round(d * (frame_count - 1))``.
"""

from __future__ import annotations

import random

__all__ = ["depth_position", "distractor_position", "spread_positions", "window_positions"]


def _check(frame_count: int, depth: float | None = None) -> None:
    if frame_count < 1:
        raise ValueError(f"frame_count must be >= 1, got {frame_count}")
    if depth is not None and not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must lie in [0, 1] (a fraction of the haystack), got {depth}")


def depth_position(frame_count: int, depth: float) -> int:
    """Frame of a needle at ``depth`` (0 = first frame, 1 = last)."""
    _check(frame_count, depth)
    return round(depth * (frame_count - 1))


def distractor_position(frame_count: int, needle: int, distance: int, rng: random.Random) -> int | None:
    """A distractor ``distance`` frames before or after ``needle``.

    The side is drawn at random; when only one side fits inside the haystack it is forced
    to that side; when neither fits there is no distractor (``None``).
    """
    _check(frame_count)
    if distance < 1:
        raise ValueError(f"distractor distance must be >= 1 frame, got {distance}")
    sides = [p for p in (needle - distance, needle + distance) if 0 <= p < frame_count]
    if not sides:
        return None
    return sides[0] if len(sides) == 1 else rng.choice(sides)


def spread_positions(frame_count: int, n: int) -> list[int]:
    """``n`` positions spread evenly: the centres of ``n`` equal slices of the haystack."""
    _check(frame_count)
    if not 0 <= n <= frame_count:
        raise ValueError(f"cannot place {n} needles in {frame_count} frames")
    return [int((2 * i + 1) * frame_count // (2 * n)) for i in range(n)]


def window_positions(frame_count: int, depth: float, n: int, width: float, rng: random.Random) -> list[int]:
    """``n`` distinct sorted random positions inside the depth window ``[depth, depth + width)``.

    The window is clipped to the haystack and widened to at least ``n`` frames, so the
    needles never collide; it shifts left when it would run past the end.
    """
    _check(frame_count, depth)
    if not 0 < width <= 1:
        raise ValueError(f"window width must lie in (0, 1], got {width}")
    if not 1 <= n <= frame_count:
        raise ValueError(f"cannot place {n} needles in {frame_count} frames")
    size = max(n, round(width * frame_count))
    start = min(depth_position(frame_count, depth), frame_count - size)
    return sorted(rng.sample(range(start, start + size), n))
