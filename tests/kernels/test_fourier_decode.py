"""The Triton split-KV decode over a FourierCache layer against its PyTorch oracle
(:func:`videorope.cache.views.reference_attention`): lengths from window-only to a long
middle, 0 to 100% of channels compressed, head dims, GQA ratios, padded batches, splits that
are fully masked, the affine correction, fp32 and fp16. On the CPU the kernels run in Triton's
interpreter (TRITON_INTERPRET=1, set in tests/conftest.py), so sizes stay small."""

from __future__ import annotations

import pytest
import torch

from videorope.cache import FourierCache, FourierPlan, reference_attention
from videorope.kernels.fourier_decode import fourier_decode

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _plan(heads: int, head_dim: int, compressed: float, seed: int = 0) -> FourierPlan:
    """One layer; each KV head keeps its own random (1 - compressed) share of channels."""
    g = torch.Generator().manual_seed(seed)
    keep = round((1 - compressed) * head_dim)
    kept = lambda: tuple(tuple(sorted(torch.randperm(head_dim, generator=g)[:keep].tolist())) for _ in range(heads))  # noqa: E731
    return FourierPlan((kept(),), (kept(),), head_dim)


def _layer(length, heads=2, head_dim=16, compressed=0.5, batch=2, dtype=torch.float32, affine=False, steps=3,
           frequencies=8, window=24, seed=0):  # fmt: skip
    """A FourierCache layer after a prefill of ``length - steps`` tokens and ``steps`` single ones,
    keys and values of scale 3 (so the softmax is far from uniform)."""
    g = torch.Generator().manual_seed(seed)
    k, v = (3 * torch.randn(2, batch, heads, length, head_dim, generator=g)).to(DEVICE, dtype)
    options = {"max_length": length + 64, "sinks": 4, "window": window, "frequencies": frequencies, "affine": affine}
    cache = FourierCache(_plan(heads, head_dim, compressed, seed), **options)
    prefill = length - steps
    cache.update(k[..., :prefill, :], v[..., :prefill, :], 0)
    for t in range(prefill, length):
        cache.update(k[..., t : t + 1, :], v[..., t : t + 1, :], 0)
    return cache.layers[0]


def _step(layer, group, seed=1):
    """A query (B, Hq, 1, D) and one new token's keys and values, in the layer's dtype."""
    g = torch.Generator().manual_seed(seed)
    B, H, _, D = layer.keys.shape
    q = torch.randn(B, H * group, 1, D, generator=g).to(DEVICE, layer.dtype)
    new = tuple((3 * torch.randn(B, H, 1, D, generator=g)).to(DEVICE, layer.dtype) for _ in range(2))
    return q, layer.view(new)


def _check(layer, group=2, pad=None, split=32, dtype=torch.float32):
    q, view = _step(layer, group)
    pad = None if pad is None else torch.tensor(pad, device=DEVICE)
    out = fourier_decode(q, view, 0.3, pad, split=split)
    expected = reference_attention(q, view, 0.3, pad)
    assert out.dtype == torch.float32 and out.shape == expected.shape and not out.isnan().any()
    # half precision: the probabilities are rounded before the value product, as in FlashAttention
    tol = {torch.float32: 1e-4, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}[dtype]  # half: 2x its epsilon
    tol = {"rtol": tol, "atol": tol}
    torch.testing.assert_close(out, expected, **tol)


@pytest.mark.parametrize("length", [20, 60, 300], ids=["window-only", "short-middle", "long-middle"])
@pytest.mark.parametrize("compressed", [0.0, 0.5, 0.9, 1.0])
def test_lengths_and_compression_ratios(length, compressed):
    layer = _layer(length, compressed=compressed)
    assert (layer.middle[0].length > 0) == (length > 28)
    _check(layer)


@pytest.mark.parametrize(("head_dim", "group"), [(16, 1), (72, 3), (64, 4)])
def test_head_dims_and_gqa(head_dim, group):
    _check(_layer(120, head_dim=head_dim, heads=2), group=group)


GPU_ONLY = pytest.mark.skipif(not torch.cuda.is_available(), reason="Triton's interpreter mishandles bf16")


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, pytest.param(torch.bfloat16, marks=GPU_ONLY)])
def test_dtypes_and_the_affine_correction(dtype, affine):
    layer = _layer(200, dtype=dtype, affine=affine, frequencies=12)
    assert (layer.middle[0].scale is not None) == affine
    _check(layer, dtype=dtype)


def test_rows_with_different_lengths_and_fully_masked_splits():
    """Row 1 is left-padded over 70 keys: its first two splits (32 keys each) see nothing."""
    layer = _layer(150)
    _check(layer, pad=[0, 70], split=32)
    _check(layer, pad=[3, 0], split=16)


@pytest.mark.parametrize("split", [16, 48, 1024])
def test_any_split_gives_the_same_answer(split):
    _check(_layer(150, batch=1), group=3, split=split)


def test_a_row_with_every_key_masked_gives_zeros_not_nan():
    layer = _layer(40, batch=1)
    q, view = _step(layer, 1)
    length = layer.seen + 1
    out = fourier_decode(q, view, 0.3, torch.tensor([length], device=DEVICE), split=16)
    assert torch.equal(out, torch.zeros_like(out))


def test_bad_query_shapes_are_refused():
    layer = _layer(40)
    q, view = _step(layer, 2)
    with pytest.raises(ValueError, match="multiple of 2 KV heads"):
        fourier_decode(q[:, :3], view, 0.3)
    with pytest.raises(ValueError, match="B, Hq, 1, D"):
        fourier_decode(q.expand(-1, -1, 2, -1), view, 0.3)


def test_launches_run_under_the_device_guard_of_the_query(monkeypatch):
    import contextlib

    import videorope.kernels.fourier_decode as module

    seen = []
    monkeypatch.setattr(module, "on_device", lambda x: seen.append(x.device) or contextlib.nullcontext())
    _check(_layer(60))
    assert [d.type for d in seen] == [DEVICE]


def test_the_device_guard_is_cudas_for_cuda_tensors_and_none_on_the_cpu():
    import contextlib

    from videorope.kernels.dispatch import on_device

    assert isinstance(on_device(torch.zeros(1)), contextlib.nullcontext)
    if torch.cuda.is_available():
        assert isinstance(on_device(torch.zeros(1, device="cuda")), torch.cuda.device)
