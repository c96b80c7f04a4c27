"""Sink geometry (REFERENCE section 5, Frayed RoPE): the first token as an attention sink,
within vs beyond the training length.

Keys and queries form tight clusters; the sink key sits apart with a small norm. Past the
training length the slow pairs rotate to angles never seen, the key cloud spreads (its first
singular direction holds less of its energy) and the sink draws less attention.
"""

from __future__ import annotations

import torch

from videorope.analysis.attention import attention_rows
from videorope.analysis.hooks import Capture

__all__ = ["first_direction_share", "sink_geometry"]


def first_direction_share(x: torch.Tensor) -> torch.Tensor:
    """``s_1^2 / sum s_i^2`` of each point cloud (uncentred): (..., n, d) -> (...); 1 when all
    points lie on one line through the origin."""
    s = torch.linalg.svdvals(x)
    return s[..., 0].square() / s.square().sum(-1)


def sink_geometry(cap: Capture, train_length: int) -> dict[str, torch.Tensor]:
    """Per layer and head (each entry (layers, H)):

    - ``key_norm_ratio`` / ``query_norm_ratio``: norm of the first token's key / query over the
      mean norm of the others (the query at position 0 must be captured);
    - ``key_share_within`` / ``key_share_beyond``: :func:`first_direction_share` of the keys in
      two windows of equal size ``w = min(train_length - 1, L - train_length)``: the last ``w``
      positions before ``train_length`` and the first ``w`` from it;
    - ``sink_mass_within`` / ``sink_mass_beyond``: mean attention on the first token from the
      captured queries before / from ``train_length`` on.
    """
    if cap.positions[0] != 0:
        raise ValueError("sink geometry needs the query at position 0: capture with queries including 0")
    if not 1 < train_length < cap.length:
        raise ValueError(f"the sequence ({cap.length} tokens) must be longer than train_length ({train_length})")
    within = (cap.positions > 0) & (cap.positions < train_length)
    beyond = cap.positions >= train_length
    if not (within.any() and beyond.any()):
        raise ValueError(f"capture queries both before and at or beyond train_length {train_length}")
    out: dict[str, list[torch.Tensor]] = {}
    window = min(train_length - 1, cap.length - train_length)
    for layer in range(len(cap.q)):
        keys, q = cap.keys(layer), cap.q[layer]
        key_norm, query_norm = keys.norm(dim=-1), q.norm(dim=-1)
        rows = attention_rows(cap, layer)[..., 0]  # (H, n): attention on token 0
        values = {
            "key_norm_ratio": key_norm[:, 0] / key_norm[:, 1:].mean(-1),
            "query_norm_ratio": query_norm[:, 0] / query_norm[:, 1:].mean(-1),
            "key_share_within": first_direction_share(keys[:, train_length - window : train_length]),
            "key_share_beyond": first_direction_share(keys[:, train_length : train_length + window]),
            "sink_mass_within": rows[:, within].mean(-1),
            "sink_mass_beyond": rows[:, beyond].mean(-1),
        }
        for name, value in values.items():
            out.setdefault(name, []).append(value)
    return {name: torch.stack(v) for name, v in out.items()}
