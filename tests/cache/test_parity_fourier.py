"""FourierAttention against golden numbers produced by running the released code.

``tests/golden/fourier.json`` holds what ``ShirleYoung/FourierAttention`` at c834104 computes
on a small input (``tests/golden/make_fourier.py`` made it): the calibration's transform,
rebuild, affine step and per-channel MSE (``compressed_dims_search/``), and the cache's
prefill FFT, one streamed token (``mat_fourier_triton``, whose phase index is the counter
after its increment: the middle index + 1) and the rebuild divided by the bin count
(``fourier_attn_triton/fourier_triton_valid4_v2.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from videorope.cache import FourierCache, FourierOptions, FourierPlan
from videorope.cache.calibrate import _middle_errors
from videorope.cache.dft import affine_fit, reconstruct, truncated_dft

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "fourier.json").read_text())
X = torch.tensor(GOLDEN["x"])  # (L, C)
SINKS, WINDOW, BINS = GOLDEN["sinks"], GOLDEN["window"], GOLDEN["bins"]
MIDDLE = X[SINKS:-WINDOW]


def _close(ours: torch.Tensor, golden, tol: float = 1e-4) -> None:
    golden = torch.tensor(golden)
    torch.testing.assert_close(ours, golden, rtol=tol, atol=tol * golden.abs().max().item())


def test_calibration_scores_channels_as_the_released_search():
    """Error after the affine step, period = the prompt's own middle: the same MSE per channel."""
    c = GOLDEN["calibration"]
    options = FourierOptions(max_new_tokens=0, sinks=SINKS, window=WINDOW, frequencies=BINS)
    errors = _middle_errors(X, 1, SINKS, WINDOW, options, c["period"], affine=True)  # (1 head, C)
    _close(errors[0], c["mse"])
    c_cos, c_sin = truncated_dft(MIDDLE, BINS, c["period"])
    approx = reconstruct(c_cos, c_sin, len(MIDDLE), c["period"])
    scale, shift = affine_fit(MIDDLE, approx)
    _close(scale * approx + shift, c["affine"])  # the released rebuild (divided by N) then its affine step


def test_the_cache_transforms_streams_and_rebuilds_as_the_released_cache():
    k = GOLDEN["cache"]
    period, new = k["period"], k["period"] - (len(X) - SINKS - WINDOW)
    plan = FourierPlan((((),),), (((),),), X.shape[1])  # one layer, one head, every channel compressed
    cache = FourierCache(plan, max_new_tokens=new, sinks=SINKS, window=WINDOW, frequencies=BINS)
    x = X[None, None]  # (B, H, L, C)
    cache.update(x, x, 0)
    layer = cache.layers[0]
    assert layer.options.period == period
    middle = layer.middle[0]
    _close(torch.cat([middle.c_cos[0, 0], middle.c_sin[0, 0]]), k["prefill"])
    released = torch.tensor(k["inverse"])  # the released rebuild, divided by the bin count
    scale, shift = affine_fit(MIDDLE, released)
    _close(layer.view().middle[0].read()[0, 0], (scale * released + shift).tolist())  # affine=True is that rebuild
    token = torch.zeros(1, 1, 1, X.shape[1])
    cache.update(token, token, 0)  # the oldest window token (X[-WINDOW]) streams in at index M + 1
    _close(torch.cat([middle.c_cos[0, 0], middle.c_sin[0, 0]]), k["streamed"])
