"""The Triton rotary against its PyTorch reference, forward and backward, over every
allocation, scalings with attention factors, head dims, odd lengths, GQA, partial rotary,
fractional positions, both layouts and two dtypes. On the CPU the kernel runs in Triton's
interpreter (TRITON_INTERPRET=1, set in tests/conftest.py before Triton is imported)."""

from __future__ import annotations

import pytest
import torch

from videorope.kernels.rotary import rotary, rotary_reference
from videorope.rope import ALLOCATIONS
from videorope.rope.rotary import rotary_table
from videorope.rope.scaling import RopeSpec

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _inputs(B, L, Hq, Hk, D, head_axis=2, dtype=torch.float32, seed=0, integer=False):
    g = torch.Generator().manual_seed(seed)
    shape = (lambda H: (B, L, H, D)) if head_axis == 2 else (lambda H: (B, H, L, D))
    q = torch.randn(shape(Hq), generator=g).to(DEVICE, dtype)
    k = torch.randn(shape(Hk), generator=g).to(DEVICE, dtype)
    positions = torch.rand(3, B, L, generator=g) * 3000  # fractional, past a 2K training length
    if integer:
        positions = positions.long()
    return q, k, positions.to(DEVICE)


def _table(allocation="videorope", scaling="none", head_dim=64, **scaling_options):
    return rotary_table(RopeSpec(head_dim, 10000.0, 2048), allocation, scaling, scaling_options=scaling_options)


def _close(a, b, dtype=torch.float32):
    tol = {"rtol": 1e-5, "atol": 2e-5} if dtype == torch.float32 else {"rtol": 1e-3, "atol": 2e-3}
    torch.testing.assert_close(a, b, **tol)


def _forward_and_backward(q, k, positions, table, head_axis=2):
    """Outputs and input grads (for fixed random output grads) of the kernel and the reference."""
    results = []
    for fn in (rotary, rotary_reference):
        qq, kk = q.detach().requires_grad_(), k.detach().requires_grad_()
        oq, ok = fn(qq, kk, positions, table, head_axis)
        g = torch.Generator().manual_seed(7)
        gq, gk = (torch.randn(o.shape, generator=g).to(o) for o in (oq, ok))
        dq, dk = torch.autograd.grad((oq.float() * gq.float()).sum() + (ok.float() * gk.float()).sum(), (qq, kk))
        results.append((oq, ok, dq, dk))
    return results


@pytest.mark.parametrize("allocation", ALLOCATIONS.names())
@pytest.mark.parametrize(("scaling", "options"), [("none", {}), ("yarn", {"factor": 4.0}), ("yarn-v", {})])
def test_every_allocation_and_scaling(allocation, scaling, options):
    table = _table(allocation, scaling, **options)
    kernel, reference = _forward_and_backward(*_inputs(2, 5, 4, 2, 64), table)
    for a, b in zip(kernel, reference, strict=True):
        _close(a, b)


@pytest.mark.parametrize(
    ("L", "Hq", "Hk", "D", "rotary_dim"),
    [(1, 3, 1, 64, 64), (93, 4, 2, 72, 72), (7, 8, 8, 128, 128), (7, 4, 2, 72, 64), (5, 2, 1, 64, 32)],
)
@pytest.mark.parametrize("head_axis", [2, 1])
def test_shapes_gqa_partial_rotary_and_layouts(L, Hq, Hk, D, rotary_dim, head_axis):
    table = _table(head_dim=rotary_dim)
    q, k, positions = _inputs(1, L, Hq, Hk, D, head_axis)
    kernel, reference = _forward_and_backward(q, k, positions, table, head_axis)
    for a, b in zip(kernel, reference, strict=True):
        _close(a, b)
    assert torch.equal(kernel[0][..., rotary_dim:], q[..., rotary_dim:])  # partial rotary passes the rest through


def test_a_long_sequence_and_integer_positions():
    q, k, positions = _inputs(1, 1000, 2, 1, 64, integer=True)
    kernel, reference = _forward_and_backward(q, k, positions, _table())
    for a, b in zip(kernel, reference, strict=True):
        _close(a, b)


def test_one_dimensional_positions_rotate_every_axis_alike():
    q, k, positions = _inputs(2, 6, 2, 2, 64)
    kernel, reference = _forward_and_backward(q, k, positions[0], _table("vanilla"))
    for a, b in zip(kernel, reference, strict=True):
        _close(a, b)


@pytest.mark.parametrize("dtype", [torch.float16] + ([torch.bfloat16] if DEVICE == "cuda" else []))
def test_half_precision(dtype):
    q, k, positions = _inputs(2, 9, 4, 2, 64, dtype=dtype)
    kernel, reference = _forward_and_backward(q, k, positions, _table())
    assert kernel[0].dtype == dtype and kernel[2].dtype == dtype
    for a, b in zip(kernel, reference, strict=True):
        _close(a.float(), b.float(), dtype)


def test_the_reference_passes_gradcheck():
    """The reference rotates in fp32; the map is linear in q and k, so a wide step is exact."""
    q, k, positions = _inputs(1, 3, 2, 1, 8, dtype=torch.float64)
    table = _table(head_dim=8)
    assert torch.autograd.gradcheck(lambda a, b: rotary_reference(a, b, positions, table),
                                    (q.requires_grad_(), k.requires_grad_()), eps=1e-2, atol=1e-4)  # fmt: skip


def test_the_backward_never_writes_what_autograd_saved():
    q, k, positions = _inputs(1, 4, 2, 1, 64)
    q.requires_grad_()
    versions = (q._version, positions._version)
    oq, ok = rotary(q, k, positions, _table())
    oq.sum().backward()
    assert (q._version, positions._version) == versions and q.grad is not None


def test_inplace_is_for_inference_only():
    q, k, positions = _inputs(1, 4, 2, 1, 64)
    expected = rotary_reference(q, k, positions, _table())
    with torch.no_grad():
        out = rotary(q, k, positions, _table(), inplace=True)
    assert out[0] is q and out[1] is k
    _close(q, expected[0])
    with pytest.raises(RuntimeError, match="autograd needs"):
        rotary(q.requires_grad_(), k, positions, _table(), inplace=True)


@pytest.mark.parametrize(
    ("shape", "positions", "message"),
    [
        ((1, 4, 2, 64), (3, 1, 5), "positions must be"),
        ((1, 4, 2, 32), (3, 1, 4), "rotates 64 dims but the head dim is 32"),
        ((1, 4, 2), (3, 1, 4), "must be 4D"),
    ],
)
def test_bad_shapes_are_named(shape, positions, message):
    x = torch.zeros(shape)
    with pytest.raises(ValueError, match=message):
        rotary(x, x, torch.zeros(positions), _table())


@pytest.mark.skipif(DEVICE != "cuda", reason="needs a GPU: 2^31 elements")
def test_offsets_past_two_to_the_31():
    L, H, D = 132_000, 128, 128  # L*H*D > 2^31
    q = torch.randn(1, L, H, D, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, 1, 1, D, device="cuda", dtype=torch.bfloat16).expand(1, L, 1, D)  # read through stride 0
    positions = torch.arange(L, device="cuda", dtype=torch.float32).expand(3, 1, L)
    out, _ = rotary(q, k, positions, _table(head_dim=D))
    tail = slice(L - 3, L)
    expected, _ = rotary_reference(q[:, tail], k[:, tail], positions[..., tail], _table(head_dim=D))
    _close(out[:, tail].float(), expected.float(), torch.bfloat16)


def test_launches_run_under_the_device_guard_of_their_inputs(monkeypatch):
    """Every launch (forward and backward) enters ``on_device`` with the tensor it rotates,
    so a model spread over several GPUs launches on each tensor's own device."""
    import contextlib

    import videorope.kernels.rotary as module

    seen = []

    def guard(x):
        seen.append(x.device)
        return contextlib.nullcontext()

    monkeypatch.setattr(module, "on_device", guard)
    _forward_and_backward(*_inputs(1, 3, 2, 2, 64), _table())
    assert [d.type for d in seen] == [DEVICE] * 4  # q, k, grad q, grad k
