"""Fused multimodal rotary (rotate-half) in Triton, forward and backward.

One program rotates the heads of one token: it reads the token's (t, h, w) positions, and
for each frequency the position of that frequency's axis (the allocation's axis table), so
every layout, allocation and scaling of :mod:`videorope.rope` is one kernel with fp32
angles computed in registers; no (3, B, L, D) cos/sin tensor exists. Positions may be
fractional. The backward is the same kernel rotating by the negative angle, and nothing
autograd saved is ever written. Offsets are int64, so B*L*H*D may exceed 2^31.

:func:`rotary` takes q (B, L, Hq, D) and k (B, L, Hk, D) (``head_axis=2``) or the HF layout
(B, H, L, D) (``head_axis=1``) through their strides, without copies; channels past
``table.rotary_dim`` pass through. :func:`rotary_reference` is the PyTorch oracle with the
same signature. Tests run the kernel on the CPU with ``TRITON_INTERPRET=1`` (set before import).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from videorope.kernels.dispatch import on_device
from videorope.rope.rotary import RotaryTable, apply_rotary, cos_sin

__all__ = ["rotary", "rotary_reference"]


@triton.jit
def _rotary_kernel(
    x_ptr, out_ptr, pos_ptr, axis_ptr, inv_freq_ptr,
    L, H, HALF, D,
    sxb, sxl, sxh, sxd,
    sob, sol, soh, sod,
    spa, spb, spl,
    factor, sign,
    BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_REST: tl.constexpr,
):  # fmt: skip
    token = tl.program_id(0).to(tl.int64)
    b, i = token // L, token % L
    n = tl.arange(0, BLOCK_N)
    n_ok = n < HALF
    axis = tl.load(axis_ptr + n, mask=n_ok, other=0).to(tl.int64)
    inv_freq = tl.load(inv_freq_ptr + n, mask=n_ok, other=0.0)
    pos = tl.load(pos_ptr + axis * spa + b * spb + i * spl, mask=n_ok, other=0.0).to(tl.float32)
    angle = pos * inv_freq
    cos = tl.cos(angle) * factor
    sin = tl.sin(angle) * (factor * sign)

    h = tl.program_id(1).to(tl.int64) * BLOCK_H + tl.arange(0, BLOCK_H)
    ok = (h < H)[:, None] & n_ok[None, :]
    x_at = x_ptr + b * sxb + i * sxl + h[:, None] * sxh
    o_at = out_ptr + b * sob + i * sol + h[:, None] * soh
    first, second = n[None, :].to(tl.int64), n[None, :].to(tl.int64) + HALF
    x1 = tl.load(x_at + first * sxd, mask=ok, other=0.0).to(tl.float32)
    x2 = tl.load(x_at + second * sxd, mask=ok, other=0.0).to(tl.float32)
    tl.store(o_at + first * sod, (x1 * cos - x2 * sin).to(out_ptr.dtype.element_ty), mask=ok)
    tl.store(o_at + second * sod, (x2 * cos + x1 * sin).to(out_ptr.dtype.element_ty), mask=ok)
    if BLOCK_REST > 0:  # partial rotary: the channels past 2 * HALF pass through
        r = 2 * HALF + tl.arange(0, BLOCK_REST).to(tl.int64)
        r_ok = (h < H)[:, None] & (r < D)[None, :]
        rest = tl.load(x_at + r[None, :] * sxd, mask=r_ok, other=0.0)
        tl.store(o_at + r[None, :] * sod, rest, mask=r_ok)


def _strides(x: torch.Tensor, head_axis: int) -> tuple[int, int, int, int]:
    """(b, l, h, d) strides of x in either layout."""
    sb, s1, s2, sd = x.stride()
    return (sb, s1, s2, sd) if head_axis == 2 else (sb, s2, s1, sd)


def _launch(x: torch.Tensor, out: torch.Tensor, positions: torch.Tensor, table: RotaryTable, head_axis: int,
            sign: float) -> torch.Tensor:  # fmt: skip
    B, L, H, D = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]) if head_axis == 2 else \
        (x.shape[0], x.shape[2], x.shape[1], x.shape[3])  # fmt: skip
    half = table.inv_freq.numel()
    pos = positions if positions.ndim == 3 else positions.expand(3, *positions.shape)  # 1D: every axis reads it
    block_h = min(triton.next_power_of_2(H), 16)
    rest = D - 2 * half
    grid = (B * L, triton.cdiv(H, block_h))
    with on_device(x):
        _rotary_kernel[grid](
            x, out, pos, table.axis.to(x.device), table.inv_freq.to(x.device, torch.float32),
            L, H, half, D, *_strides(x, head_axis), *_strides(out, head_axis), *pos.stride(),
            float(table.attention_factor), sign,
            BLOCK_H=block_h, BLOCK_N=triton.next_power_of_2(half),
            BLOCK_REST=triton.next_power_of_2(rest) if rest else 0,
        )  # fmt: skip
    return out


def _check(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, table: RotaryTable, head_axis: int) -> None:
    if head_axis not in (1, 2):
        raise ValueError(f"head_axis must be 2 for (B, L, H, D) or 1 for (B, H, L, D), got {head_axis}")
    if q.ndim != 4 or k.ndim != 4:
        raise ValueError(f"q and k must be 4D, got {tuple(q.shape)} and {tuple(k.shape)}")
    seq = 3 - head_axis
    B, L = q.shape[0], q.shape[seq]
    if (k.shape[0], k.shape[seq], k.shape[3]) != (B, L, q.shape[3]):
        raise ValueError(f"q {tuple(q.shape)} and k {tuple(k.shape)} differ in batch, length or head dim")
    if positions.shape[-1] != L or positions.shape[-2] not in (1, B) or positions.ndim not in (2, 3) \
            or (positions.ndim == 3 and len(positions) != 3):  # fmt: skip
        raise ValueError(
            f"positions must be (3, {B}, {L}) or ({B}, {L}) (batch 1 broadcasts), got {tuple(positions.shape)}"
        )
    if table.rotary_dim > q.shape[3]:
        raise ValueError(f"the table rotates {table.rotary_dim} dims but the head dim is {q.shape[3]}")


class _Rotary(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, positions, table, head_axis):
        ctx.save_for_backward(positions)  # q and k are not needed: the backward rotates back
        ctx.table, ctx.head_axis = table, head_axis
        return tuple(_launch(x, torch.empty_like(x), positions, table, head_axis, 1.0) for x in (q, k))

    @staticmethod
    def backward(ctx, grad_q, grad_k):
        (positions,) = ctx.saved_tensors
        back = [None if g is None else _launch(g, torch.empty_like(g), positions, ctx.table, ctx.head_axis, -1.0)
                for g in (grad_q, grad_k)]  # fmt: skip
        return back[0], back[1], None, None, None


def rotary(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, table: RotaryTable, head_axis: int = 2,
    inplace: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Rotate q and k by the angles of ``positions`` (3, B, L) or (B, L) (float, may be
    fractional; a batch of 1 serves every row) under ``table``; returns new tensors in q's and k's layouts and dtypes.
    ``inplace=True`` writes into q and k (inference only: refused when autograd records)."""
    _check(q, k, positions, table, head_axis)
    positions = positions.to(q.device).expand(*positions.shape[:-2], q.shape[0], positions.shape[-1])
    if inplace:
        if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad):
            raise RuntimeError("rotary(inplace=True) would overwrite tensors autograd needs; use inplace=False")
        return tuple(_launch(x, x, positions, table, head_axis, 1.0) for x in (q, k))
    return _Rotary.apply(q, k, positions, table, head_axis)


def rotary_reference(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, table: RotaryTable, head_axis: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch reference of :func:`rotary` (cos/sin in fp32, rotation in fp32, result in x's dtype)."""
    _check(q, k, positions, table, head_axis)
    cos, sin = cos_sin(positions.to(q.device), table)
    return apply_rotary(q, cos, sin, head_axis), apply_rotary(k, cos, sin, head_axis)
