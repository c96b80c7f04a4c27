"""Per-rotary-pair contributions to attention logits, dominant dimension and positional heads
(REFERENCE section 5).

With the rotate-half layout, rotary pair ``i`` of a head of ``d`` dims is dims ``(i, i + d/2)``
and turns at frequency ``theta_i``: pair 0 is the fastest, pair ``d/2 - 1`` the slowest.
"""

from __future__ import annotations

import torch

from videorope.analysis.hooks import Capture

__all__ = ["contribution_profile", "dominant_dimension", "pair_contributions", "positional_scores", "spearman"]


def pair_contributions(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``q[i]k[i] + q[i+d/2]k[i+d/2]`` for each pair ``i``: (..., d) x (..., d) -> (..., d/2),
    broadcasting leading dims; summed over the last dim it is the logit ``q . k``."""
    products = q * k
    half = products.shape[-1] // 2
    return products[..., :half] + products[..., half:]


def dominant_dimension(contributions: torch.Tensor) -> torch.Tensor:
    """Mean pair index under a softmax over the pair contributions: (..., d/2) -> (...)."""
    index = torch.arange(contributions.shape[-1], dtype=contributions.dtype, device=contributions.device)
    return contributions.softmax(-1) @ index


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks of a 1D tensor, ties sharing their average rank."""
    _, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    return (ends - (counts.double() - 1) / 2)[inverse]


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation of two 1D tensors of equal length (ties: average ranks);
    NaN when either is constant."""
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(
            f"spearman needs two 1D tensors of the same length >= 2, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = (rx.square().sum() * ry.square().sum()).sqrt()
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def _pairs(cap: Capture, keys: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sampled key positions (m,), the causal mask (n, m) and the distances (n, m)."""
    key_pos = torch.linspace(0, cap.length - 1, min(keys, cap.length)).round().long().unique()
    distance = cap.positions[:, None] - key_pos[None]
    return key_pos, distance >= 0, distance


def positional_scores(cap: Capture, keys: int = 512) -> dict[str, torch.Tensor]:
    """Per head: ``score`` (layers, H), the Spearman correlation of token distance and dominant
    dimension over causal (query, key) pairs at ``keys`` evenly spaced key positions, and
    ``dominant`` (layers, H), the mean dominant dimension. Positional heads score high: the
    farther the key, the slower the pairs that carry the logit."""
    key_pos, causal, distance = _pairs(cap, keys)
    scores, dominant = [], []
    for layer in range(len(cap.q)):
        contributions = pair_contributions(cap.q[layer][:, :, None], cap.keys(layer)[:, None, key_pos])
        dom = dominant_dimension(contributions)[:, causal]  # (H, pairs)
        dist = distance[causal].double()
        scores.append(torch.tensor([spearman(dist, d.double()) for d in dom]))
        dominant.append(dom.mean(-1))
    return {"score": torch.stack(scores), "dominant": torch.stack(dominant)}


def contribution_profile(cap: Capture, keys: int = 512) -> torch.Tensor:
    """Share of each pair in the absolute logit mass, per layer: (layers, d/2), rows sum to 1
    (mean over heads and causal pairs at ``keys`` sampled key positions)."""
    key_pos, causal, _ = _pairs(cap, keys)
    rows = []
    for layer in range(len(cap.q)):
        contributions = pair_contributions(cap.q[layer][:, :, None], cap.keys(layer)[:, None, key_pos]).abs()
        mass = contributions[:, causal].sum((0, 1))
        rows.append(mass / mass.sum())
    return torch.stack(rows)
