"""Attention distributions of sampled queries, their entropy, and how two differ (REFERENCE
section 5: Zhong et al. 2024)."""

from __future__ import annotations

import torch

from videorope.analysis.hooks import Capture

__all__ = ["attention_rows", "entropy", "js_divergence"]


def attention_rows(cap: Capture, layer: int) -> torch.Tensor:
    """Causal attention probabilities of the captured queries of ``layer``: (H, n, L), each row
    sums to 1 over keys at or before the query's position (one n x L block per head, never L x L)."""
    logits = cap.scaling[layer] * cap.q[layer] @ cap.keys(layer).transpose(-1, -2)
    future = torch.arange(cap.length)[None] > cap.positions[:, None]
    return logits.masked_fill(future, float("-inf")).softmax(-1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    """``-sum p log p`` (nats) over the last dim, with ``0 log 0 = 0``: (..., L) -> (...)."""
    return -torch.special.xlogy(p, p).sum(-1)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence (nats, in [0, ln 2]) of distributions over the last dim."""
    m = (p + q) / 2
    m = m.where(m > 0, 1.0)  # where m is 0 so are p and q, and 0 log 0 = 0
    return (torch.special.xlogy(p, p / m) + torch.special.xlogy(q, q / m)).sum(-1).clamp_min(0) / 2
