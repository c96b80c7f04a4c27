"""Truncated DFT of cache channels over the sequence axis (REFERENCE section 6).

A channel's values ``x(t)`` at times ``0 <= t < P`` (the period) are stored as the first
``F`` bins of their DFT, ``c_cos[n] = sum_t x(t) cos(2 pi n t / P)`` and
``c_sin[n] = sum_t x(t) sin(2 pi n t / P)`` (``c_cos = Re X``, ``c_sin = -Im X``), and read
back with the truncated inverse DFT. A signal whose frequencies are all below ``F`` comes
back exactly; a token added later is one multiply-add per bin. Shapes: values ``(..., T, C)``
(T positions of C channels), coefficients ``(..., F, C)``.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["add_tokens", "affine_fit", "check_bins", "reconstruct", "token_response", "truncated_dft"]


def check_bins(frequencies: int, period: int) -> None:
    """``1 <= frequencies < period / 2`` (below Nyquist), else a ValueError naming both."""
    if not 1 <= frequencies < period / 2:
        raise ValueError(
            f"frequencies ({frequencies}) must be at least 1 and below half the period ({period}); "
            "lower the number of coefficients or raise the planned maximum length"
        )


def _angles(times: torch.Tensor, frequencies: int, period: int) -> torch.Tensor:
    """2 pi n t / P for every time and bin: (T, F) float64, with ``n t`` reduced modulo P in
    integers first so long periods keep their phase."""
    n = torch.arange(frequencies, device=times.device)
    return (2 * math.pi / period) * (torch.outer(times.long() % period, n) % period).double()


@functools.lru_cache(maxsize=8)
def _basis(period: int, frequencies: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The truncated inverse DFT for times 0..P-1: (P, F) cos and sin, float32, each bin
    weighted 1/P (bin 0) or 2/P. Shared by every layer (one P x F table per period)."""
    weight = torch.full((frequencies,), 2.0 / period, dtype=torch.float64, device=device)
    weight[0] = 1.0 / period
    angles = _angles(torch.arange(period, device=device), frequencies, period)
    return (angles.cos() * weight).float(), (angles.sin() * weight).float()


def truncated_dft(x: torch.Tensor, frequencies: int, period: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First ``frequencies`` DFT bins of ``x`` (..., T, C) at times 0..T-1 (T <= period), zero
    beyond: ``(c_cos, c_sin)``, each (..., F, C) float32."""
    check_bins(frequencies, period)
    if x.shape[-2] > period:
        raise ValueError(f"{x.shape[-2]} positions do not fit in the period {period}")
    spectrum = torch.fft.rfft(x.float(), n=period, dim=-2)[..., :frequencies, :]
    return spectrum.real.contiguous(), (-spectrum.imag).contiguous()


def add_tokens(
    c_cos: torch.Tensor, c_sin: torch.Tensor, x: torch.Tensor, times: torch.Tensor, period: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients with tokens ``x`` (..., T, C) at ``times`` (T,) added: the streaming update
    (equal to :func:`truncated_dft` of all the tokens together)."""
    angles = _angles(times, c_cos.shape[-2], period)  # (T, F), float64 phases
    x = x.float()
    cos, sin = angles.cos().T.float(), angles.sin().T.float()  # (F, T)
    return (c_cos.float() + cos @ x).to(c_cos.dtype), (c_sin.float() + sin @ x).to(c_sin.dtype)


def reconstruct(c_cos: torch.Tensor, c_sin: torch.Tensor, length: int, period: int, start: int = 0) -> torch.Tensor:
    """Values (..., length - start, C) at times start..length-1 from the truncated spectrum: the
    inverse DFT with the bins at and above ``F`` taken as zero. float32 whatever the
    coefficient dtype."""
    if not 0 <= start <= length <= period:
        raise ValueError(f"cannot read positions {start}..{length - 1} back from a period of {period}")
    cos, sin = _basis(period, c_cos.shape[-2], c_cos.device)
    return cos[start:length] @ c_cos.float() + sin[start:length] @ c_sin.float()


def token_response(offsets: torch.Tensor, frequencies: int, period: int) -> torch.Tensor:
    """What one token adds to the reconstruction at a time ``offset`` away, per unit value:
    ``sum_n w_n cos(2 pi n offset / P)`` (w as in :func:`reconstruct`), float32 of ``offsets``'
    shape. Adding token x at time s changes every read-back value at t by x times this at
    t - s, so a reconstruction follows a streamed token without being rebuilt."""
    weight = torch.full((frequencies,), 2.0 / period, dtype=torch.float64, device=offsets.device)
    weight[0] = 1.0 / period
    angles = _angles(offsets.flatten(), frequencies, period)  # (N, F)
    return (angles.cos() @ weight).float().view(offsets.shape)


def affine_fit(original: torch.Tensor, approx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` with ``scale * approx + shift`` matching the mean and the
    largest absolute deviation from the mean of ``original`` (the paper's correction); both
    (..., 1, C). A constant reconstruction keeps scale 1."""
    mean_o, mean_a = original.mean(-2, keepdim=True), approx.mean(-2, keepdim=True)
    dev_o = (original - mean_o).abs().amax(-2, keepdim=True)
    dev_a = (approx - mean_a).abs().amax(-2, keepdim=True)
    scale = torch.where(dev_a > 0, dev_o / dev_a.clamp_min(torch.finfo(dev_a.dtype).tiny), torch.ones_like(dev_a))
    return scale, mean_o - scale * mean_a
