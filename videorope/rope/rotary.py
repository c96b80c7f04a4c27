"""cos/sin from (t, h, w) positions, and the reference rotate-half rotary.

The rotary is described by a :class:`RotaryTable`: for each frequency index the axis whose
position it reads and its inverse frequency (scaled, zeroed where the allocation says so).
``cos_sin`` turns positions into cos/sin in float32 (positions are large and may be
fractional: fp32 here, not the model dtype), and ``apply_rotary`` is the readable fp32
reference that the Triton kernel is tested against.

Rotate-half (GPT-NeoX / HF) convention: pair ``i`` is channels ``i`` and ``i + r/2`` of the
first ``r`` (rotary) channels; channels past ``r`` pass through unrotated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from videorope.rope.allocation import ALLOCATIONS, frequency_axes
from videorope.rope.scaling import SCALINGS, RopeSpec, scaled_inv_freq

__all__ = ["AXES", "Angles", "RotaryTable", "apply_rotary", "cos_sin", "is_dynamic", "rotary_table", "rotate_half"]

AXES = ("t", "h", "w")


@dataclass(frozen=True)
class RotaryTable:
    """Per-frequency axis index (0 t, 1 h, 2 w) long (n,), inverse frequency float32 (n,)."""

    axis: torch.Tensor
    inv_freq: torch.Tensor
    attention_factor: float = 1.0

    @property
    def rotary_dim(self) -> int:
        return 2 * self.inv_freq.numel()


@dataclass(frozen=True)
class Angles:
    """What the Triton rotary needs in place of cos/sin: positions (3, B, L) or (B, L) and the table.

    A patched model's rotary returns it in the slot of cos/sin when the kernel is chosen
    (:func:`videorope.integrations.base.use_kernel`); LLaDA's attention reads it there too.
    """

    positions: torch.Tensor
    table: RotaryTable


def rotary_table(
    rope: RopeSpec,
    allocation: str = "vanilla",
    scaling: str = "none",
    allocation_options: Mapping[str, Any] | None = None,
    scaling_options: Mapping[str, Any] | None = None,
    seq_len: int | None = None,
) -> RotaryTable:
    """Build the table for an allocation and a scaling (``seq_len`` for dynamic scalings)."""
    axes = frequency_axes(allocation, rope.head_dim, **(allocation_options or {}))
    inv_freq, attention_factor = scaled_inv_freq(scaling, rope, axes, seq_len, **(scaling_options or {}))
    zeroed = torch.tensor([a in ALLOCATIONS[allocation].meta.get("zero_axes", ()) for a in axes])
    inv_freq = inv_freq.masked_fill(zeroed, 0.0)
    axis = torch.tensor([AXES.index(a) for a in axes], dtype=torch.long)
    return RotaryTable(axis, inv_freq.float(), attention_factor)


def is_dynamic(scaling: str) -> bool:
    """Whether ``scaling`` depends on the current sequence length."""
    return bool(SCALINGS[scaling].meta.get("dynamic", False))


def cos_sin(positions: torch.Tensor, table: RotaryTable) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin float32 (B, L, rotary_dim) for positions (3, B, L) or 1D positions (B, L)."""
    inv_freq = table.inv_freq.to(positions.device)
    if positions.ndim == 2:
        angles = positions.float()[..., None] * inv_freq  # (B, L, n)
    elif positions.ndim == 3 and positions.shape[0] == 3:
        # Each frequency reads the position of its own axis: (n, B, L) -> (B, L, n).
        per_freq = positions.float().index_select(0, table.axis.to(positions.device))
        angles = per_freq.permute(1, 2, 0) * inv_freq
    else:
        raise ValueError(f"positions must be (3, B, L) or (B, L), got shape {tuple(positions.shape)}")
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos() * table.attention_factor, angles.sin() * table.attention_factor


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the last dim split in halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, head_axis: int = 1) -> torch.Tensor:
    """Reference rotate-half rotary in fp32, returned in ``x.dtype``; ``x`` is not modified.

    Args:
        x: (B, H, L, D) with ``head_axis=1`` (HF attention layout) or (B, L, H, D) with ``head_axis=2``.
        cos, sin: (B, L, r) with ``r <= D`` even; channels ``r..D`` pass through.
    """
    r = cos.shape[-1]
    if r % 2 or r > x.shape[-1]:
        raise ValueError(f"rotary dims {r} must be even and at most the head dim {x.shape[-1]}")
    cos, sin = cos.unsqueeze(head_axis).float(), sin.unsqueeze(head_axis).float()
    rot, rest = x[..., :r].float(), x[..., r:]
    out = rot * cos + rotate_half(rot) * sin
    return torch.cat((out.to(x.dtype), rest), dim=-1)
