"""Position layouts: which (t, h, w) position every token of a multimodal sequence gets.

A sequence is a list of segments, grids already merged by the vision merger:

    [("text", 3), ("video", T, H, W), ("image", H, W), ("text", 2)]

A video segment may carry a fifth element, the seconds one temporal grid step spans
(Qwen2.5-VL's ``second_per_grid_ts``). Text advances by the same step on all three axes (1,
or 2 for ``tad``: its time and vanilla indices both advance), so a layout is defined by how it
places one vision block that starts at position ``s`` and where the token after the block
starts. Positions are float32: VideoRoPE and V2PE use fractional
positions, and fp32 represents every integer position below 2**24 exactly.

Each layout is a pure function ``block(s, T, H, W, seconds, **options) -> (pos, next)``
with ``pos`` of shape (3, T*H*W) in token order (t slowest, then h, then w), registered in
:data:`LAYOUTS`. :func:`positions` lays out one sequence; :func:`batch_positions` lays out
padded processor batches from their token-type ids and grids.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from videorope.registry import Registry

__all__ = ["LAYOUTS", "HOPE_TRAIN_SPACINGS", "positions", "batch_positions", "normalize_segments", "text_step"]

LAYOUTS = Registry("layout")

HOPE_TRAIN_SPACINGS = (0.5, 0.75, 1.0, 1.25, 1.5)
"""Temporal spacings HoPE draws from, one per video, during training."""

TEXT, IMAGE, VIDEO = 0, 1, 2
"""Token types as HF processors emit them in ``mm_token_type_ids``."""

Grid = tuple[int, int, int]


def _grid(T: int, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frame, row and column index of every token of a (T, H, W) block, float64 (T*H*W,)."""
    f, r, c = torch.meshgrid(
        torch.arange(T, dtype=torch.float64),
        torch.arange(H, dtype=torch.float64),
        torch.arange(W, dtype=torch.float64),
        indexing="ij",
    )
    return f.flatten(), r.flatten(), c.flatten()


def _axes(t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Stack per-axis positions and start the next token after the largest one (M-RoPE rule)."""
    pos = torch.stack([t, h, w])
    return pos, float(pos.max()) + 1


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


@LAYOUTS.register(
    "vanilla",
    paper="RoFormer (Su et al., 2021)",
    summary="every token, text or visual, takes the next 1D index on all axes",
    default_allocation="vanilla",
)
def vanilla(s: float, T: int, H: int, W: int, seconds: float | None) -> tuple[torch.Tensor, float]:
    n = T * H * W
    p = s + torch.arange(n, dtype=torch.float64)
    return p.expand(3, n), s + n


@LAYOUTS.register(
    "tad",
    paper="TC-LLaVA / TAD-RoPE (Gao et al., 2024), as VideoRoPE's code runs it",
    summary="time index + vanilla index on all axes (VideoRoPE's tad_rope): text advances by 2 per token",
    default_allocation="vanilla",
    text_step=2,
)
def tad(s: float, T: int, H: int, W: int, seconds: float | None) -> tuple[torch.Tensor, float]:
    """``Wiselnn570/VideoRoPE``'s baseline: ``get_time_rope_index + get_vanilla_rope_index``.
    A block starting at ``s`` (time t0 + vanilla v0) gives token j of frame f the position
    s + f + j; the time index then resumes at t0 + T and the vanilla one at v0 + n."""
    p = _time_plus_vanilla(s, T, H, W)
    return p.expand(3, -1), s + p.numel() + T


@LAYOUTS.register(
    "tad-1d",
    paper="TC-LLaVA / TAD-RoPE (Gao et al., 2024)",
    summary="vanilla 1D index plus the frame index, on all axes; text advances by 1 (videorope's earlier tad)",
    default_allocation="vanilla",
)
def tad_1d(s: float, T: int, H: int, W: int, seconds: float | None) -> tuple[torch.Tensor, float]:
    p = _time_plus_vanilla(s, T, H, W)
    return p.expand(3, -1), float(p.max()) + 1


def _time_plus_vanilla(s: float, T: int, H: int, W: int) -> torch.Tensor:
    """s + token index + frame index for every token of a (T, H, W) block, float64 (T*H*W,)."""
    f, _, _ = _grid(T, H, W)
    return s + torch.arange(f.numel(), dtype=torch.float64) + f


@LAYOUTS.register(
    "mrope",
    paper="Qwen2-VL (Wang et al., 2024)",
    summary="(s+f, s+r, s+c); the next token starts after the largest index of any axis",
    default_allocation="mrope",
)
def mrope(s: float, T: int, H: int, W: int, seconds: float | None) -> tuple[torch.Tensor, float]:
    f, r, c = _grid(T, H, W)
    return _axes(s + f, s + r, s + c)


@LAYOUTS.register(
    "mrope-time",
    paper="Qwen2.5-VL (Bai et al., 2025)",
    summary="M-RoPE with absolute time: t = s + floor(f * second_per_grid_t * tokens_per_second)",
    options={"tokens_per_second": 2.0, "second_per_grid_t": 1.0},
    default_allocation="mrope",
)
def mrope_time(
    s: float, T: int, H: int, W: int, seconds: float | None, *, tokens_per_second: float, second_per_grid_t: float
) -> tuple[torch.Tensor, float]:
    step = (second_per_grid_t if seconds is None else seconds) * _positive("tokens_per_second", tokens_per_second)
    f, r, c = _grid(T, H, W)
    # Qwen2.5-VL truncates the product to an integer (``.long()``); floor equals it for t >= 0.
    return _axes(s + torch.floor(f * step), s + r, s + c)


@LAYOUTS.register(
    "qwen3",
    paper="Qwen3-VL (Qwen team, 2025)",
    summary="each frame its own T=1 M-RoPE grid (time told by text timestamps between frames)",
    default_allocation="interleaved",
)
def qwen3(s: float, T: int, H: int, W: int, seconds: float | None) -> tuple[torch.Tensor, float]:
    # Frames placed back to back, each advancing max(H, W) like an image. Real Qwen3-VL inputs
    # put timestamp text between frames; ``batch_positions`` then sees one T=1 block per frame.
    f, r, c = _grid(T, H, W)
    t = s + f * max(H, W)
    pos = torch.stack([t, t + r, t + c])
    return pos, s + T * max(H, W)


TEXT_STARTS = ("t", "max")
"""Where text after a VideoRoPE block starts: ``t``, after the largest temporal index (the
VideoRoPE transformers and vLLM code); ``max``, after the largest index of any axis (the
VideoRoPE++ vLLM code, ``videorope_plus/.../rotary_embedding.py``)."""


def diagonal(
    s: float, T: int, H: int, W: int, seconds: float | None, *, temporal_spacing: float, text_start: str = "t"
) -> tuple[torch.Tensor, float]:
    """VideoRoPE's diagonal layout: t = s + delta*f, each frame's spatial grid centred on t."""
    delta = _positive("temporal_spacing", temporal_spacing)
    if text_start not in TEXT_STARTS:
        raise ValueError(f"text_start must be one of {', '.join(TEXT_STARTS)}, got {text_start!r}")
    f, r, c = _grid(T, H, W)
    t = s + delta * f
    pos = torch.stack([t, t + r - (H - 1) // 2, t + c - (W - 1) // 2])
    return pos, (s + delta * (T - 1) if text_start == "t" else float(pos.max())) + 1


LAYOUTS.register(
    "videorope",
    paper="VideoRoPE (Wei et al., ICML 2025)",
    summary="diagonal layout, t = s + delta*f, spatial grid centred on t; adjustable temporal spacing delta; "
    "text after the block at max(t) + 1 (text_start='max': VideoRoPE++'s max over t, h, w + 1)",
    options={"temporal_spacing": 2.0, "text_start": "t"},
    default_allocation="videorope",
)(diagonal)
LAYOUTS.register(
    "hope",
    paper="HoPE (Li et al., NeurIPS 2025)",
    summary="VideoRoPE's diagonal layout with the temporal spacing chosen at inference (drawn per video in training)",
    options={"temporal_spacing": 1.0},
    default_allocation="hope",
)(diagonal)


@LAYOUTS.register(
    "v2pe",
    paper="V2PE (Ge et al., 2024)",
    summary="visual tokens advance the 1D position by a stride < 1, text by 1",
    options={"visual_stride": 0.25},
    default_allocation="vanilla",
)
def v2pe(
    s: float, T: int, H: int, W: int, seconds: float | None, *, visual_stride: float
) -> tuple[torch.Tensor, float]:
    n = T * H * W
    p = s + _positive("visual_stride", visual_stride) * torch.arange(n, dtype=torch.float64)
    return p.expand(3, n), float(p[-1]) + 1


def normalize_segments(segments: Sequence[Sequence[Any]]) -> list[tuple[str, int, int, int, float | None]]:
    """``("text", n)``, ``("image", H, W)``, ``("video", T, H, W[, seconds])`` -> (kind, T, H, W, seconds).

    Text segments come back as ``("text", n, 1, 1, None)``.
    """
    out = []
    for i, seg in enumerate(segments):
        kind, *dims = seg
        arity = {"text": (1,), "image": (2,), "video": (3, 4)}.get(kind)
        if arity is None or len(dims) not in arity:
            raise ValueError(
                f"segment {i} is {tuple(seg)!r}; expected ('text', n), ('image', H, W) or "
                "('video', T, H, W[, seconds_per_grid_t])"
            )
        sizes = dims[:3] if kind == "video" else ([1, *dims] if kind == "image" else [dims[0], 1, 1])
        if any(int(x) != x or x < 1 for x in sizes):
            raise ValueError(f"segment {i} {tuple(seg)!r}: sizes must be positive integers")
        seconds = float(dims[3]) if len(dims) == 4 else None
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"segment {i} {tuple(seg)!r}: seconds per grid step must be a finite number >= 0")
        out.append((kind, *(int(x) for x in sizes), seconds))
    return out


def text_step(layout: str) -> int:
    """How far one text token advances the position in ``layout`` (decoding included)."""
    return int(LAYOUTS[layout].meta.get("text_step", 1))


def positions(layout: str, segments: Sequence[Sequence[Any]], **options: Any) -> tuple[torch.Tensor, float]:
    """Lay out one sequence.

    Returns ``positions`` float32 (3, L) and ``next_position``, where a following token
    starts. Text tokens get ``p, p+k, p+2k, ...`` on all three axes, ``k`` the layout's
    :func:`text_step` (1 but for ``tad``).
    """
    block, step = LAYOUTS[layout].fn, text_step(layout)
    opts = LAYOUTS.resolve(layout, options)
    start, parts = 0.0, []
    for kind, T, H, W, seconds in normalize_segments(segments):
        if kind == "text":
            pos = (start + step * torch.arange(T, dtype=torch.float64)).expand(3, T)
            start = start + step * T
        else:
            pos, start = block(start, T, H, W, seconds, **opts)
        parts.append(pos)
    out = torch.cat(parts, dim=1) if parts else torch.zeros(3, 0, dtype=torch.float64)
    _warn_past_float32(out)
    return out.to(torch.float32), start


EXACT_FLOAT32 = 2**24
"""Positions are float32 (as the models' own rotaries take them): integers are exact up to
2^24, fractional steps lose resolution well before."""


def _warn_past_float32(positions: torch.Tensor) -> None:
    largest = float(positions.abs().max()) if positions.numel() else 0.0
    if largest > EXACT_FLOAT32:
        warnings.warn(
            f"positions reach {largest:.4g}, past 2^24 where float32 holds every integer: neighbouring positions "
            f"round together and angles lose precision (up to {largest * 2**-24:.2g} rad at the fastest "
            f"frequency); shorten the sequence or lower temporal_spacing / the layout's steps",
            stacklevel=3,
        )


def _runs(types: torch.Tensor) -> list[tuple[int, int, int]]:
    """(type, start, end) of each run of equal values in a 1D tensor, without a per-token loop."""
    if types.numel() == 0:
        return []
    cuts = (torch.nonzero(types[1:] != types[:-1]).flatten() + 1).tolist()
    bounds = [0, *cuts, types.numel()]
    kinds = types[bounds[:-1]].tolist()
    return [(k, a, b) for k, a, b in zip(kinds, bounds[:-1], bounds[1:], strict=True)]


def batch_positions(
    layout: str,
    token_types: torch.Tensor,
    image_grids: torch.Tensor | None = None,
    video_grids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    video_seconds: Sequence[float] | torch.Tensor | None = None,
    **options: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lay out a padded batch as HF processors produce it.

    Args:
        token_types: (B, L) int, 0 text, 1 image, 2 video (``mm_token_type_ids``).
        image_grids / video_grids: (N, 3) merged grids (T, H, W), consumed in order across
            the batch. A run of vision tokens may hold several consecutive grids.
        attention_mask: (B, L), 0 for padding; padded tokens get position 0.
        video_seconds: per video, the seconds one temporal grid step spans.

    Returns:
        positions float32 (3, B, L) and ``next_position`` float32 (B,), per row.
    """
    if token_types.ndim != 2:
        raise ValueError(f"token_types must be (batch, length), got shape {tuple(token_types.shape)}")
    grids = {
        IMAGE: iter(image_grids.tolist() if image_grids is not None else []),
        VIDEO: iter(video_grids.tolist() if video_grids is not None else []),
    }
    seconds = iter(torch.as_tensor(video_seconds).tolist() if video_seconds is not None else [])
    B, L = token_types.shape
    out = torch.zeros(3, B, L, dtype=torch.float32)
    nexts = torch.zeros(B, dtype=torch.float32)
    types_cpu = token_types.detach().cpu()
    mask = attention_mask.detach().cpu().bool() if attention_mask is not None else torch.ones(B, L, dtype=torch.bool)
    for b in range(B):
        segments: list[tuple[Any, ...]] = []
        for kind, start, end in _runs(types_cpu[b][mask[b]]):
            if kind == TEXT:
                segments.append(("text", end - start))
                continue
            name = {IMAGE: "image", VIDEO: "video"}.get(kind)
            if name is None:
                raise ValueError(f"token type {kind} in row {b}; expected 0 (text), 1 (image) or 2 (video)")
            covered = 0
            while covered < end - start:
                grid = next(grids[kind], None)
                if grid is None:
                    raise ValueError(
                        f"row {b} has {end - start} {name} tokens at {start} but the {name} grids ran out; "
                        f"pass one (T, H, W) grid per {name}, merged by the vision merger"
                    )
                T, H, W = (int(x) for x in grid)
                covered += T * H * W
                if kind == IMAGE:
                    segments.append(("image", H, W))
                else:
                    extra = next(seconds, None)
                    segments.append(("video", T, H, W) if extra is None else ("video", T, H, W, extra))
            if covered != end - start:
                raise ValueError(
                    f"row {b}: a run of {end - start} {name} tokens does not match its grids "
                    f"({covered} tokens); check that the grids are merged (H and W divided by the "
                    "spatial merge size) and in the order the tokens appear"
                )
        pos, nxt = positions(layout, segments, **options)
        out[:, b, mask[b]] = pos
        nexts[b] = nxt
    leftover = [name for kind, name in ((IMAGE, "image"), (VIDEO, "video")) if next(grids[kind], None) is not None]
    if leftover:
        raise ValueError(
            f"more {' and '.join(leftover)} grids than {' and '.join(leftover)} token runs; "
            "every grid needs its placeholder tokens in the input"
        )
    return out, nexts
