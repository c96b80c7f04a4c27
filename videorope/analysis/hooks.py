"""Hooks into the attention layers of a loaded transformers model.

Every decoder of the transformers 5.x functional design rotates q and k, then calls
``ALL_ATTENTION_FUNCTIONS[config._attn_implementation]`` (``eager`` falls back to its
modeling file's ``eager_attention_forward``). :func:`qk_hook` wraps that entry, for the
attention layers of one model only, so a function sees (and may replace) the rotated q and k
before attention, whatever the family and the attention implementation. Nothing else in the
model changes; outside the ``with`` block the entry is restored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

__all__ = ["Capture", "attention_layers", "capture", "mask_heads", "qk_hook", "query_positions"]

QKFn = Callable[[int, nn.Module, torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor] | None"]
"""``fn(layer, module, q, k)`` with q (B, H, Lq, d) and k (B, Hkv, Lk, d), rotated (k includes
cached keys); returns a replacement ``(q, k)`` or ``None`` to leave them."""


def attention_layers(model: nn.Module) -> dict[int, nn.Module]:
    """The self-attention modules of a decoder, by layer index."""
    layers = {m.layer_idx: m for m in model.modules() if hasattr(m, "o_proj") and hasattr(m, "layer_idx")}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no attention modules with o_proj and layer_idx to hook")
    return dict(sorted(layers.items()))


_active: list[tuple[str, dict[nn.Module, int], QKFn]] = []
"""Hooks in force, outermost first: (attention implementation, module -> layer, fn)."""
_shadowed: dict[str, Callable | None] = {}
"""Per wrapped implementation, the local entry the wrapper replaced (restored when the last
hook on that implementation ends)."""


def _wrapper(impl: str) -> Callable:
    original = ALL_ATTENTION_FUNCTIONS.get(impl)

    def attention(module, query, key, value, attention_mask, **kwargs):
        for hook_impl, layers, fn in _active:
            layer = layers.get(module) if hook_impl == impl else None
            if layer is not None:
                replaced = fn(layer, module, query, key)
                if replaced is not None:
                    query, key = replaced
        target = original or sys.modules[type(module).__module__].eager_attention_forward
        return target(module, query, key, value, attention_mask, **kwargs)

    return attention


@contextmanager
def qk_hook(model: nn.Module, fn: QKFn) -> Iterator[None]:
    """Within the block, each attention layer of ``model`` passes its rotated (q, k) through
    ``fn``. Blocks nest: an inner hook sees what the outer ones made of q and k."""
    layers = {module: index for index, module in attention_layers(model).items()}
    impl = model.config.get_text_config()._attn_implementation
    local = ALL_ATTENTION_FUNCTIONS._local_mapping
    if impl not in _shadowed:
        _shadowed[impl] = local.get(impl)
        local[impl] = _wrapper(impl)
    entry = (impl, layers, fn)
    _active.append(entry)
    try:
        yield
    finally:
        _active.remove(entry)
        if not any(i == impl for i, _, _ in _active):
            shadowed = _shadowed.pop(impl)
            if shadowed is None:
                local.pop(impl, None)
            else:
                local[impl] = shadowed


@dataclass
class Capture:
    """Rotated queries at ``positions`` and every key, per layer, for one sequence of length L.

    ``q[layer]`` (H, n, d), ``k[layer]`` (Hkv, L, d), ``positions`` (n,) ascending,
    ``scaling[layer]`` the softmax scale of that layer (logits are ``scaling * q.k``).
    """

    positions: torch.Tensor
    q: list[torch.Tensor]
    k: list[torch.Tensor]
    scaling: list[float]

    @property
    def length(self) -> int:
        return self.k[0].shape[1]

    def keys(self, layer: int) -> torch.Tensor:
        """Keys of ``layer`` for every query head (grouped KV heads repeated): (H, L, d)."""
        q, k = self.q[layer], self.k[layer]
        return k.repeat_interleave(q.shape[0] // k.shape[0], dim=0)


def query_positions(length: int, queries: int | Sequence[int]) -> torch.Tensor:
    """``queries`` positions evenly spaced over [0, length), last included, or the given ones."""
    if isinstance(queries, int):
        if queries < 1:
            raise ValueError(f"queries must be a positive count or a list of positions, got {queries}")
        return torch.linspace(0, length - 1, min(queries, length)).round().long().unique()
    positions = torch.as_tensor(list(queries), dtype=torch.long).unique()
    if len(positions) == 0 or positions.min() < 0 or positions.max() >= length:
        raise ValueError(f"query positions must lie in [0, {length}), got {list(queries)}")
    return positions


@torch.no_grad()
def capture(model: nn.Module, input_ids: torch.Tensor, queries: int | Sequence[int] = 64) -> Capture:
    """Run ``model`` on one sequence ``input_ids`` (L,) and keep its rotated q at ``queries``
    (a count evenly spaced, or positions) and all keys, per layer, in float32.

    Memory is linear in L: (n + Hkv/H * L) * d floats per head and layer; no L x L tensor.
    The forward stops at the last hidden state (no vocabulary logits).
    """
    ids = torch.as_tensor(input_ids).reshape(1, -1).to(next(model.parameters()).device)
    positions = query_positions(ids.shape[1], queries)
    layers = attention_layers(model)
    q: list[torch.Tensor | None] = [None] * len(layers)
    k: list[torch.Tensor | None] = [None] * len(layers)

    def keep(layer: int, module: nn.Module, query: torch.Tensor, key: torch.Tensor) -> None:
        q[layer] = query[0, :, positions.to(query.device)].float().cpu()
        k[layer] = key[0].float().cpu()

    with qk_hook(model, keep):
        model.base_model(input_ids=ids, use_cache=False)
    scaling = [float(getattr(m, "scaling", m.head_dim**-0.5)) for m in layers.values()]
    return Capture(positions, q, k, scaling)  # type: ignore[arg-type]


@contextmanager
def mask_heads(model: nn.Module, heads: Sequence[tuple[int, int]]) -> Iterator[None]:
    """Within the block, the outputs of ``heads`` ((layer, head) pairs) are zeroed before each
    layer's output projection: the head is ablated, the rest of the model unchanged."""
    layers = attention_layers(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if layer not in layers or not 0 <= head < model.config.get_text_config().num_attention_heads:
            raise ValueError(f"head ({layer}, {head}) does not exist in {type(model).__name__}")
        by_layer.setdefault(layer, []).append(head)

    def zero(index: list[int], head_dim: int):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]):
            x = args[0].unflatten(-1, (-1, head_dim)).clone()
            x[..., index, :] = 0
            return (x.flatten(-2), *args[1:])

        return hook

    handles = [
        layers[layer].o_proj.register_forward_pre_hook(zero(index, layers[layer].head_dim))
        for layer, index in by_layer.items()
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
