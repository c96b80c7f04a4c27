"""The truncated DFT of cache channels: band-limited signals come back exactly, the streaming
update equals a batch FFT of the same tokens, the affine correction, and bad sizes."""

from __future__ import annotations

import math

import pytest
import torch

from videorope.cache.dft import add_tokens, affine_fit, reconstruct, truncated_dft


def _band_limited(period: int, frequencies: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """Two random real signals (2, period, channels) whose DFT lives in bins below ``frequencies``."""
    g = torch.Generator().manual_seed(seed)
    waves = 2 * math.pi * torch.outer(torch.arange(period), torch.arange(frequencies)).double() / period  # (P, F)
    a, b = torch.randn(2, 2, frequencies, channels, dtype=torch.float64, generator=g)
    return (waves.cos() @ a + waves.sin() @ b).float()


def test_band_limited_signals_come_back_exactly():
    period, frequencies = 1000, 24
    x = _band_limited(period, frequencies)
    c_cos, c_sin = truncated_dft(x, frequencies, period)
    assert c_cos.shape == (2, frequencies, 3)
    back = reconstruct(c_cos, c_sin, period, period)
    torch.testing.assert_close(back, x, rtol=0, atol=2e-5 * x.abs().max().item())


def test_a_signal_above_the_kept_bins_is_lost():
    period = 256
    x = torch.cos(2 * math.pi * 40 * torch.arange(period) / period)[:, None]
    c_cos, c_sin = truncated_dft(x, 16, period)
    assert reconstruct(c_cos, c_sin, period, period).abs().max() < 1e-4


def test_streaming_update_equals_a_batch_fft():
    period, frequencies = 512, 32
    x = torch.randn(2, 3, 300, 8, generator=torch.Generator().manual_seed(1))
    c_cos, c_sin = truncated_dft(x[..., :200, :], frequencies, period)
    for t in range(200, 300):  # tokens leaving the window one at a time
        c_cos, c_sin = add_tokens(c_cos, c_sin, x[..., t : t + 1, :], torch.tensor([t]), period)
    batch_cos, batch_sin = truncated_dft(x, frequencies, period)
    torch.testing.assert_close(c_cos, batch_cos, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(c_sin, batch_sin, rtol=1e-5, atol=1e-4)


def test_affine_fit_matches_mean_and_largest_deviation():
    g = torch.Generator().manual_seed(2)
    original = torch.randn(50, 4, generator=g)
    approx = 0.3 * original + 2.0 + 0.01 * torch.randn(50, 4, generator=g)
    scale, shift = affine_fit(original, approx)
    fixed = scale * approx + shift
    torch.testing.assert_close(fixed.mean(0), original.mean(0), rtol=0, atol=1e-5)
    dev = lambda v: (v - v.mean(0)).abs().amax(0)  # noqa: E731
    torch.testing.assert_close(dev(fixed), dev(original), rtol=1e-5, atol=1e-6)
    scale, shift = affine_fit(original, torch.zeros(50, 4))
    assert torch.equal(scale, torch.ones(1, 4))


def test_bad_sizes_say_what_to_change():
    with pytest.raises(ValueError, match="below half the period"):
        truncated_dft(torch.zeros(10, 2), 64, 100)
    with pytest.raises(ValueError, match="do not fit in the period"):
        truncated_dft(torch.zeros(200, 2), 8, 100)
