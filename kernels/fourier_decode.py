"""Split-KV decoding over the FourierAttention cache in Triton (REFERENCE section 6).

One query token per sequence attends over one layer of
:class:`~videorope.cache.FourierCache` as stored, read through a
:class:`~videorope.cache.views.FourierView`: the exact prefix, the middle (exact channels
plus truncated-DFT bins for the rest), the exact window and the step's new tokens, laid end
to end as one sequence that FlashDecoding-style splits share out.

Compressed channels are never rebuilt, and the Fourier basis, the costly part, is evaluated
once per middle token for all heads (it depends on neither the head nor the data):

1. ``_compressed_scores_kernel`` (sequence, token block; every query head): the query,
   projected onto the key bins once per step (``qa[n] = w_n sum_d q_d s_d c_cos[n, d]``,
   ``w`` the inverse-DFT weight, ``s`` the affine scale; a batched matmul on the host side),
   gives each middle token's score share ``sum_n qa[n] cos(2 pi n t / P) + qb[n] sin(...)``
   as one (heads x bins) @ (bins x tokens) product, written into an fp32 score scratch;
2. ``_split_kernel`` (sequence, KV head, split; the query heads of the KV head packed as
   rows): exact keys and the middle's exact channels complete the scores; a first pass stores
   them and takes the split's maximum, a second turns them into probabilities (no
   rescaling) for the exact values;
3. ``_weighted_basis_kernel`` (sequence, split, bin block; every query head): the
   probability-weighted basis ``u[n] = sum_t p(t) cos(2 pi n t / P)`` (and sin) of the
   split's middle tokens;
4. ``_merge_kernel`` (sequence, KV head): log-sum-exp over splits, then the compressed value
   channels as the merged ``u`` times the value bins, added in place.

A split whose keys are all masked contributes nothing, and a row with every key masked comes
out as zeros, not NaN. :func:`fourier_decode` has the signature of
:func:`videorope.cache.views.reference_attention`, its PyTorch oracle. fp32 caches use
IEEE fp32 products; fp16/bf16 caches use the tensor cores (tf32 for the basis products).
Tests run the kernels on the CPU with ``TRITON_INTERPRET=1`` (set before import) and compile
them for sm_90 with ptxas.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from videorope.cache.views import CompressedView, FourierView
from videorope.kernels.dispatch import on_device

__all__ = ["fourier_decode"]

_NEG = tl.constexpr(float("-inf"))  # a jit function may read a global only as a constexpr
BLOCK_T_MAX, BLOCK_F_MAX, SPLIT_WARPS, HEADS_WARPS, MERGE_WARPS = 64, 64, 8, 8, 8
"""Launch configuration: tokens and bins per block (at most), warps of the split kernel, of the
two all-heads kernels and of the merge.
With these the kernels compile for sm_90 without register spills (tests/kernels/test_kernels_compile.py)."""


@triton.jit
def _exact_scores(k_ptr, sb, sh, sl, b, h, seg_start, seg_len, lo, hi, q, d, d_ok, scores, g_ok, pad, m, qk_scale,
                  BLOCK_T: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    """Scores of one exact segment's tokens inside [lo, hi): stored, and folded into the max m."""
    first, last = tl.maximum(lo, seg_start), tl.minimum(hi, seg_start + seg_len)
    for v0 in range(first, last, BLOCK_T):
        v = v0 + tl.arange(0, BLOCK_T)
        ok = v < last
        at = k_ptr + b * sb + h * sh + (v - seg_start).to(tl.int64)[:, None] * sl + d[None, :]
        k = tl.load(at, mask=ok[:, None] & d_ok[None, :], other=0.0).to(q.dtype)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        s = tl.where((ok & (v >= pad))[None, :], s, _NEG)
        tl.store(scores + v[None, :], s, mask=g_ok[:, None] & ok[None, :])
        m = tl.maximum(m, tl.max(s, 1))
    return m


@triton.jit
def _exact_values(v_ptr, sb, sh, sl, b, h, seg_start, seg_len, lo, hi, m, d, d_ok, scores, g_ok, den, acc,
                  BLOCK_T: tl.constexpr, PRECISION: tl.constexpr):  # fmt: skip
    """Probability-weighted values of one exact segment's tokens inside [lo, hi)."""
    first, last = tl.maximum(lo, seg_start), tl.minimum(hi, seg_start + seg_len)
    for v0 in range(first, last, BLOCK_T):
        v = v0 + tl.arange(0, BLOCK_T)
        ok = v < last
        p = tl.exp2(tl.load(scores + v[None, :], mask=g_ok[:, None] & ok[None, :], other=_NEG) - m[:, None])
        at = v_ptr + b * sb + h * sh + (v - seg_start).to(tl.int64)[:, None] * sl + d[None, :]
        val = tl.load(at, mask=ok[:, None] & d_ok[None, :], other=0.0)
        den += tl.sum(p, 1)
        acc += tl.dot(p.to(val.dtype), val, input_precision=PRECISION)
    return den, acc


@triton.jit
def _compressed_scores_kernel(qa_ptr, qb_ptr, qshift_ptr, s_ptr, Hq, F, P, M, L, L0,
                              R_PAD: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr,
                              PRECISION: tl.constexpr):  # fmt: skip
    """One (sequence, block of middle tokens), every query head at once, so the basis is
    evaluated once per token: the share of the scores from the compressed key channels,
    written into the score scratch at the tokens' positions (unscaled)."""
    b = tl.program_id(0).to(tl.int64)
    t = tl.program_id(1) * BLOCK_T + tl.arange(0, BLOCK_T)  # middle times
    r = tl.arange(0, R_PAD)
    r_ok = r < Hq
    rows = b * Hq + r
    s = tl.zeros([R_PAD, BLOCK_T], tl.float32)
    for f0 in range(0, F, BLOCK_F):
        n = f0 + tl.arange(0, BLOCK_F)
        ok = r_ok[:, None] & (n < F)[None, :]
        angle = ((t[:, None] * n[None, :]) % P).to(tl.float32) * (6.283185307179586 / P)  # phase reduced mod P
        qa = tl.load(qa_ptr + rows[:, None] * F + n[None, :], mask=ok, other=0.0)
        qb = tl.load(qb_ptr + rows[:, None] * F + n[None, :], mask=ok, other=0.0)
        s += tl.dot(qa, tl.trans(tl.cos(angle)), input_precision=PRECISION)
        s += tl.dot(qb, tl.trans(tl.sin(angle)), input_precision=PRECISION)
    s += tl.load(qshift_ptr + rows, mask=r_ok, other=0.0)[:, None]
    tl.store(s_ptr + rows[:, None] * L + (L0 + t)[None, :], s, mask=r_ok[:, None] & (t < M)[None, :])


@triton.jit
def _weighted_basis_kernel(s_ptr, m_ptr, uc_ptr, us_ptr, Hq, F, P, M, L, L0, S, SPLIT,
                           R_PAD: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_F: tl.constexpr,
                           PRECISION: tl.constexpr):  # fmt: skip
    """One (sequence, split, block of bins), every query head at once: the sums over the
    split's middle tokens of p(t) cos(2 pi n t / P) and p(t) sin(...), with p against the
    split's maximum."""
    b, split = tl.program_id(0).to(tl.int64), tl.program_id(1)
    n = tl.program_id(2) * BLOCK_F + tl.arange(0, BLOCK_F)
    r = tl.arange(0, R_PAD)
    r_ok = r < Hq
    rows = b * Hq + r
    m = tl.load(m_ptr + rows * S + split, mask=r_ok, other=_NEG)
    m = tl.where(m == _NEG, 0.0, m)
    lo = split * SPLIT
    first, last = tl.maximum(lo, L0), tl.minimum(tl.minimum(lo + SPLIT, L), L0 + M)
    uc = tl.zeros([R_PAD, BLOCK_F], tl.float32)
    us = tl.zeros([R_PAD, BLOCK_F], tl.float32)
    for t0 in range(first, last, BLOCK_T):
        v = t0 + tl.arange(0, BLOCK_T)
        ok = r_ok[:, None] & (v < last)[None, :]
        p = tl.exp2(tl.load(s_ptr + rows[:, None] * L + v[None, :], mask=ok, other=_NEG) - m[:, None])
        angle = (((v - L0)[:, None] * n[None, :]) % P).to(tl.float32) * (6.283185307179586 / P)
        uc += tl.dot(p, tl.cos(angle), input_precision=PRECISION)
        us += tl.dot(p, tl.sin(angle), input_precision=PRECISION)
    at = (rows * S + split)[:, None] * F + n[None, :]
    tl.store(uc_ptr + at, uc, mask=r_ok[:, None] & (n < F)[None, :])
    tl.store(us_ptr + at, us, mask=r_ok[:, None] & (n < F)[None, :])


@triton.jit
def _split_kernel(
    q_ptr, pad_ptr,
    k0, v0, k0b, k0h, k0l, v0b, v0h, v0l, L0,
    k2, v2, k2b, k2h, k2l, v2b, v2h, v2l, L2,
    k3, v3, k3b, k3h, k3l, v3b, v3h, v3l, L3,
    ke_ptr, ve_ptr, kept_k_ptr, kept_v_ptr, CK, CV, M,
    s_ptr, o_ptr, m_ptr, l_ptr,
    H, G, D, L, S, SPLIT, qk_scale,
    G_PAD: tl.constexpr, D_PAD: tl.constexpr, CK_PAD: tl.constexpr, CV_PAD: tl.constexpr,
    BLOCK_T: tl.constexpr, K_BINS: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """One (sequence, KV head, split): partial softmax statistics over virtual positions
    [split * SPLIT, (split + 1) * SPLIT) of [prefix | middle | window | new]. The middle's
    compressed key channels are already in the score scratch (``K_BINS``)."""
    bh, split = tl.program_id(0).to(tl.int64), tl.program_id(1)
    b, h = bh // H, bh % H
    g = tl.arange(0, G_PAD)
    g_ok = g < G
    rows = bh * G + g  # query heads h*G .. h*G+G-1 of sequence b, as (B, Hq) rows
    d = tl.arange(0, D_PAD)
    d_ok = d < D
    q = tl.load(q_ptr + rows[:, None] * D + d[None, :], mask=g_ok[:, None] & d_ok[None, :], other=0.0)
    pad = tl.load(pad_ptr + b)
    lo = split * SPLIT
    hi = tl.minimum(lo + SPLIT, L)
    scores = s_ptr + rows[:, None] * L
    start_mid, start_win = L0, L0 + M
    first, last = tl.maximum(lo, start_mid), tl.minimum(hi, start_mid + M)  # the middle's share
    ck, cv = tl.arange(0, CK_PAD), tl.arange(0, CV_PAD)
    kept_k = tl.load(kept_k_ptr + h * CK + ck, mask=ck < CK, other=0)
    q_kept = tl.load(q_ptr + rows[:, None] * D + kept_k[None, :], mask=g_ok[:, None] & (ck < CK)[None, :], other=0.0)

    # Pass 1: scores (log2 units) and their maximum.
    m = tl.full([G_PAD], _NEG, tl.float32)
    m = _exact_scores(k0, k0b, k0h, k0l, b, h, 0, L0, lo, hi, q, d, d_ok, scores, g_ok, pad, m, qk_scale,
                      BLOCK_T, PRECISION)  # fmt: skip
    for t0 in range(first, last, BLOCK_T):
        v = t0 + tl.arange(0, BLOCK_T)
        ok = v < last
        t = v - start_mid  # middle time
        ke = tl.load(
            ke_ptr + (bh * M + t)[:, None] * CK + ck[None, :], mask=ok[:, None] & (ck < CK)[None, :], other=0.0
        )
        s = tl.dot(q_kept, tl.trans(ke.to(q.dtype)), input_precision=PRECISION).to(tl.float32)
        if K_BINS:
            s += tl.load(scores + v[None, :], mask=g_ok[:, None] & ok[None, :], other=0.0)
        s = tl.where((ok & (v >= pad))[None, :], s * qk_scale, _NEG)
        tl.store(scores + v[None, :], s, mask=g_ok[:, None] & ok[None, :])
        m = tl.maximum(m, tl.max(s, 1))
    m = _exact_scores(k2, k2b, k2h, k2l, b, h, start_win, L2, lo, hi, q, d, d_ok, scores, g_ok, pad, m, qk_scale,
                      BLOCK_T, PRECISION)  # fmt: skip
    m = _exact_scores(k3, k3b, k3h, k3l, b, h, start_win + L2, L3, lo, hi, q, d, d_ok, scores, g_ok, pad, m,
                      qk_scale, BLOCK_T, PRECISION)  # fmt: skip

    # Pass 2: probabilities against the split's maximum, values, and the weighted basis.
    m_safe = tl.where(m == _NEG, 0.0, m)  # an all-masked split: p = 0 everywhere
    den = tl.zeros([G_PAD], tl.float32)
    acc = tl.zeros([G_PAD, D_PAD], tl.float32)
    den, acc = _exact_values(v0, v0b, v0h, v0l, b, h, 0, L0, lo, hi, m_safe, d, d_ok, scores, g_ok, den, acc,
                           BLOCK_T, PRECISION)  # fmt: skip
    den, acc = _exact_values(v2, v2b, v2h, v2l, b, h, start_win, L2, lo, hi, m_safe, d, d_ok, scores, g_ok, den, acc,
                           BLOCK_T, PRECISION)  # fmt: skip
    den, acc = _exact_values(v3, v3b, v3h, v3l, b, h, start_win + L2, L3, lo, hi, m_safe, d, d_ok, scores, g_ok, den,
                           acc, BLOCK_T, PRECISION)  # fmt: skip
    acc_kept = tl.zeros([G_PAD, CV_PAD], tl.float32)
    for t0 in range(first, last, BLOCK_T):
        v = t0 + tl.arange(0, BLOCK_T)
        ok = v < last
        p = tl.exp2(tl.load(scores + v[None, :], mask=g_ok[:, None] & ok[None, :], other=_NEG) - m_safe[:, None])
        at = ve_ptr + (bh * M + v - start_mid)[:, None] * CV + cv[None, :]
        ve = tl.load(at, mask=ok[:, None] & (cv < CV)[None, :], other=0.0)
        den += tl.sum(p, 1)
        acc_kept += tl.dot(p.to(ve.dtype), ve, input_precision=PRECISION)
    kept_v = tl.load(kept_v_ptr + h * CV + cv, mask=cv < CV, other=-1)
    scatter = (kept_v[:, None] == d[None, :]).to(tl.float32)  # (CV, D): exact channel c -> head channel
    acc += tl.dot(acc_kept, scatter, input_precision="ieee")
    part = rows * S + split
    tl.store(o_ptr + part[:, None] * D + d[None, :], acc, mask=g_ok[:, None] & d_ok[None, :])
    tl.store(m_ptr + part, m, mask=g_ok)
    tl.store(l_ptr + part, den, mask=g_ok)


@triton.jit
def _merge_kernel(
    o_ptr, m_ptr, l_ptr, uc_ptr, us_ptr, cc_ptr, cs_ptr, scale_ptr, shift_ptr, dropped_ptr, out_ptr,
    H, G, D, F, P, S, CC,
    G_PAD: tl.constexpr, D_PAD: tl.constexpr, CC_PAD: tl.constexpr, BLOCK_F: tl.constexpr,
    V_BINS: tl.constexpr, AFFINE: tl.constexpr,
):  # fmt: skip
    """One (sequence, KV head): the log-sum-exp merge of the splits, then the compressed
    value channels from the merged weighted basis and the bins."""
    bh = tl.program_id(0).to(tl.int64)
    h = bh % H
    g = tl.arange(0, G_PAD)
    g_ok = g < G
    rows = bh * G + g
    d = tl.arange(0, D_PAD)
    d_ok = d < D
    top = tl.full([G_PAD], _NEG, tl.float32)
    for s in range(S):
        top = tl.maximum(top, tl.load(m_ptr + rows * S + s, mask=g_ok, other=_NEG))
    top = tl.where(top == _NEG, 0.0, top)
    den = tl.zeros([G_PAD], tl.float32)
    acc = tl.zeros([G_PAD, D_PAD], tl.float32)
    for s in range(S):
        w = tl.exp2(tl.load(m_ptr + rows * S + s, mask=g_ok, other=_NEG) - top)
        den += w * tl.load(l_ptr + rows * S + s, mask=g_ok, other=0.0)
        o = tl.load(o_ptr + (rows * S + s)[:, None] * D + d[None, :], mask=g_ok[:, None] & d_ok[None, :], other=0.0)
        acc += w[:, None] * o
    if V_BINS:
        c = tl.arange(0, CC_PAD)
        c_ok = c < CC
        out_c = tl.zeros([G_PAD, CC_PAD], tl.float32)
        mass = tl.zeros([G_PAD], tl.float32)  # probability on the middle: u_cos at bin 0
        for f0 in range(0, F, BLOCK_F):
            n = f0 + tl.arange(0, BLOCK_F)
            n_ok = n < F
            uc = tl.zeros([G_PAD, BLOCK_F], tl.float32)
            us = tl.zeros([G_PAD, BLOCK_F], tl.float32)
            for s in range(S):
                w = tl.exp2(tl.load(m_ptr + rows * S + s, mask=g_ok, other=_NEG) - top)
                at = (rows * S + s)[:, None] * F + n[None, :]
                uc += w[:, None] * tl.load(uc_ptr + at, mask=g_ok[:, None] & n_ok[None, :], other=0.0)
                us += w[:, None] * tl.load(us_ptr + at, mask=g_ok[:, None] & n_ok[None, :], other=0.0)
            mass += tl.sum(tl.where(n[None, :] == 0, uc, 0.0), 1)
            weight = tl.where(n == 0, 1.0 / P, 2.0 / P)  # the inverse DFT's
            bins = (bh * F + n)[:, None] * CC + c[None, :]
            cc = tl.load(cc_ptr + bins, mask=n_ok[:, None] & c_ok[None, :], other=0.0).to(tl.float32)
            cs = tl.load(cs_ptr + bins, mask=n_ok[:, None] & c_ok[None, :], other=0.0).to(tl.float32)
            out_c += tl.dot(uc * weight[None, :], cc, input_precision="ieee")
            out_c += tl.dot(us * weight[None, :], cs, input_precision="ieee")
        if AFFINE:
            scale = tl.load(scale_ptr + bh * CC + c, mask=c_ok, other=0.0)
            shift = tl.load(shift_ptr + bh * CC + c, mask=c_ok, other=0.0)
            out_c = out_c * scale[None, :] + mass[:, None] * shift[None, :]
    den = tl.where(den == 0.0, 1.0, den)  # every key masked: zeros out
    at = out_ptr + rows[:, None] * D
    tl.store(at + d[None, :], acc / den[:, None], mask=g_ok[:, None] & d_ok[None, :])
    if V_BINS:  # add the compressed channels in place (a one-hot product would spill registers)
        dropped = tl.load(dropped_ptr + h * CC + c, mask=c_ok, other=0)
        tl.debug_barrier()  # the stores above, from other threads, land first
        ok = g_ok[:, None] & c_ok[None, :]
        tl.store(at + dropped[None, :], tl.load(at + dropped[None, :], mask=ok) + out_c / den[:, None], mask=ok)


def _pow2(n: int, least: int = 16) -> int:
    """Block size for n: a power of two, at least 16 (tl.dot's smallest tile)."""
    return max(least, triton.next_power_of_2(max(n, 1)))


def _projection(q: torch.Tensor, keys: CompressedView) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The query (B, Hkv, G, D) projected onto the key bins: ``qa``, ``qb`` (B, Hq, F) with
    the inverse-DFT weights and the affine scale folded in, and ``q . shift`` (B, Hq)."""
    B, H, G, _ = q.shape
    dropped = keys.dropped[None, :, None, :].expand(B, H, G, -1)
    qd = q.float().gather(-1, dropped)  # (B, H, G, Cc)
    F = keys.c_cos.shape[-2]
    weight = torch.full((F,), 2.0 / keys.period, device=q.device)
    weight[0] = 1.0 / keys.period
    scaled = qd * keys.scale if keys.scale is not None else qd  # scale (B, H, 1, Cc)
    qa = scaled @ keys.c_cos.float().transpose(-1, -2) * weight  # (B, H, G, F)
    qb = scaled @ keys.c_sin.float().transpose(-1, -2) * weight
    shift = (qd * keys.shift).sum(-1) if keys.shift is not None else qd.new_zeros(B, H, G)
    return qa.reshape(B, H * G, F), qb.reshape(B, H * G, F), shift.reshape(B, H * G)


def _ptr(t: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
    """``t``, or a one-element stand-in when it holds nothing (a null pointer upsets the launcher)."""
    return t if t.numel() else empty


def _index(channels: torch.Tensor) -> torch.Tensor:
    """Channel indices (H, C) as contiguous int32."""
    return channels.to(torch.int32).contiguous()


def _exact_args(pair: tuple[torch.Tensor, torch.Tensor], empty: torch.Tensor) -> list:
    """Pointers, (b, h, l) strides and length of an exact (keys, values) part (B, Hkv, n, D)."""
    k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in pair)
    return [_ptr(k, empty), _ptr(v, empty), *k.stride()[:3], *v.stride()[:3], k.shape[-2]]


def fourier_decode(
    query: torch.Tensor, view: FourierView, scaling: float, pad: torch.Tensor | None = None, split: int | None = None
) -> torch.Tensor:
    """Attention of ``query`` (B, Hq, 1, D) over ``view`` (Hq a multiple of Hkv, grouped heads
    adjacent), softmax scale ``scaling``; keys before ``pad[b]`` (B,) are masked (left padding).
    ``split``: tokens per split (rounded up to a multiple of 16; default: enough splits of
    whole 64-token blocks to fill the GPU).
    Returns (B, Hq, 1, D) float32. Launches run under ``query``'s device guard."""
    with on_device(query):
        return _decode(query, view, scaling, pad, split)


def _decode(
    query: torch.Tensor, view: FourierView, scaling: float, pad: torch.Tensor | None, split: int | None
) -> torch.Tensor:
    B, Hq, _, D = query.shape
    keys, values = view.prefix
    H = keys.shape[1]
    if query.shape[2] != 1 or Hq % H:
        raise ValueError(f"query must be (B, Hq, 1, D) with Hq a multiple of {H} KV heads, got {tuple(query.shape)}")
    G, dev = Hq // H, query.device
    q = query.reshape(B, H, G, D)
    empty = torch.zeros(1, device=dev)  # stand-ins for absent parts (never read)
    no_index = torch.zeros(1, dtype=torch.int32, device=dev)
    middle = view.middle
    M = middle[0].exact.shape[-2] if middle else 0
    P = middle[0].period if middle else 1
    k_bins = middle is not None and middle[0].c_cos is not None
    v_bins = middle is not None and middle[1].c_cos is not None
    F = middle[0].c_cos.shape[-2] if k_bins else (middle[1].c_cos.shape[-2] if v_bins else 0)
    if P * F >= 2**31:
        raise ValueError(f"period {P} x {F} bins must stay below 2^31 for the kernel's integer phases")
    no_channels = torch.zeros(H, 0, dtype=torch.long, device=dev)
    ke, kept_k = (middle[0].exact.contiguous(), middle[0].kept) if middle else (empty, no_channels)
    ve, kept_v = (middle[1].exact.contiguous(), middle[1].kept) if middle else (empty, no_channels)
    L = keys.shape[-2] + M + view.window[0].shape[-2] + view.new[0].shape[-2]
    if split is None:  # about two programs per streaming multiprocessor, at least 256 tokens each
        sms = torch.cuda.get_device_properties(dev).multi_processor_count if query.is_cuda else 1
        split = triton.cdiv(max(256, triton.cdiv(L, triton.cdiv(2 * sms, B * H))), BLOCK_T_MAX) * BLOCK_T_MAX
    split = triton.cdiv(split, 16) * 16
    block_t = min(BLOCK_T_MAX, split & -split)  # the largest power of two dividing the split
    S = triton.cdiv(L, split)
    pad = torch.zeros(B, dtype=torch.int32, device=dev) if pad is None else pad.to(dev, torch.int32)
    scores = torch.empty(B, Hq, L, device=dev)
    o, m, total = (
        torch.empty(B, Hq, S, D, device=dev),
        torch.empty(B, Hq, S, device=dev),
        torch.empty(B, Hq, S, device=dev),
    )
    precision = "ieee" if keys.dtype == torch.float32 else "tf32"
    L0, block_f = keys.shape[-2], min(BLOCK_F_MAX, _pow2(F))
    shared = {"R_PAD": _pow2(Hq), "BLOCK_F": block_f, "PRECISION": precision}  # the all-heads kernels
    if k_bins:
        qa, qb, q_shift = _projection(q, middle[0])
        _compressed_scores_kernel[(B, triton.cdiv(M, BLOCK_T_MAX))](
            qa, qb, q_shift, scores, Hq, F, P, M, L, L0, BLOCK_T=BLOCK_T_MAX, **shared, num_warps=HEADS_WARPS
        )
    CK, CV = kept_k.shape[-1], kept_v.shape[-1]
    _split_kernel[(B * H, S)](
        q.contiguous(), pad,
        *(a for part in (view.prefix, view.window, view.new) for a in _exact_args(part, empty)),
        _ptr(ke, empty), _ptr(ve, empty), _ptr(_index(kept_k), no_index), _ptr(_index(kept_v), no_index),
        CK, CV, M, scores, o, m, total,
        H, G, D, L, S, split, scaling * math.log2(math.e),
        G_PAD=_pow2(G), D_PAD=_pow2(D), CK_PAD=_pow2(CK), CV_PAD=_pow2(CV), BLOCK_T=block_t,
        K_BINS=k_bins, PRECISION=precision, num_warps=SPLIT_WARPS,
    )  # fmt: skip
    uc, us = (torch.empty(B, Hq, S, F, device=dev) for _ in range(2)) if v_bins else (empty, empty)
    if v_bins:
        _weighted_basis_kernel[(B, S, triton.cdiv(F, block_f))](
            scores, m, uc, us, Hq, F, P, M, L, L0, S, split, BLOCK_T=block_t, **shared, num_warps=HEADS_WARPS
        )
    out = torch.empty(B, Hq, D, device=dev)
    vm = middle[1] if v_bins else None
    CC = vm.dropped.shape[-1] if v_bins else 0
    _merge_kernel[(B * H,)](
        o, m, total, uc, us,
        vm.c_cos.contiguous() if v_bins else empty, vm.c_sin.contiguous() if v_bins else empty,
        vm.scale.contiguous() if v_bins and vm.scale is not None else empty,
        vm.shift.contiguous() if v_bins and vm.shift is not None else empty,
        _index(vm.dropped) if v_bins else no_index, out,
        H, G, D, F, P, S, CC,
        G_PAD=_pow2(G), D_PAD=_pow2(D), CC_PAD=_pow2(CC), BLOCK_F=block_f,
        V_BINS=v_bins, AFFINE=v_bins and vm.scale is not None, num_warps=MERGE_WARPS,
    )  # fmt: skip
    return out[:, :, None, :]
