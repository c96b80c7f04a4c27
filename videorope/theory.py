"""RoPE scaling laws for the text axis: critical dimension, extrapolation bounds, base bounds.

Pure functions of ``(head_dim, base, lengths)``; no model code, no printing.

Notation (as in the papers; ``d`` is the number of ROTARY dims of one head, i.e.
``head_dim * partial_rotary_factor``):

- ``d``: rotary head dim (even), ``b``: RoPE base (``rope_theta``), ``L``: training length.
- ``theta_i = b^(-2i/d)`` for ``i = 0 .. d/2-1``; index 0 is the HIGHEST frequency, and
  pair ``i`` rotates with wavelength ``lambda_i = 2*pi/theta_i = 2*pi * b^(2i/d)`` tokens.
  (Which channels form pair ``i`` -- rotate-half or interleaved -- does not matter here:
  every formula below depends only on the set of frequencies.)

Scaling Laws of RoPE-based Extrapolation (Liu et al., ICLR 2024):

- critical dimension ``d_extra = 2 * ceil((d/2) * log_b(L / (2*pi)))``: the pairs below it
  have wavelength < L, so training showed them a full period; the pairs at and above it did
  not, and those are the ones that go out of distribution past ``L``.
- extrapolation bound ``T_extra = 2*pi * b^(d_extra/d)``: the wavelength of the first pair
  that did not complete a period.
- tuning with base ``beta`` at length ``T_tune``: critical base
  ``beta_0 = b^(log_{L/2pi}(T_tune/2pi))``; see :func:`tuned_bound`.

LongLLaDA (Liu et al., 2025): NTK factor for a target length
``lambda = b^-1 * (T_target/(2*pi))^(d/d_extra)`` (new base ``lambda * b``).

Base of RoPE Bounds Context Length (Men et al., 2024): the smallest ``b`` with
``B(m) = sum_i cos(m * theta_i) >= 0`` for all ``m < L`` (:func:`min_base`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from videorope import known_configs
from videorope.rope.spec import read_rope

__all__ = [
    "PUBLISHED_MIN_BASE",
    "TheoryReport",
    "complete_period",
    "critical_base",
    "critical_dimension",
    "extrapolation_bound",
    "min_base",
    "ntk_factor",
    "report",
    "tuned_bound",
    "wavelengths",
]

_TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------
# argument checks (errors name the argument and what was expected)
# --------------------------------------------------------------------------------------


def _check_dim(head_dim: int) -> int:
    if isinstance(head_dim, bool) or int(head_dim) != head_dim or head_dim < 2 or head_dim % 2:
        raise ValueError(f"head_dim (rotary dims) must be a positive even integer, got {head_dim!r}")
    return int(head_dim)


def _check_base(base: float, what: str = "base") -> float:
    base = float(base)
    if not base > 1.0 or math.isinf(base):
        raise ValueError(f"{what} (rope_theta) must be a finite number > 1, got {base!r}")
    return base


def _check_length(length: int, what: str) -> int:
    if isinstance(length, bool) or int(length) != length or length < 1:
        raise ValueError(f"{what} must be a positive integer number of tokens, got {length!r}")
    return int(length)


# --------------------------------------------------------------------------------------
# critical dimension and the bounds built on it
# --------------------------------------------------------------------------------------


def critical_dimension(head_dim: int, base: float, train_length: int) -> int:
    """Critical dimension ``d_extra = 2 * ceil((d/2) * log_b(L / (2*pi)))``, clamped to ``[0, d]``.

    ``(d/2) * log_b(L/2pi)`` is the (fractional) pair index whose wavelength
    ``2*pi*b^(2i/d)`` equals ``L``; ``d_extra`` counts the rotary DIMS (2 per pair) of the
    pairs below it. Llama-2 (d=128, b=1e4, L=4096): 64 * log_1e4(651.9) = 45.03 -> 92.
    """
    d = _check_dim(head_dim)
    b = _check_base(base)
    L = _check_length(train_length, "train_length")
    x = (d / 2) * math.log(L / _TWO_PI) / math.log(b)
    return int(min(max(2 * math.ceil(x), 0), d))


def extrapolation_bound(head_dim: int, base: float, train_length: int) -> float:
    """``T_extra = 2*pi * b^(d_extra/d)`` tokens: the wavelength of the first pair (index
    ``d_extra/2``) that never completed a period within ``L``. Past it, that pair's angles
    leave the range seen in training."""
    d_extra = critical_dimension(head_dim, base, train_length)
    return _TWO_PI * float(base) ** (d_extra / head_dim)


def ntk_factor(head_dim: int, base: float, train_length: int, target_length: int) -> float:
    """LongLLaDA's NTK factor ``lambda = b^-1 * (T_target/(2*pi))^(d/d_extra)``, unrounded.

    The new base is ``lambda * b``: it stretches the critical pair's wavelength to
    ``T_target`` (solve ``2*pi*(lambda*b)^(d_extra/d) = T_target``). Papers round it UP
    (``math.ceil``). A value below 1 means the target is already within the bound.
    """
    d = _check_dim(head_dim)
    b = _check_base(base)
    T = _check_length(target_length, "target_length")
    d_extra = critical_dimension(d, b, train_length)
    if d_extra == 0:
        raise ValueError(
            f"critical dimension is 0 for train_length={train_length} (no pair completes a period "
            f"within L <= 2*pi tokens), so the NTK factor is undefined"
        )
    return (T / _TWO_PI) ** (d / d_extra) / b


def critical_base(base: float, train_length: int, tune_length: int) -> float:
    """Critical base for fine-tuning at ``T_tune``: ``beta_0 = b^(log_{L/2pi}(T_tune/2pi))``.

    ``b`` is the PRETRAINING base (the paper writes 10000 because Llama-2's is 1e4). For a
    tuning base ``beta = beta_0`` the extrapolation bound ``2*pi*beta^(d_extra/d)`` (d_extra
    from pretraining) is about ``T_tune``: ``beta_0`` is where enlarging the base starts to
    buy length beyond the tuning length. Llama-2 tuned at 16K: ``beta_0 ~ 7.2e4``.
    """
    b = _check_base(base)
    L = _check_length(train_length, "train_length")
    T = _check_length(tune_length, "tune_length")
    if L <= _TWO_PI:
        raise ValueError(f"train_length must exceed 2*pi tokens for a critical base, got {train_length}")
    return b ** (math.log(T / _TWO_PI) / math.log(L / _TWO_PI))


def tuned_bound(head_dim: int, pretrain_base: float, train_length: int, tune_base: float, tune_length: int) -> float:
    """Extrapolation bound (tokens) after fine-tuning with base ``beta`` at length ``T_tune``.

    Extended scaling law (Liu et al., ICLR 2024), with ``d_extra`` taken from PRETRAINING
    (``critical_dimension(head_dim, pretrain_base, train_length)``) and
    ``beta_0 = critical_base(pretrain_base, train_length, tune_length)``:

    - ``beta > beta_0`` (a large base): the first unseen pair now has wavelength
      ``2*pi*beta^(d_extra/d)``, beyond ``T_tune``; the bound is that wavelength.
      Llama-2 tuned at 16K with beta=1e6: about 129K tokens (published perplexity is 7.07
      at 128K and 76.82 at 256K).
    - ``beta <= beta_0`` (a small base, e.g. 500): every pair completes its period within
      ``T_tune``, no pair is out of distribution, and the guaranteed length is ``T_tune``
      itself. This is a guarantee, not a cliff: the published perplexity with base 500
      degrades gradually past 16K (9.15 at 128K, 12.41 at 256K).
    """
    d = _check_dim(head_dim)
    beta = _check_base(tune_base, "tune_base")
    d_extra = critical_dimension(d, pretrain_base, train_length)
    if beta > critical_base(pretrain_base, train_length, tune_length):
        return _TWO_PI * beta ** (d_extra / d)
    return float(tune_length)


def wavelengths(head_dim: int, base: float) -> torch.Tensor:
    """Wavelength of each rotary pair, ``2*pi/theta_i = 2*pi*b^(2i/d)``: float64, shape (d/2,),
    increasing (index 0 = highest frequency = wavelength 2*pi)."""
    d = _check_dim(head_dim)
    b = _check_base(base)
    return _TWO_PI * torch.tensor(b, dtype=torch.float64) ** (torch.arange(0, d, 2, dtype=torch.float64) / d)


def complete_period(head_dim: int, base: float, train_length: int) -> torch.Tensor:
    """Which pairs complete a full period within ``L``: bool, shape (d/2,), ``wavelength <= L``.

    Its count equals ``critical_dimension(...)/2`` except on the measure-zero set where
    ``(d/2)*log_b(L/2pi)`` is an integer: there a pair has wavelength exactly ``L``, counts
    as complete here, but sits at index ``d_extra/2`` (count = ``d_extra/2 + 1``).
    """
    L = _check_length(train_length, "train_length")
    return wavelengths(head_dim, base) <= L


# --------------------------------------------------------------------------------------
# lower bound of the base (Men et al., 2024)
# --------------------------------------------------------------------------------------

PUBLISHED_MIN_BASE: dict[int, float] = {
    1024: 4.3e3,
    2048: 1.6e4,
    4096: 2.7e4,
    8192: 8.4e4,
    16384: 3.1e5,
    32768: 6.4e5,
    65536: 2.1e6,
    131072: 7.8e6,
    262144: 3.6e7,
    524288: 6.4e7,
    1048576: 5.1e8,
}
"""Published lower bound of the base for d=128 (Base of RoPE Bounds Context Length, 2024),
keyed by length in tokens, two significant digits as printed. "1K" is read as 1024: our
search reproduces 1K -> 4.3e3 with L=1024 but gives 4.2e3 with L=1000 (and 24K in
LongLLaDA's table is 24576 too). See :func:`min_base` for how our values compare."""

_BLOCK = 1024  # positions per row of the angle-addition matmul in _cos_sum_min
_MAX_BASE = 1e30


def _thetas(d: int, b: float) -> torch.Tensor:
    """theta_i = b^(-2i/d), float64 (d/2,). The one place a base becomes frequencies, so a
    base is judged the same way in the scan, the bisection and the verification."""
    return torch.tensor(float(b), dtype=torch.float64) ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)


def _cos_sum_min(theta: torch.Tensor, length: int, early_exit: bool = True) -> tuple[float, int]:
    """``(min_m B(m), argmin)`` over integer ``m in [0, length)``, ``B(m) = sum_i cos(m*theta_i)``.

    Positions are cut into rows of ``K`` (m = m0 + k) and the angle-addition formula turns
    each row into one float64 matmul, (rows, d) @ (d, K):
    ``cos((m0+k)t) = cos(m0 t) cos(k t) - sin(m0 t) sin(k t)``.
    Memory is bounded by 256 rows at a time (a few MiB). Error: every angle is formed directly
    (m0*t, k*t, no recurrence), so |error in B| <~ d/2 * ulp(m*theta) ~ 1e-8 at m = 1e6.

    With ``early_exit`` the rows are visited in order of their slow part (the sum over the
    pairs whose angle moves by < 1 rad inside a row, taken at the row centre), lowest
    first, and the scan stops at the first row with a negative value: near the bound the
    few negative rows sit where the slow part is lowest, so a failing base is usually
    settled after a handful of rows. A passing base always costs a full scan.
    """
    K = min(_BLOCK, length)
    nrows = -(-length // K)
    k = torch.arange(K, dtype=torch.float64)
    ka = k[:, None] * theta
    right = torch.cat([ka.cos(), -ka.sin()], 1)  # (K, d)
    starts = torch.arange(nrows, dtype=torch.float64) * K
    if early_exit and nrows > 1:
        slow = theta * K < 1.0
        order = torch.argsort(((starts + K / 2)[:, None] * theta[slow]).cos().sum(1), stable=True)
    else:
        order = torch.arange(nrows)
    best, best_m = math.inf, -1
    pos, sizes = 0, [4, 28]
    while pos < nrows:
        rows = order[pos : pos + (sizes.pop(0) if sizes else 256)]
        pos += len(rows)
        a = starts[rows][:, None] * theta
        B = torch.cat([a.cos(), a.sin()], 1) @ right.T  # (rows, K)
        m = starts[rows][:, None] + k
        B = B.masked_fill(m >= length, math.inf)
        j = int(B.argmin())
        v = float(B.reshape(-1)[j])
        if v < best:
            best, best_m = v, int(m.reshape(-1)[j])
        if early_exit and best < 0:
            break
    return best, best_m


def min_base(head_dim: int, length: int, *, method: str = "exact", rtol: float = 1e-3, xtol: float = 1e-9) -> float:
    """Smallest base ``b`` with ``B(m) = sum_i cos(m * theta_i) >= 0`` for every integer
    ``m in [0, length)`` (Men et al., 2024), in float64.

    The condition is NOT monotone in ``b``: the set of passing bases is a union of
    intervals, and near the bound (and, for long lengths, over more than a decade above it)
    passing and failing bases alternate. For L = 1024, d = 128: [4293, 4330] passes,
    (4330, 5602) fails, then passes again; for L = 2^20 isolated passing bases appear at
    6.5e7 while failures persist past 1e9.

    ``method="exact"`` (default) sweeps up from ``b = 1`` in certified steps: at a failing
    base a witness ``m`` with ``B(m) < 0`` stays negative for every base up to
    ``b + |B(m)| b / (m S(b))``, ``S(b) = sum_i (2i/d) theta_i`` (``|dB/db| <= m S(b) / b``
    and ``S(b)/b`` only falls as ``b`` grows); the sweep jumps there, keeping recent
    witnesses, and scans all positions only when none of them fails. (A second-order bound
    jumps further but lands where the kept witnesses pass, so it scans far more often.) The
    first base that passes is the smallest, up to gaps of a relative ``xtol`` (default 1e-9)
    crossed only where the certified step is shorter than that. At 16K it finds 2.316e5 where
    the grid misses the narrow passing interval below 2.341e5. Cost grows with the length
    (d=128 on 2 CPU cores, from ``benchmarks/min_base.py``: 2 s at 16K, 15 s at 128K, about a
    minute at 512K and 1M).

    ``method="grid"`` is the fast search: an ascending scan over ``b_k = (1 + rtol)^k`` to
    the first passing grid base, bisection in log-space to ``xtol``, verification. It
    returns a fail->pass edge of the first passing interval that contains a grid point and
    misses passing intervals narrower than ``rtol`` below it.

    Against :data:`PUBLISHED_MIN_BASE` (d=128, grid, rtol=1e-3): 1K, 4K, 8K, 64K, 128K and
    512K agree to the two printed digits; 2K, 16K, 32K, 256K and 1M come out smaller (1.16e4,
    2.34e5, 6.30e5, 3.26e7, 6.54e7), each verified to satisfy the condition;
    ``benchmarks/min_base.py`` tabulates the exact values beside them.

    Lengths <= 2 return 1.0 (``B(1) = sum_i cos(theta_i) > 0`` for any ``b >= 1``).
    ``head_dim = 2`` has ``B(m) = cos(m)`` for every base and raises ``ValueError`` for
    ``length >= 3``.
    """
    d = _check_dim(head_dim)
    L = _check_length(length, "length")
    if method not in ("exact", "grid"):
        raise ValueError(f"method must be 'exact' or 'grid', got {method!r}")
    if not 0 < rtol <= 0.1:
        raise ValueError(f"rtol (relative grid step) must be in (0, 0.1], got {rtol!r}")
    if not 0 < xtol < rtol:
        raise ValueError(f"xtol (relative bisection width) must be in (0, rtol), got {xtol!r}")
    if L <= 2:
        return 1.0
    if d == 2:
        raise ValueError(f"head_dim=2 has B(m) = cos(m) for every base, negative at m=2 < length={L}")
    return _certified_sweep(d, L, xtol) if method == "exact" else _grid_search(d, L, rtol, xtol)


def _certified_sweep(d: int, L: int, xtol: float) -> float:
    """The smallest passing base, sweeping up from 1 in certified failing steps (see min_base)."""
    e = np.arange(0, d, 2, dtype=np.float64) / d
    b, witnesses = 1.0, np.array([2.0])
    while b < _MAX_BASE:
        theta = b**-e
        B = np.cos(witnesses[:, None] * theta).sum(1)
        failing = B < 0
        if not failing.any():
            value, m = _cos_sum_min(torch.from_numpy(theta), L)
            if value >= 0:
                value, _ = _cos_sum_min(torch.from_numpy(theta), L, early_exit=False)
                if value < 0:
                    raise RuntimeError(f"min_base: the full scan at {b:.9g} disagrees with its early exit")
                return b
            witnesses = np.append(witnesses, float(m))[-64:]
            continue
        # |dB/db| <= m * S(b) / b on [b, inf): the witness stays negative for |B| b / (m S(b))
        step = float(np.max(-B[failing] / witnesses[failing])) * b / float((e * theta).sum())
        b += max(step, xtol * b)
    raise ValueError(f"no base up to {_MAX_BASE:g} satisfies the condition for head_dim={d}, length={L}")


def _grid_search(d: int, L: int, rtol: float, xtol: float) -> float:
    """The fast search of min_base(method='grid')."""
    step = math.log1p(rtol)
    expo = torch.arange(0, d, 2, dtype=torch.float64) / d
    witnesses = torch.tensor([2.0], dtype=torch.float64)
    chunk, k0 = 512, 1
    while k0 * step <= math.log(_MAX_BASE):
        log_b = torch.arange(k0, k0 + chunk, dtype=torch.float64) * step
        theta = torch.exp(-log_b[:, None] * expo)  # (chunk, d/2); screening only
        cand = (witnesses[None, :, None] * theta[:, None, :]).cos().sum(-1).min(1).values >= 0
        for j in torch.nonzero(cand).flatten().tolist():
            b = math.exp(float(log_b[j]))
            if _known_fail(d, b, witnesses):  # a witness found earlier in this chunk
                continue
            value, m = _cos_sum_min(_thetas(d, b), L)
            if value >= 0:
                return _refine(d, L, math.exp(float(log_b[j]) - step), b, xtol)
            witnesses = torch.cat([witnesses, torch.tensor([float(m)], dtype=torch.float64)])[-64:]
        k0 += chunk
    raise ValueError(f"no base up to {_MAX_BASE:g} satisfies the condition for head_dim={d}, length={L}")


def _known_fail(d: int, b: float, witnesses: torch.Tensor) -> bool:
    """True when one of the recent witnesses already shows ``B(m) < 0`` at base ``b``."""
    return bool(((witnesses[:, None] * _thetas(d, b)).cos().sum(1) < 0).any())


def _refine(d: int, L: int, lo: float, hi: float, xtol: float) -> float:
    """Bisection in log-space on ``lo`` (fails) < ``hi`` (passes), then verification."""
    llo, lhi = math.log(lo), math.log(hi)
    while lhi - llo > xtol:
        mid = 0.5 * (llo + lhi)
        if _cos_sum_min(_thetas(d, math.exp(mid)), L)[0] >= 0:
            lhi = mid
        else:
            llo = mid
    hi, lo = math.exp(lhi), math.exp(llo)
    value, _ = _cos_sum_min(_thetas(d, hi), L, early_exit=False)
    below, _ = _cos_sum_min(_thetas(d, lo), L)
    if value < 0 or below >= 0:
        raise RuntimeError(
            f"min_base verification failed for head_dim={d}, length={L}: min B = {value:.3g} at "
            f"{hi:.6g} (must be >= 0) and {below:.3g} at {lo:.6g} (must be < 0)"
        )
    return hi


# --------------------------------------------------------------------------------------
# report: read a model config and apply the laws
# --------------------------------------------------------------------------------------

# Qwen3-VL always interleaves its M-RoPE sections: transformers' Qwen3VLTextRotaryEmbedding
# recomposes t/h/w frequencies with stride 3 (``recomposition_frequencies``) whatever the
# config says; ``rope_parameters['mrope_interleaved']`` is accepted but not read.


@dataclass(frozen=True)
class TheoryReport:
    """Scaling-law summary of one model. Lengths in tokens; ``rotary_dim`` is the ``d`` of
    every formula (``head_dim * partial_rotary_factor``). Target fields are ``None`` unless
    a ``target_length`` was given."""

    model: str
    model_type: str | None
    head_dim: int
    rotary_dim: int
    base: float
    train_length: int
    critical_dimension: int
    extrapolation_bound: float
    mrope_section: tuple[int, ...] | None
    interleaved: bool
    target_length: int | None = None
    ntk_factor: float | None = None
    ntk_factor_ceil: int | None = None
    ntk_base: float | None = None
    yarn_factor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``mrope_section`` as a list)."""
        out = asdict(self)
        if out["mrope_section"] is not None:
            out["mrope_section"] = list(out["mrope_section"])
        return out

    def format(self) -> str:
        """Human-readable multi-line summary (what ``videorope theory`` prints)."""
        d = self.rotary_dim
        lines = [
            f"model                 {self.model}" + (f" ({self.model_type})" if self.model_type else ""),
            f"rotary dims d         {d}" + (f" of head_dim {self.head_dim}" if d != self.head_dim else ""),
            f"rope base b           {self.base:g}",
            f"training length L     {self.train_length}",
            f"critical dimension    {self.critical_dimension} of {d} "
            f"(pairs 0..{self.critical_dimension // 2 - 1} complete a period within L)"
            if self.critical_dimension
            else f"critical dimension    0 of {d}",
            f"extrapolation bound   {self.extrapolation_bound:,.0f} tokens (2*pi*b^(d_extra/d))",
        ]
        if self.mrope_section is not None:
            kind = "interleaved" if self.interleaved else "chunked"
            lines.append(f"mrope_section         {list(self.mrope_section)} (t, h, w; {kind})")
        if self.target_length is not None:
            lines += [
                f"target length         {self.target_length}",
                f"NTK factor lambda     {self.ntk_factor:.4g} (rounded up: {self.ntk_factor_ceil}) "
                f"-> base {self.ntk_base:g}",
                f"YaRN factor           {self.yarn_factor:g} (target / L)",
            ]
        return "\n".join(lines)


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def _as_dict(config_or_path: Any) -> tuple[dict[str, Any], str]:
    """(config dict, display name) for every accepted kind of input."""
    if isinstance(config_or_path, (str, os.PathLike)):
        config = known_configs.load_config(config_or_path)
        canonical = known_configs.known_name(config_or_path) if isinstance(config_or_path, str) else None
        name = canonical or config.get("_name_or_path") or os.fspath(config_or_path)
        return config, str(name)
    if isinstance(config_or_path, Mapping):
        config = dict(config_or_path)
        return config, str(config.get("_name_or_path") or config.get("model_type") or "<dict>")
    to_dict = getattr(config_or_path, "to_dict", None)
    if callable(to_dict):  # transformers.PretrainedConfig (text or VL)
        config = to_dict()
        name = getattr(config_or_path, "name_or_path", "") or config.get("model_type") or type(config_or_path).__name__
        return config, str(name)
    raise ValueError(
        f"cannot read a model config from {_describe(config_or_path)}: expected a built-in name "
        f"({', '.join(known_configs.KNOWN_CONFIGS)}), a path to a config.json or a directory with one, "
        f"a dict in config.json format, or a transformers PretrainedConfig"
    )


def report(config_or_path: Any, target_length: int | None = None) -> TheoryReport:
    """Critical dimension, extrapolation bound and (with ``target_length``) the NTK and YaRN
    factors of a model.

    ``config_or_path``: a built-in name from ``videorope.known_configs.KNOWN_CONFIGS``
    (case-insensitive), a path to a config.json or to a directory containing one, a dict in
    HF config.json format, or a ``transformers.PretrainedConfig`` (for VL configs the text
    part is read from ``text_config``). Rope fields are read the HF 5.x way:
    ``rope_parameters`` (``rope_theta``, ``mrope_section``, ``mrope_interleaved``,
    ``original_max_position_embeddings``, ``partial_rotary_factor``), falling back to legacy
    top-level ``rope_theta`` / ``rope_scaling``. Training length is
    ``original_max_position_embeddings`` when present, else ``max_position_embeddings``.
    Qwen3-VL (model_type ``qwen3_vl``/``qwen3_vl_text``) is always interleaved.

    ``ntk_factor`` is unrounded, ``ntk_factor_ceil`` rounded up as the papers do,
    ``ntk_base = ntk_factor_ceil * base`` (the base one would set), and
    ``yarn_factor = max(target/train, 1)``.
    """
    config, name = _as_dict(config_or_path)
    f = read_rope(config, name, f"; or use a built-in name ({', '.join(known_configs.KNOWN_CONFIGS)})")
    d, b, L = f.rotary_dim, f.base, f.train_length
    extra: dict[str, Any] = {}
    if target_length is not None:
        T = _check_length(target_length, "target_length")
        lam = ntk_factor(d, b, L, T)
        extra = {
            "target_length": T,
            "ntk_factor": lam,
            "ntk_factor_ceil": math.ceil(lam),
            "ntk_base": math.ceil(lam) * b,
            "yarn_factor": max(T / L, 1.0),
        }
    return TheoryReport(
        model=name,
        model_type=f.model_type,
        head_dim=f.head_dim,
        rotary_dim=d,
        base=b,
        train_length=L,
        critical_dimension=critical_dimension(d, b, L),
        extrapolation_bound=extrapolation_bound(d, b, L),
        mrope_section=f.mrope_section,
        interleaved=f.interleaved,
        **extra,
    )
