"""V-RULER as the original scripts build it (``Wiselnn570/VideoRoPE``): slots and placements.

The released evaluation counts its haystack in **temporal slots**: a slot is two consecutive
frames of a video sampled at 1 fps, which the vision tower merges into one temporal patch
(144 tokens at 252x448 for Qwen2-VL). A needle is an image encoded on its own, so it fills a
whole slot; the haystack is a contiguous prefix of one video. For ``N`` haystack slots at depth
``d`` the needle goes before haystack slot ``int(d * N)`` (``N + 1`` slots in all). V-NIAH-D
adds the needle's look-alike ``CYCLE`` = 200 slots away: after the needle when the needle is in
the first 200 slots, before it when in the last 200, on a side drawn from Python's ``random``
(seeded 24242424 at import, one draw per sample in sweep order: slots, then depth, then
needle) otherwise, and none when neither side fits. Counting and ordering put their needles
after evenly spread haystack slots (:func:`spread_slots`; their loops sweep depth without using
it), multi-key multi-value draws them in a depth window (:func:`window_slots`). The lengthy
multimodal stack puts a real video between repeats of a filler sentence
(:func:`noise_repeats`), asks a LongVideoBench question (:func:`option_question`) and grades the
letter of a greedy reply (:func:`answer_letter`). Depths are
``np.arange(0, 1 + step, step)`` and every (slots, depth) cell averages the same fixed needle
sets.

Everything here is a pure function of its arguments (the golden test,
``tests/vruler/test_paper.py``, checks it against those loops run on stand-in inputs);
:mod:`videorope.vruler.tasks.paper` builds the ``<task>@paper`` samples from it.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CYCLE",
    "LETTER_INSTRUCTION",
    "PREFIXES",
    "SEED",
    "SLOT_FRAMES",
    "STACK_CONTEXTS",
    "STACK_DEPTHS",
    "STACK_FPS",
    "STACK_MIN_PIXELS",
    "STACK_NOISE",
    "STACK_VISUAL_TOKENS",
    "SYSTEM_PROMPT",
    "Placement",
    "answer_letter",
    "depths",
    "distractor_side",
    "lettered",
    "needle_slot",
    "noise_repeats",
    "option_question",
    "place",
    "slot_counts",
    "slot_frames",
    "smart_resize",
    "spread_slots",
    "stack_frames",
    "stack_size",
    "window_slots",
]

SEED = 24242424
"""The seed the released scripts give ``random`` (and torch, numpy) at import."""
CYCLE = 200
"""V-NIAH-D: slots between the needle and its look-alike."""
SLOT_FRAMES = 2
"""Frames per temporal slot (Qwen-VL's temporal patch)."""
SYSTEM_PROMPT = "You are a helpful assistant."
"""The system turn of the released ``qwen2`` prompt template."""
LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly."
"""The instruction after lettered options (LLaVA-style multiple choice)."""


def slot_counts(minimum: int = 100, maximum: int = 3000, interval: int = 200) -> list[int]:
    """Haystack sizes in slots: ``range(minimum, maximum + 1, interval)`` (published: 100..2900)."""
    if not 0 < minimum <= maximum or interval < 1:
        raise ValueError(
            f"slot counts need 0 < minimum <= maximum and interval >= 1, got {minimum}, {maximum}, {interval}"
        )
    return list(range(minimum, maximum + 1, interval))


def depths(interval: float = 0.2, last: bool = True) -> list[float]:
    """Needle depths as the scripts step them, ``np.arange(0, 1 + interval, interval)``, or
    ``np.arange(0, 1, interval)`` without the ``last`` (multi-key multi-value's windows);
    floating point included: the fourth published depth is 0.6000000000000001."""
    if not 0 < interval <= 1:
        raise ValueError(f"depth interval must lie in (0, 1], got {interval}")
    return [float(d) for d in np.arange(0, 1 + interval if last else 1, interval)]


def needle_slot(slots: int, depth: float) -> int:
    """The haystack slot the needle goes before: ``int(depth * slots)`` (0..slots)."""
    if slots < 1 or not 0 <= depth <= 1 + 1e-9:
        raise ValueError(f"need slots >= 1 and depth in [0, 1], got {slots}, {depth}")
    return int(depth * slots)


def distractor_side(slots: int, needle: int, u: float, cycle: int = CYCLE) -> str | None:
    """``"before"``, ``"after"`` or ``None`` (no room on either side) for a needle before
    haystack slot ``needle``; ``u`` (a draw in [0, 1)) decides when both sides fit
    (``u < 0.5``: before)."""
    if needle - cycle <= 0 and needle + cycle >= slots:
        return None
    if needle < cycle:
        return "after"
    if needle + cycle >= slots:
        return "before"
    return "before" if u < 0.5 else "after"


@dataclass(frozen=True)
class Placement:
    """Where a sample's images sit, in slots of the final sequence (0-based): the needle, the
    distractor (``None`` without one) and the number of slots (haystack + inserted)."""

    needle: int
    distractor: int | None
    total: int


def place(slots: int, depth: float, u: float | None = None, cycle: int = CYCLE) -> Placement:
    """The slots of a V-NIAH sample (``u=None``) or a V-NIAH-D sample (``u``: its draw)."""
    q = needle_slot(slots, depth)
    side = None if u is None else distractor_side(slots, q, u, cycle)
    if side == "before":  # haystack[:q - cycle], lure, haystack[q - cycle:q], needle, haystack[q:]
        return Placement(q + 1, q - cycle, slots + 2)
    if side == "after":  # haystack[:q], needle, haystack[q:q + cycle], lure, haystack[q + cycle:]
        return Placement(q, q + 1 + cycle, slots + 2)
    return Placement(q, None, slots + 1)


def spread_slots(slots: int, n: int) -> list[int]:
    """Counting and ordering: the slots of ``n`` needles, each inserted after haystack slot
    ``np.linspace(0, slots - 1, n, dtype=int)[j]`` (the first and the last included), in a
    sequence of ``slots + n``."""
    if slots < 1 or not 0 <= n <= slots:
        raise ValueError(f"cannot spread {n} needles over {slots} slots")
    return [int(a) + 1 + j for j, a in enumerate(np.linspace(0, slots - 1, n, dtype=int))]


def window_slots(slots: int, depth: float, n: int, rng: random.Random, width: float = 0.2) -> list[int]:
    """Multi-key multi-value: the slots of ``n`` needles, each inserted before a haystack slot
    drawn with ``rng.randint`` (with replacement, then sorted) in ``[int(depth * slots),
    min(int((depth + width) * slots), slots))``, in a sequence of ``slots + n``; ``rng`` is the
    sweep's generator, consumed in sweep order as the original consumes ``random``."""
    start, end = int(depth * slots), min(int((depth + width) * slots), slots)
    if end <= start:
        raise ValueError(f"the window at depth {depth} of width {width} holds no slot of {slots}")
    anchors = sorted([rng.randint(start, end - 1) for _ in range(n)])
    return [a + j for j, a in enumerate(anchors)]


STACK_CONTEXTS = tuple(range(224_000, 296_001, 8_000))
"""Lengthy multimodal stack: the total contexts swept (tokens)."""
STACK_VISUAL_TOKENS = 32_768
"""Lengthy multimodal stack: the video's budget (``total_pixels = 32768 * 28 * 28``); the filler
gets ``context - 32768`` tokens."""
STACK_DEPTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
STACK_NOISE = "This is noise text, please ignore it."
STACK_MIN_PIXELS = 144 * 28 * 28
"""Lengthy multimodal stack: the script's ``--min_pixels`` (``MIN_PIXELS_FACTOR=144``)."""
STACK_FPS = 2.0
"""Lengthy multimodal stack: qwen-vl-utils' default sampling rate (frames per second of video)."""
_VIDEO_MAX_PIXELS, _MAX_FRAMES, _MIN_FRAMES = 768 * 28 * 28, 768, 4  # qwen-vl-utils 0.0.11
PREFIXES = {
    # as released: two missing commas join four prefixes into two, so "Best answer:" and
    # "Best option:" stay and their B is read as the answer
    "original": ("The best answer is", "The correct answer is", "The answer is", "The answer",
                 "The best option isThe correct option is", "Best answer:Best option:", "Answer:", "Option:"),
    "fixed": ("The best answer is", "The correct answer is", "The answer is", "The answer", "The best option is",
              "The correct option is", "Best answer:", "Best option:", "Answer:", "Option:"),
}  # fmt: skip
"""What :func:`answer_letter` strips from a reply, in order: the original's list, or the one it meant."""


def noise_repeats(context: int, noise_tokens: int, depth: float,
                  visual_tokens: int = STACK_VISUAL_TOKENS) -> tuple[int, int]:  # fmt: skip
    """How many times :data:`STACK_NOISE` (``noise_tokens`` tokens in the model's tokenizer)
    is repeated before and after the video: ``floor(n (1 - depth))`` and ``floor(n depth)``
    with ``n = (context - visual_tokens) // noise_tokens``. Depth 0 puts all the filler
    before the video (the video last), depth 1 all after it."""
    if noise_tokens < 1 or context <= visual_tokens or not 0 <= depth <= 1:
        raise ValueError(f"need noise_tokens >= 1, context > {visual_tokens} and depth in [0, 1], "
                         f"got {noise_tokens}, {context}, {depth}")  # fmt: skip
    n = float(context - visual_tokens) // noise_tokens  # a float, as the original's argparse gives
    return math.floor(n * (1 - depth)), math.floor(n * depth)


def option_question(question: str, candidates: list[str], correct: int) -> tuple[str, str]:
    """A LongVideoBench-style question and its answer as the original writes them:
    ``"Question: <q>\nOptions:\n(A) <c>\n..."`` and ``"(<letter>) <candidate>"``."""
    if not 0 <= correct < len(candidates) <= 26:
        raise ValueError(f"correct choice {correct} must index one of at most 26 candidates")
    lines = [f"Question: {question}", "Options:", *(f"({chr(65 + i)}) {c}" for i, c in enumerate(candidates))]
    letter = chr(65 + max(i for i, c in enumerate(candidates) if c == candidates[correct]))  # the last equal one
    return "\n".join(lines).rstrip(), f"({letter}) {candidates[correct]}"


def answer_letter(text: str, prefixes: str = "original") -> str:
    """The option letter a reply gives, as the original grades it: the :data:`PREFIXES`
    removed, then the first of A-E anywhere; ``""`` for none."""
    if prefixes not in PREFIXES:
        raise ValueError(f"prefixes must be one of {', '.join(PREFIXES)}, got {prefixes!r}")
    text = text.strip()
    for prefix in PREFIXES[prefixes]:
        text = text.replace(prefix, "")
    found = re.search("[ABCDE]", text)
    return "" if found is None else found[0]


def slot_frames(slot: int) -> tuple[int, ...]:
    """The frame indices of ``slot`` in a sequence of whole slots."""
    return tuple(range(slot * SLOT_FRAMES, (slot + 1) * SLOT_FRAMES))


def lettered(question: str, options: tuple[str, ...] | list[str], answer: str) -> tuple[str, str]:
    """A multiple-choice prompt as the original writes it, and the answer's letter:
    ``"\\n<question>\\nA. <option>\\n...\\n<LETTER_INSTRUCTION>"``."""
    if answer not in options or len(options) > 26:
        raise ValueError(f"answer {answer!r} must be one of at most 26 options {list(options)}")
    lines = [f"{chr(65 + i)}. {o}" for i, o in enumerate(options)]
    return "\n" + "\n".join([question, *lines, LETTER_INSTRUCTION]), chr(65 + list(options).index(answer))


def stack_frames(total_frames: int, video_fps: float, fps: float = STACK_FPS) -> list[int]:
    """The frames the lengthy multimodal stack reads from a video of ``total_frames`` at
    ``video_fps``, as qwen-vl-utils 0.0.11 picks them (``fetch_video`` without ``nframes``):
    ``fps`` frames per second of video, at least 4 and at most ``min(768, total_frames)``,
    floored to an even count, at ``torch.linspace(0, total_frames - 1, n).round()``."""
    import torch

    if total_frames < SLOT_FRAMES or video_fps <= 0:
        raise ValueError(f"need a video of >= 2 frames and fps > 0, got {total_frames} frames at {video_fps} fps")
    most = math.floor(min(_MAX_FRAMES, total_frames) / SLOT_FRAMES) * SLOT_FRAMES
    n = min(max(total_frames / video_fps * fps, _MIN_FRAMES), most, total_frames)
    n = math.floor(n / SLOT_FRAMES) * SLOT_FRAMES
    return torch.linspace(0, total_frames - 1, n).round().long().tolist()


def smart_resize(height: int, width: int, min_pixels: float, max_pixels: float, factor: int = 28) -> tuple[int, int]:
    """Qwen-VL's frame size: both sides multiples of ``factor``, the area within
    [``min_pixels``, ``max_pixels``], the aspect ratio kept as closely as that allows."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"a {height}x{width} video is too elongated for Qwen-VL (aspect ratio over 200)")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


def stack_size(height: int, width: int, nframes: int, min_pixels: float = STACK_MIN_PIXELS,
               visual_tokens: int = STACK_VISUAL_TOKENS, factor: int = 28) -> tuple[int, int]:  # fmt: skip
    """The size qwen-vl-utils 0.0.11 resizes ``nframes`` frames of ``height`` x ``width`` to
    under ``total_pixels = visual_tokens * 28 * 28``: at most ``total_pixels / nframes * 2``
    (and 768 * 28 * 28) pixels a frame, but never under ``1.05 * min_pixels``, so long videos
    exceed the visual budget (768 frames of a 720p video: 384 slots of 252x448, 55,296 tokens)."""
    most = max(min(_VIDEO_MAX_PIXELS, visual_tokens * 28 * 28 / nframes * SLOT_FRAMES), int(min_pixels * 1.05))
    return smart_resize(height, width, min_pixels, most, factor)
