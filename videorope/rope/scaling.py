"""Frequency scaling for length extension: rescaled inverse frequencies per frequency index.

Each scaling is a pure function ``fn(rope, axes, seq_len, **options) -> (inv_freq, attention_factor)``
registered in :data:`SCALINGS`: ``rope`` is a :class:`RopeSpec`, ``axes`` the per-frequency
axis from the allocation (YaRN-V rescales only ``"t"``), ``seq_len`` the current length for
scalings marked ``dynamic`` (None at build time). ``inv_freq`` is float32 (rotary_dim/2,).
Linear, dynamic, YaRN and Llama-3 reuse the math of transformers' ``ROPE_INIT_FUNCTIONS``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import torch
from transformers import PretrainedConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from videorope import theory
from videorope.registry import REQUIRED, Registry
from videorope.rope.spec import RopeSpec

__all__ = ["SCALINGS", "RopeSpec", "default_inv_freq", "scaled_inv_freq"]

SCALINGS = Registry("scaling")


def default_inv_freq(head_dim: int, base: float) -> torch.Tensor:
    """``base ** (-2i/d)`` in float32, computed exactly as transformers' default RoPE does."""
    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float) / head_dim))


def _hf(rope: RopeSpec, rope_type: str, seq_len: int | None = None, **params: Any) -> tuple[torch.Tensor, float]:
    """Call transformers' init function for ``rope_type`` on a minimal config, once per
    (spec, type, length, parameters); a copy of the frequencies each call."""
    inv_freq, attention_factor = _hf_once(rope, rope_type, seq_len, tuple(sorted(params.items())))
    return inv_freq.clone(), attention_factor


@functools.lru_cache(maxsize=256)
def _hf_once(rope: RopeSpec, rope_type: str, seq_len: int | None, params: tuple) -> tuple[torch.Tensor, float]:
    config = PretrainedConfig(
        head_dim=rope.head_dim,
        hidden_size=rope.head_dim,
        num_attention_heads=1,
        max_position_embeddings=rope.train_length,
        rope_parameters={"rope_type": rope_type, "rope_theta": rope.base, **dict(params)},
    )
    inv_freq, attention_factor = ROPE_INIT_FUNCTIONS[rope_type](config, seq_len=seq_len)
    return inv_freq.float(), float(attention_factor)


def _hf_extension(
    rope: RopeSpec, rope_type: str, factor: float, original_length: int | None, **params: Any
) -> tuple[torch.Tensor, float]:
    """``_hf`` for the scalings that extend from an original length (default: the training length)."""
    original = original_length or rope.train_length
    return _hf(rope, rope_type, factor=_factor(factor), original_max_position_embeddings=original, **params)


def _factor(value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 1):
        raise ValueError(f"scaling factor must be >= 1 and finite (the context grows by it), got {value!r}")
    return float(value)


@SCALINGS.register("none", paper="RoFormer (Su et al., 2021)", summary="the model's own frequencies")
def none(rope: RopeSpec, axes: Sequence[str], seq_len: int | None) -> tuple[torch.Tensor, float]:
    return default_inv_freq(rope.head_dim, rope.base), 1.0


@SCALINGS.register(
    "linear",
    paper="Position Interpolation (Chen et al., 2023)",
    summary="theta_i / s on every frequency",
    options={"factor": REQUIRED},
)
def linear(rope: RopeSpec, axes: Sequence[str], seq_len: int | None, *, factor: float) -> tuple[torch.Tensor, float]:
    return _hf(rope, "linear", factor=_factor(factor))


@SCALINGS.register(
    "ntk",
    paper="NTK-aware scaling (bloc97, 2023)",
    summary="base * s^(d/(d-2))",
    options={"factor": REQUIRED},
)
def ntk(rope: RopeSpec, axes: Sequence[str], seq_len: int | None, *, factor: float) -> tuple[torch.Tensor, float]:
    d = rope.head_dim
    return default_inv_freq(d, rope.base * _factor(factor) ** (d / (d - 2))), 1.0


@SCALINGS.register(
    "dynamic",
    paper="Dynamic NTK (emozilla, 2023)",
    summary="NTK base recomputed from the current length: base * (s*len/L - (s-1))^(d/(d-2))",
    options={"factor": REQUIRED},
    dynamic=True,
)
def dynamic(rope: RopeSpec, axes: Sequence[str], seq_len: int | None, *, factor: float) -> tuple[torch.Tensor, float]:
    """Transformers' dynamic NTK formula, owned here: it runs at every decoding step past the
    training length (parity: ``tests/rope/test_scaling.py``)."""
    f, L, d = _factor(factor), rope.train_length, rope.head_dim
    n = max(seq_len or L, L)
    return default_inv_freq(d, rope.base * ((f * n / L) - (f - 1)) ** (d / (d - 2))), 1.0


@SCALINGS.register(
    "yarn",
    paper="YaRN (Peng et al., ICLR 2024)",
    summary="ramp between interpolated low and kept high frequencies, attention factor 0.1 ln s + 1",
    options={"factor": REQUIRED, "beta_fast": 32.0, "beta_slow": 1.0, "original_length": None},
)
def yarn(
    rope: RopeSpec,
    axes: Sequence[str],
    seq_len: int | None,
    *,
    factor: float,
    beta_fast: float,
    beta_slow: float,
    original_length: int | None,
) -> tuple[torch.Tensor, float]:
    return _hf_extension(rope, "yarn", factor, original_length, beta_fast=beta_fast, beta_slow=beta_slow)


@SCALINGS.register(
    "llama3",
    paper="Llama 3 (Meta, 2024)",
    summary="Llama-3.1 wavelength-banded interpolation (for checkpoints configured with it)",
    options={"factor": REQUIRED, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_length": None},
)
def llama3(
    rope: RopeSpec,
    axes: Sequence[str],
    seq_len: int | None,
    *,
    factor: float,
    low_freq_factor: float,
    high_freq_factor: float,
    original_length: int | None,
) -> tuple[torch.Tensor, float]:
    return _hf_extension(
        rope, "llama3", factor, original_length, low_freq_factor=low_freq_factor, high_freq_factor=high_freq_factor
    )


@SCALINGS.register(
    "yarn-v",
    paper="VideoRoPE++ (Wei et al., 2025)",
    summary="NTK on the temporal frequencies only: base * ((L*s-1)/(L-1))^(d/(d-2)); spatial untouched",
    options={"factor": 4.0, "original_length": None},
)
def yarn_v(
    rope: RopeSpec, axes: Sequence[str], seq_len: int | None, *, factor: float, original_length: int | None
) -> tuple[torch.Tensor, float]:
    d, L = rope.head_dim, original_length or rope.train_length
    if L < 2:
        raise ValueError(f"yarn-v original_length must be >= 2, got {L}")
    base_t = rope.base * ((L * _factor(factor) - 1) / (L - 1)) ** (d / (d - 2))
    temporal = torch.tensor([a == "t" for a in axes])
    inv_freq = torch.where(temporal, default_inv_freq(d, base_t), default_inv_freq(d, rope.base))
    return inv_freq, 1.0


@SCALINGS.register(
    "critical-ntk",
    paper="LongLLaDA (Liu et al., 2025); Scaling Laws of RoPE-based Extrapolation (Liu et al., ICLR 2024)",
    summary="NTK base lambda*b with lambda from the critical dimension for a target length",
    options={"target_length": REQUIRED, "round_up": True},
)
def critical_ntk(
    rope: RopeSpec, axes: Sequence[str], seq_len: int | None, *, target_length: int, round_up: bool
) -> tuple[torch.Tensor, float]:
    if not (isinstance(target_length, (int, float)) and math.isfinite(target_length) and target_length >= 1):
        raise ValueError(f"target_length must be a finite number of tokens, got {target_length!r}")
    lam = theory.ntk_factor(rope.head_dim, rope.base, rope.train_length, int(target_length))
    lam = math.ceil(lam) if round_up else lam
    return default_inv_freq(rope.head_dim, rope.base * max(lam, 1.0)), 1.0


def scaled_inv_freq(
    scaling: str, rope: RopeSpec, axes: Sequence[str], seq_len: int | None = None, **options: Any
) -> tuple[torch.Tensor, float]:
    """Inverse frequencies float32 (rotary_dim/2,) and the attention factor for ``scaling``."""
    if len(axes) != rope.head_dim // 2:
        raise ValueError(f"{len(axes)} axes given for {rope.head_dim // 2} frequencies")
    return SCALINGS[scaling].fn(rope, axes, seq_len, **SCALINGS.resolve(scaling, options))
