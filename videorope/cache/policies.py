"""Cache policies compared with FourierAttention, and the registry that builds any of them.

- ``streaming`` (StreamingLLM, Xiao et al., 2024): the first ``sinks`` tokens and the most
  recent ones, ``budget`` tokens per layer in all; older tokens are evicted as decoding goes.
- ``snapkv`` (Li et al., 2024): after the prompt, each layer and KV head keeps the prompt
  tokens the last ``observe`` prompt queries attend to most (scores average-pooled over
  ``pool`` neighbours, SnapKV's ``kernel_size``; averaged over the query heads of the group)
  plus those ``observe`` tokens, ``budget`` in all; generated tokens are appended.

Both are transformers cache layers that keep exact tokens and report the full sequence
length (positions stay right). They evict, so the attention mask no longer lines up with
a padded batch: they take one sequence or an unpadded batch (NVIDIA's ``kvpress`` has these
presses, but its releases pin transformers < 5.3). :func:`build_cache` makes any policy,
FourierAttention and the full cache included, from a name and options.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from videorope.analysis.hooks import qk_hook
from videorope.cache.fourier import FourierCache, left_padding
from videorope.registry import REQUIRED, Registry

__all__ = ["CACHES", "SnapKVCache", "StreamingCache", "build_cache"]

CACHES = Registry("cache policy")
"""Entries build a cache: ``fn(model, attention_mask, **options) -> Cache``."""


class _EvictingLayer(DynamicLayer):
    """Exact tokens, some evicted: ``seen`` counts every token (positions and masks use it)."""

    def __init__(self, budget: int):
        super().__init__()
        self.budget, self.seen = budget, 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        keys, values = super().update(key_states, value_states)
        self.seen += key_states.shape[-2]
        return keys, values

    def keep(self, index: torch.Tensor) -> None:
        """Keep tokens ``index`` (B, Hkv, n) of the stored ones, in order."""
        gather = lambda t: t.gather(2, index[..., None].expand(*index.shape, t.shape[-1]))  # noqa: E731
        self.keys, self.values = gather(self.keys), gather(self.values)

    def get_seq_length(self) -> int:
        return self.seen

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        stored = self.keys.shape[-2] if self.is_initialized else 0
        return stored + query_length, self.seen - stored


class _StreamingLayer(_EvictingLayer):
    def __init__(self, budget: int, sinks: int):
        super().__init__(budget)
        self.sinks = sinks

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        keys, values = super().update(key_states, value_states)
        over = self.keys.shape[-2] - self.budget
        if over > 0:
            B, H, n, _ = self.keys.shape
            index = torch.cat([torch.arange(self.sinks), torch.arange(self.sinks + over, n)]).to(self.keys.device)
            self.keep(index.expand(B, H, -1))
        return keys, values


def _unpadded(attention_mask: torch.Tensor | None, policy: str) -> None:
    if attention_mask is not None and left_padding(attention_mask):
        raise ValueError(f"{policy} evicts tokens, so it cannot follow a padded batch; pass one sequence at a time")


class StreamingCache(Cache):
    """StreamingLLM: ``sinks`` first tokens and the most recent, ``budget`` tokens per layer."""

    def __init__(self, num_layers: int, budget: int, sinks: int = 4):
        if not 0 <= sinks < budget:
            raise ValueError(f"budget ({budget}) must exceed sinks ({sinks})")
        super().__init__(layers=[_StreamingLayer(budget, sinks) for _ in range(num_layers)])


class SnapKVCache(Cache):
    """SnapKV over ``model``'s layers: compresses each layer's prompt once, from the queries of
    the prompt's last ``observe`` tokens, seen through a :func:`~videorope.analysis.qk_hook` on
    ``model`` (forwards with other caches pass through it untouched). The hook goes when every
    layer has compressed its prompt, at :meth:`close`, or when the cache is dropped unused."""

    def __init__(self, model: Any, budget: int, observe: int = 32, pool: int = 7):
        if not 0 < observe < budget:
            raise ValueError(f"budget ({budget}) must exceed the observation window ({observe})")
        if pool < 1 or pool % 2 == 0:
            raise ValueError(f"pool (the pooling width) must be an odd number >= 1, got {pool}")
        num_layers = model.config.get_text_config().num_hidden_layers
        super().__init__(layers=[_EvictingLayer(budget) for _ in range(num_layers)])
        self.observe, self.pool, self.pending = observe, pool, set(range(num_layers))
        me = weakref.ref(self)  # the hook must not keep the cache alive: dropping it removes the hook

        def see(layer: int, module: Any, query: torch.Tensor, key: torch.Tensor) -> None:
            if (cache := me()) is not None:
                cache._compress(layer, module, query, key)

        hook = qk_hook(model, see)
        hook.__enter__()
        self._unhook = weakref.finalize(self, hook.__exit__, None, None, None)

    def close(self) -> None:
        """Remove the hook from the model now (a no-op once it is gone)."""
        self._unhook()

    def _compress(self, layer: int, module: Any, query: torch.Tensor, key: torch.Tensor) -> None:
        cached = self.layers[layer]
        if layer not in self.pending or key is not cached.keys:  # another cache's forward, or done
            return
        self.pending.discard(layer)
        if not self.pending:
            self.close()
        B, H, L, _ = cached.keys.shape
        if L <= cached.budget:
            return
        obs = query[:, :, -self.observe :].float().view(B, H, -1, self.observe, query.shape[-1])  # (B, Hkv, g, w, D)
        logits = module.scaling * obs @ key.float()[:, :, None].transpose(-1, -2)  # (B, Hkv, g, w, L)
        causal = torch.ones(self.observe, self.observe, dtype=torch.bool, device=logits.device).tril()
        logits[..., L - self.observe :] = logits[..., L - self.observe :].masked_fill(~causal, float("-inf"))
        scores = logits.softmax(-1)[..., : L - self.observe].sum(3).mean(2)  # (B, Hkv, L - w)
        scores = F.avg_pool1d(scores, self.pool, stride=1, padding=self.pool // 2, count_include_pad=False)
        top = scores.topk(cached.budget - self.observe, dim=-1).indices.sort(-1).values
        recent = torch.arange(L - self.observe, L, device=top.device).expand(B, H, -1)
        cached.keep(torch.cat([top, recent], dim=-1))


@CACHES.register("full", paper="-", summary="transformers' DynamicCache: every token, exact")
def _full(model: Any, attention_mask: torch.Tensor | None) -> Cache:
    return DynamicCache()


@CACHES.register(
    "fourier",
    paper="FourierAttention (Liu et al., 2025)",
    summary="sinks + window exact; middle: critical channels exact, the rest as DFT bins",
    options={
        "plan": REQUIRED,
        "max_length": None,
        "max_new_tokens": None,
        "sinks": 4,
        "window": 1020,
        "frequencies": 512,
        "coefficient_dtype": torch.float32,
        "affine": True,
        "stream_offset": 1,
        "kernel": "auto",
    },  # fmt: skip
)
def _fourier(model: Any, attention_mask: torch.Tensor | None, plan, kernel: str, **options) -> Cache:
    return FourierCache(plan, attention_mask=attention_mask, model=model, kernel=kernel, **options)


@CACHES.register("streaming", paper="StreamingLLM (Xiao et al., 2024)", summary="sinks + most recent tokens",
                 options={"budget": REQUIRED, "sinks": 4})  # fmt: skip
def _streaming(model: Any, attention_mask: torch.Tensor | None, budget: int, sinks: int) -> Cache:
    _unpadded(attention_mask, "streaming")
    return StreamingCache(model.config.get_text_config().num_hidden_layers, budget, sinks)


@CACHES.register("snapkv", paper="SnapKV (Li et al., 2024)", summary="prompt tokens the last queries attend to",
                 options={"budget": REQUIRED, "observe": 32, "pool": 7})  # fmt: skip
def _snapkv(model: Any, attention_mask: torch.Tensor | None, budget: int, observe: int, pool: int) -> Cache:
    _unpadded(attention_mask, "snapkv")
    return SnapKVCache(model, budget, observe, pool)


def build_cache(policy: str, model: Any, attention_mask: torch.Tensor | None = None, **options: Any) -> Cache:
    """A fresh cache of ``policy`` for ``model`` and one batch (its ``attention_mask``)."""
    return CACHES[policy].fn(model, attention_mask, **CACHES.resolve(policy, options))
