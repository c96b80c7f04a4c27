"""Noise injection into rotary pairs below vs above the critical dimension (REFERENCE section
4, the heterogeneous-feature claim): dims below it carry local attention and shrug noise off,
dims above it carry retrieval and noise there hurts the needle.

Noise of energy ``e`` added to a vector ``x`` has squared norm exactly ``e * |x|^2`` and lives
only on the chosen band; the same ``e`` in either band is a fair comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from videorope.analysis.hooks import qk_hook

__all__ = ["BANDS", "band_dims", "inject_noise", "scaled_noise"]

BANDS = ("below", "above")
_BLOCK = 256


def band_dims(head_dim: int, critical_dim: int, band: str) -> torch.Tensor:
    """Dims of the rotary pairs ``below`` (pairs ``i < critical_dim / 2``: fast, a full period
    within training) or ``above`` the critical dimension, both halves of each pair
    (rotate-half layout): a 1D index tensor."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    half = head_dim // 2
    if not 0 < critical_dim < head_dim:
        raise ValueError(f"critical_dim must lie in (0, {head_dim}) to split the pairs, got {critical_dim}")
    pairs = torch.arange(critical_dim // 2) if band == "below" else torch.arange(critical_dim // 2, half)
    return torch.cat([pairs, pairs + half])


def scaled_noise(x: torch.Tensor, directions: torch.Tensor, energy: float) -> torch.Tensor:
    """Noise along unit ``directions`` (broadcast to ``x``) with squared norm ``energy * |x|^2``
    per vector (last dim)."""
    return directions * (energy**0.5) * x.norm(dim=-1, keepdim=True)


@contextmanager
def inject_noise(model: nn.Module, dims: torch.Tensor, energy: float, seed: int = 0) -> Iterator[None]:
    """Within the block, add Gaussian noise of relative ``energy`` on ``dims`` to every rotated
    query and key of every layer.

    Each (layer, q or k, head, position) gets one fixed random direction, so cached keys read
    the same noise at every decoding step as at prefill.
    """
    if energy < 0:
        raise ValueError(f"energy must be >= 0, got {energy}")
    drawn: dict[tuple[int, int], torch.Tensor] = {}

    def directions(layer: int, kind: int, heads: int, length: int, d: int) -> torch.Tensor:
        """Unit directions (heads, length, d) on ``dims`` for q (``kind`` 0) or k (1), drawn in
        blocks of positions, each from its own seed: a position's direction does not depend
        on how the sequence grew."""
        have = drawn.get((layer, kind), torch.zeros(heads, 0, d))
        while have.shape[1] < length:
            block_seed = ((seed * 1000 + layer) * 2 + kind) * 1_000_003 + have.shape[1] // _BLOCK
            block = torch.zeros(heads, _BLOCK, d)
            block[..., dims] = torch.randn(
                heads, _BLOCK, len(dims), generator=torch.Generator().manual_seed(block_seed)
            )
            have = torch.cat([have, block / block.norm(dim=-1, keepdim=True)], 1)
        drawn[layer, kind] = have
        return have[:, :length]

    def add(layer: int, module: nn.Module, q: torch.Tensor, k: torch.Tensor):
        length, d = k.shape[-2], k.shape[-1]
        dq = directions(layer, 0, q.shape[1], length, d)[:, length - q.shape[-2] :].to(q)
        dk = directions(layer, 1, k.shape[1], length, d).to(k)
        return q + scaled_noise(q, dq, energy), k + scaled_noise(k, dk, energy)

    with qk_hook(model, add):
        yield
