"""Decoding steps that read a :class:`~videorope.cache.FourierCache` as stored.

A cache built with ``model=`` returns, for each one-token decoding step, a
:class:`~videorope.cache.views.FourierView` in place of keys and values. :func:`install`
wraps the model's attention entry in transformers' ``ALL_ATTENTION_FUNCTIONS`` so that a view
goes to :func:`videorope.kernels.fourier_decode.fourier_decode` (the Triton kernel) or to
:func:`~videorope.cache.views.reference_attention` (PyTorch), as the view's ``kernel``
says; every other call goes to the original function unchanged. The wrapper dispatches on
the type of the keys, so it is harmless to any model that never sees a view. The model
holds the wrapper: ``videorope.unapply(model)`` lets it go, and the last holder of an
implementation restores transformers' own entry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from videorope.cache.views import FourierView, reference_attention
from videorope.integrations.base import RELEASES, hold
from videorope.kernels.dispatch import wants_kernel

__all__ = ["install", "left_pad"]


def left_pad(attention_mask: torch.Tensor | None, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """Per row, how many leading keys the model's mask hides (B,), from its 4D mask (B, 1, Lq,
    L) as the last query sees it (bool: True attends; float: 0 attends). Raises when a
    hidden key follows a visible one: the kernel masks left padding only."""
    if attention_mask is None:
        return torch.zeros(batch, dtype=torch.int32, device=device)
    visible = attention_mask[:, 0, -1, -length:]
    visible = visible if visible.dtype == torch.bool else visible == 0
    visible = visible.expand(batch, length)
    pad = visible.int().argmax(-1)
    if (visible.sum(-1) != length - pad).any():
        raise ValueError(
            "the attention mask hides keys after visible ones; FourierCache decodes left-padded batches only "
            "(tokenizer.padding_side = 'left')"
        )
    return pad.int()


def _decode(module: nn.Module, query: torch.Tensor, view: FourierView, attention_mask, scaling=None, **kwargs):
    """One step over a view: (B, 1, Hq, D) in the query's dtype, as attention functions return."""
    B, _, _, D = query.shape
    length = sum(part[0].shape[-2] for part in (view.prefix, view.window, view.new))
    length += view.middle[0].exact.shape[-2] if view.middle else 0
    pad = left_pad(attention_mask, B, length, query.device)
    scaling = D**-0.5 if scaling is None else scaling
    if wants_kernel(view.kernel, query):
        from videorope.kernels.fourier_decode import fourier_decode

        out = fourier_decode(query, view, scaling, pad)
    else:
        out = reference_attention(query, view, scaling, pad)
    return out.to(query.dtype).transpose(1, 2).contiguous(), None


def _dispatching(original: Callable | None, local: Callable | None) -> Callable:
    """The wrapper of ``original``; ``local``: the mapping's own entry it replaces (None: none)."""

    def attention(module, query, key, value, attention_mask, **kwargs):
        if isinstance(key, FourierView):
            return _decode(module, query, key, attention_mask, **kwargs)
        target = original or sys.modules[type(module).__module__].eager_attention_forward
        return target(module, query, key, value, attention_mask, **kwargs)

    attention.videorope_fourier = True
    attention.videorope_local = local
    return attention


def install(model: nn.Module) -> None:
    """Let the attention implementation of ``model``'s text decoder take FourierCache views
    (once per implementation; the wrapper passes everything else through)."""
    impl = model.config.get_text_config()._attn_implementation
    local = ALL_ATTENTION_FUNCTIONS._local_mapping
    if not getattr(local.get(impl), "videorope_fourier", False):
        local[impl] = _dispatching(ALL_ATTENTION_FUNCTIONS.get(impl), local.get(impl))
    hold(model, "fourier-attention", impl)


def _release(impl: str) -> None:
    """Restore transformers' entry for ``impl`` (no model holds the wrapper)."""
    local = ALL_ATTENTION_FUNCTIONS._local_mapping
    current = local.get(impl)
    if getattr(current, "videorope_fourier", False):
        if current.videorope_local is None:
            del local[impl]
        else:
            local[impl] = current.videorope_local


RELEASES["fourier-attention"] = _release
