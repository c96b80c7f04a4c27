"""What a decoding step reads from a FourierAttention cache, and its PyTorch oracle.

:class:`FourierView` (one layer's keys and values in attention order, the middle segment as
a :class:`CompressedView`) is what :class:`~videorope.cache.fourier.FourierLayer` hands the
attention in place of keys and values; :func:`reference_attention` computes a decoding step
over it in PyTorch, the oracle of :func:`videorope.kernels.fourier_decode.fourier_decode`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from videorope.cache.dft import reconstruct

__all__ = ["CompressedView", "FourierView", "reference_attention"]


def _add(out: torch.Tensor, channels: torch.Tensor, values: torch.Tensor) -> None:
    """Add values (B, H, T, C) into channels (H, C) of out (B, H, T, D) (padded slots add zeros)."""
    out.scatter_add_(-1, channels[None, :, None, :].expand(*values.shape), values)


@dataclass(frozen=True)
class CompressedView:
    """K or V of a layer's middle segment (M tokens) at one moment: ``exact`` (B, H, M, C), the
    ``kept`` (H, C) channels; the ``dropped`` (H, Cc) ones as bins ``c_cos``/``c_sin``
    (B, H, F, Cc) over ``period``, None when Cc = 0; the affine ``scale``/``shift``
    (B, H, 1, Cc) or None; ``head_dim`` D. When heads keep different numbers of channels the
    lists are padded (index 0) and the padded slots' data are zeros, so reading is adding.
    ``rebuilt``: the compressed channels read back at this moment
    (:meth:`videorope.cache.fourier._Middle.rebuilt`, (B, H, M, Cc) before the affine step), or
    None to rebuild them from the bins on read."""

    exact: torch.Tensor
    kept: torch.Tensor
    dropped: torch.Tensor
    c_cos: torch.Tensor | None
    c_sin: torch.Tensor | None
    scale: torch.Tensor | None
    shift: torch.Tensor | None
    period: int
    head_dim: int
    rebuilt: torch.Tensor | None = None

    def read(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The middle as the attention sees it: (B, H, M, D) in ``dtype`` (default: the exact
        channels' dtype, so reconstructed channels are rounded to it)."""
        B, H, M, _ = self.exact.shape
        out = self.exact.new_zeros(B, H, M, self.head_dim, dtype=dtype)
        _add(out, self.kept, self.exact.to(out.dtype))
        if self.c_cos is not None:
            approx = self.rebuilt if self.rebuilt is not None else reconstruct(self.c_cos, self.c_sin, M, self.period)
            if self.scale is not None:
                approx = approx * self.scale + self.shift
            _add(out, self.dropped, approx.to(out.dtype))
        return out


@dataclass(frozen=True)
class FourierView:
    """What one decoding step of a layer reads, in attention order: the exact ``prefix``, the
    ``middle`` (keys, values) or None while no token has left the window, the exact
    ``window`` and the step's ``new`` tokens; each exact part (keys, values) (B, Hkv, n, D).
    ``kernel`` (``auto``, ``torch`` or ``triton``) picks who computes the step's attention
    (:mod:`videorope.cache.attention`)."""

    prefix: tuple[torch.Tensor, torch.Tensor]
    middle: tuple[CompressedView, CompressedView] | None
    window: tuple[torch.Tensor, torch.Tensor]
    new: tuple[torch.Tensor, torch.Tensor]
    kernel: str = "torch"

    def materialize(self, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of every token, (B, Hkv, L, D), in ``dtype`` (default: as stored)."""
        parts = [
            self.prefix,
            *([tuple(m.read(dtype) for m in self.middle)] if self.middle else []),
            self.window,
            self.new,
        ]
        parts = [tuple(t if dtype is None else t.to(dtype) for t in part) for part in parts]
        return torch.cat([k for k, _ in parts], dim=-2), torch.cat([v for _, v in parts], dim=-2)


def reference_attention(
    query: torch.Tensor, view: FourierView, scaling: float, pad: torch.Tensor | None = None
) -> torch.Tensor:
    """One decoding step of attention over ``view``, in float32: query (B, Hq, 1, D) (Hq a
    multiple of Hkv, grouped heads adjacent), softmax scale ``scaling``, keys before
    ``pad[b]`` (B,) masked (left padding) -> (B, Hq, 1, D). Dense attention over
    :meth:`FourierView.materialize`: the oracle of :func:`videorope.kernels.fourier_decode.fourier_decode`."""
    keys, values = view.materialize(torch.float32)
    group = query.shape[1] // keys.shape[1]
    keys, values = keys.repeat_interleave(group, 1), values.repeat_interleave(group, 1)
    logits = scaling * query.float() @ keys.transpose(-1, -2)  # (B, Hq, 1, L)
    if pad is not None:
        masked = torch.arange(keys.shape[-2], device=keys.device) < pad.to(keys.device)[:, None]  # (B, L)
        logits = logits.masked_fill(masked[:, None, None, :], float("-inf"))
    return torch.softmax(logits, dim=-1) @ values
