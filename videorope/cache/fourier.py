"""FourierCache: the FourierAttention KV cache as a transformers ``Cache`` (REFERENCE section 6).

Per layer a sequence is stored in three parts:

- the **prefix**: the first ``sinks`` tokens of every row (attention sinks), exact. With left
  padding the prefix also covers the longest padding, so every row keeps its own sinks exact;
- the **window**: the last ``window`` tokens, exact;
- the **middle**: everything between. Per KV head, the plan's critical channels are kept exact;
  the others are stored as ``frequencies`` truncated-DFT bins (cos and sin) over a period
  ``P`` and, by default, the paper's affine correction fitted when the middle is first
  written. A token leaving the window is added into the bins.

As the released code does (``ShirleYoung/FourierAttention``, ``cache_utils_fourier.py``):
the period is sized per prompt, ``P = prompt + max_new_tokens - sinks - window``; nothing is
compressed until the sequence is longer than ``sinks + window + 2 * frequencies`` (a shorter
middle would take more room as coefficients); a token streamed in later is added at the
phase of its middle index plus one (the original's counter runs one ahead). Fixing the
period with ``max_length``, ``affine=False`` and ``stream_offset=0`` are videorope's variants.

``update`` returns the keys and values the attention reads: at prefill, the tokens given
(exact attention); later, prefix + reconstructed middle + window + the new tokens, so the
model's own attention over them is the reference path. A cache built with ``model=``
returns a :class:`FourierView` instead for one-token steps, which the model's attention
hands to the Triton decode kernel (:mod:`videorope.cache.attention`);
:func:`reference_attention` is the same step in PyTorch, the kernel's oracle.
Shapes follow transformers: keys and values (B, Hkv, L, D).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from videorope.cache.dft import add_tokens, affine_fit, check_bins, reconstruct, token_response, truncated_dft
from videorope.cache.plan import FourierPlan
from videorope.cache.views import CompressedView, FourierView
from videorope.kernels.dispatch import check_kernel, wants_kernel

__all__ = ["FourierCache", "FourierLayer", "FourierOptions", "expected_nbytes", "left_padding"]


@dataclass(frozen=True)
class FourierOptions:
    """Settings of a :class:`FourierCache`. The period comes from one of:

    - ``max_new_tokens`` (the original): per prompt, ``P = prompt + max_new_tokens - sinks -
      window``, fixed when the cache first sees the prompt (:meth:`for_prompt`);
    - ``max_length`` (videorope's ``fixed-period`` variant): planned tokens per sequence,
      ``P = max_length - sinks - window`` for every prompt.

    ``frequencies``: DFT bins kept per compressed channel (2x that many numbers are stored).
    ``affine``: the paper's per-channel correction (match the mean and the largest deviation
    of the middle as first written); the released code always applies it.
    ``stream_offset``: a token leaving the window is added at phase (middle index +
    offset); 1 is the released code, 0 puts it where it is read back."""

    max_length: int | None = None
    sinks: int = 4
    window: int = 1020
    frequencies: int = 512
    coefficient_dtype: torch.dtype = torch.float32
    affine: bool = True
    max_new_tokens: int | None = None
    stream_offset: int = 1

    def __post_init__(self):
        if (self.max_length is None) == (self.max_new_tokens is None):
            raise ValueError(
                "give the period one source: max_new_tokens= (per prompt, as the original) or max_length= "
                f"(fixed), got max_length={self.max_length}, max_new_tokens={self.max_new_tokens}"
            )
        if self.sinks < 0 or self.window < 0 or (self.max_new_tokens or 0) < 0 or self.stream_offset < 0:
            raise ValueError(
                f"sinks ({self.sinks}), window ({self.window}), max_new_tokens ({self.max_new_tokens}) and "
                f"stream_offset ({self.stream_offset}) must be >= 0"
            )
        if not self.coefficient_dtype.is_floating_point:
            raise ValueError(f"coefficient_dtype must be a floating dtype, got {self.coefficient_dtype}")
        if self.max_length is not None:
            check_bins(self.frequencies, self.period)

    @property
    def period(self) -> int:
        """Positions the middle segment can hold: max_length - sinks - window."""
        if self.max_length is None:
            raise ValueError("the period is set per prompt (max_new_tokens); take options.for_prompt(length) first")
        return self.max_length - self.sinks - self.window

    @property
    def compress_above(self) -> int:
        """Tokens a sequence holds exact before its middle is compressed: sinks + window + 2F."""
        return self.sinks + self.window + 2 * self.frequencies

    def for_prompt(self, length: int) -> FourierOptions:
        """The options for a prompt of ``length`` tokens: the period fixed (unchanged when it already
        is). A prompt whose planned length stays within :attr:`compress_above` is never
        compressed; it gets the shortest valid period."""
        if self.max_length is not None:
            return self
        planned = max(length + self.max_new_tokens, self.compress_above + 1)
        return replace(self, max_length=planned, max_new_tokens=None)


def _take(x: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Per-head channels of x (B, H, T, D): channels (H, C) -> (B, H, T, C)."""
    return x.gather(-1, channels[None, :, None, :].expand(*x.shape[:-1], channels.shape[-1]))


def _padded(lists: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel lists (H, C) padded with -1 -> (indices with padding at channel 0, mask (H, C))."""
    mask = lists >= 0
    return lists.clamp_min(0), mask


class _Middle:
    """K or V of one layer's middle segment: exact channels (B, H, M, C) and, for the rest,
    bins ``c_cos``/``c_sin`` (B, H, F, Cc), with the affine ``scale``/``shift`` (B, H, 1, Cc)
    when ``options.affine``. Heads may keep different numbers of channels (a plan ranked
    across a layer's heads): lists are padded to the widest head, and padded slots hold zeros,
    so every reader adds nothing through them."""

    def __init__(self, kept: torch.Tensor, head_dim: int, options: FourierOptions):
        kept_mask = kept >= 0
        dropped_mask = torch.ones(kept.shape[0], head_dim, dtype=torch.bool, device=kept.device)
        heads = torch.arange(kept.shape[0], device=kept.device)[:, None].expand_as(kept)
        dropped_mask[heads[kept_mask], kept[kept_mask]] = False
        width = int(dropped_mask.sum(1).max())
        order = dropped_mask.int().argsort(dim=1, descending=True, stable=True)[:, :width]  # dropped channels first
        dropped = torch.where(dropped_mask.gather(1, order), order, -1)
        (self.kept, self.kept_mask), (self.dropped, self.dropped_mask) = _padded(kept), _padded(dropped)
        self.options, self.head_dim, self.length = options, head_dim, 0
        self.exact = self.c_cos = self.c_sin = self.scale = self.shift = None
        self._rebuilt: torch.Tensor | None = None  # a read cache of the reference path; see rebuilt()

    def tensors(self) -> dict[str, torch.Tensor]:
        names = ("exact", "c_cos", "c_sin", "scale", "shift")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def map(self, fn) -> None:
        for name, t in self.tensors().items():
            setattr(self, name, fn(t))
        self._rebuilt = None

    def rebuilt(self) -> torch.Tensor:
        """The compressed channels read back, (B, H, M, Cc) float32, before the affine step.
        The PyTorch read path keeps it between decoding steps and follows each streamed token
        with a rank-one update (:func:`~videorope.cache.dft.token_response`) instead of
        rebuilding the middle; it is a cache of the reader, not stored data (not in nbytes;
        the Triton kernel reads the bins directly)."""
        if self._rebuilt is None:
            self._rebuilt = reconstruct(self.c_cos, self.c_sin, self.length, self.options.period)
        return self._rebuilt

    def nbytes(self) -> dict[str, int]:
        """Bytes of the stored slots (padding to the widest head not counted)."""
        if self.exact is None:
            return {"middle_exact": 0, "coefficients": 0, "affine": 0}
        B, _, M, _ = self.exact.shape
        kept, dropped = int(self.kept_mask.sum()), int(self.dropped_mask.sum())
        coefficients = 0 if self.c_cos is None else 2 * B * self.c_cos.shape[-2] * dropped * self.c_cos.element_size()
        affine = 0 if self.scale is None else 2 * B * dropped * self.scale.element_size()
        return {"middle_exact": B * M * kept * self.exact.element_size(), "coefficients": coefficients,
                "affine": affine}  # fmt: skip

    def append(self, x: torch.Tensor) -> None:
        """Tokens x (B, H, T, D) leaving the window, at middle times length..length+T-1."""
        o, T = self.options, x.shape[-2]
        exact = _take(x, self.kept) * self.kept_mask[None, :, None, :]
        self.exact = exact if self.exact is None else torch.cat([self.exact, exact], dim=-2)
        if self.dropped.shape[-1]:
            values = _take(x, self.dropped).float() * self.dropped_mask[None, :, None, :]
            if self.c_cos is None:
                c_cos, c_sin = truncated_dft(values, o.frequencies, o.period)
                if o.affine:
                    self.scale, self.shift = affine_fit(values, reconstruct(c_cos, c_sin, T, o.period))
                self.c_cos, self.c_sin = c_cos.to(o.coefficient_dtype), c_sin.to(o.coefficient_dtype)
            else:
                times = torch.arange(self.length, self.length + T, device=x.device) + o.stream_offset
                self.c_cos, self.c_sin = add_tokens(self.c_cos, self.c_sin, values, times, o.period)
                if self._rebuilt is not None and self.c_cos.dtype != torch.float32:
                    self._rebuilt = None  # rounded coefficients: rebuild from them on the next read
                if self._rebuilt is not None:  # follow the new tokens, then read the new positions
                    old = torch.arange(self.length, device=x.device)
                    response = token_response(old[:, None] - times[None, :], o.frequencies, o.period)  # (M, T)
                    new = reconstruct(self.c_cos, self.c_sin, self.length + T, o.period, start=self.length)
                    self._rebuilt = torch.cat([self._rebuilt + response @ values, new], dim=-2)
        self.length += T

    def view(self, snapshot: bool = True) -> CompressedView:
        """The middle as stored now; ``snapshot``: with its read-back (for a PyTorch reader)."""
        rebuilt = self.rebuilt() if snapshot and self.c_cos is not None else None
        return CompressedView(self.exact, self.kept, self.dropped, self.c_cos, self.c_sin, self.scale, self.shift,
                              self.options.period, self.head_dim, rebuilt)  # fmt: skip


class FourierLayer(CacheLayerMixin):
    """One layer of :class:`FourierCache`. ``key_kept``/``value_kept`` (Hkv, C): exact channels;
    ``prefix``: exact leading tokens (sinks plus the longest left padding); ``kernel``: None
    (decoding steps return materialized keys and values) or the implementation of
    :mod:`videorope.cache.attention` that decoding steps go through."""

    is_sliding = False
    supports_early_init = False

    def __init__(self, key_kept: torch.Tensor, value_kept: torch.Tensor, options: FourierOptions, prefix: int,
                 kernel: str | None = None):  # fmt: skip
        super().__init__()
        self.key_kept, self.value_kept, self.options, self.prefix = key_kept, value_kept, options, prefix
        self.kernel, self.seen = kernel, 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        _, heads, _, head_dim = key_states.shape
        if self.key_kept.shape[0] != heads or self.value_kept.shape[0] != heads:
            raise ValueError(f"the plan has {self.key_kept.shape[0]} KV heads for this layer; the model has {heads}")
        self.dtype, self.device = key_states.dtype, key_states.device
        self.options = self.options.for_prompt(key_states.shape[-2])
        self.keys, self.values = key_states[..., :0, :], value_states[..., :0, :]  # the exact prefix
        self.window_keys, self.window_values = self.keys, self.values
        self.middle = tuple(_Middle(kept.to(self.device), head_dim, self.options)
                            for kept in (self.key_kept, self.value_kept))  # fmt: skip
        self.is_initialized = True

    def view(self, new: tuple[torch.Tensor, torch.Tensor] | None = None) -> FourierView:
        """The layer as one decoding step reads it, with ``new`` (keys, values) as the step's tokens."""
        snapshot = not (self.kernel and wants_kernel(self.kernel, self.keys))  # a PyTorch reader
        middle = tuple(m.view(snapshot) for m in self.middle) if self.middle[0].length else None
        new = new or (self.keys[..., :0, :], self.values[..., :0, :])
        return FourierView((self.keys, self.values), middle, (self.window_keys, self.window_values), new,
                           self.kernel or "torch")  # fmt: skip

    def materialize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of every cached token as the attention reads them: (B, Hkv, L, D)."""
        return self.view().materialize()

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        """Store the new tokens; return the cache as read before them, plus them exact: a
        :class:`FourierView` (as both keys and values) for a one-token step when the layer
        decodes through :mod:`videorope.cache.attention`, else the materialized tensors."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if not self.seen:
            keys, values = key_states, value_states
        elif self.kernel and key_states.shape[-2] == 1:
            keys = values = self.view((key_states, value_states))
        else:
            keys, values = self.view((key_states, value_states)).materialize()
        self._store(key_states, value_states)
        return keys, values

    def _store(self, k: torch.Tensor, v: torch.Tensor) -> None:
        take = max(0, min(k.shape[-2], self.prefix - self.keys.shape[-2]))
        self.keys, self.values = (
            torch.cat([self.keys, k[..., :take, :]], -2),
            torch.cat([self.values, v[..., :take, :]], -2),
        )
        wk = torch.cat([self.window_keys, k[..., take:, :]], dim=-2)
        wv = torch.cat([self.window_values, v[..., take:, :]], dim=-2)
        leaving = wk.shape[-2] - self.options.window
        if self.middle[0].length == 0 and self.seen + k.shape[-2] <= self.options.compress_above:
            leaving = 0  # a middle no longer than its coefficients stays exact
        if leaving > 0:
            if self.middle[0].length + leaving > self.options.period:
                raise ValueError(
                    f"the cache was planned for max_length={self.options.max_length} tokens per sequence and is full; "
                    "build it with a larger max_length (or max_new_tokens)"
                )
            self.middle[0].append(wk[..., :leaving, :])
            self.middle[1].append(wv[..., :leaving, :])
            wk, wv = wk[..., leaving:, :], wv[..., leaving:, :]
        self.window_keys, self.window_values = wk, wv
        self.seen += k.shape[-2]

    def get_seq_length(self) -> int:
        return self.seen

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.seen + query_length, 0

    def get_max_length(self) -> int:
        return -1

    def nbytes(self) -> dict[str, int]:
        """Bytes held, by part: prefix, window, middle exact channels, coefficients, affine."""
        if not self.is_initialized:
            return {"prefix": 0, "window": 0, "middle_exact": 0, "coefficients": 0, "affine": 0}
        size = lambda *ts: sum(t.numel() * t.element_size() for t in ts)  # noqa: E731
        k, v = (m.nbytes() for m in self.middle)
        return {"prefix": size(self.keys, self.values), "window": size(self.window_keys, self.window_values),
                **{part: k[part] + v[part] for part in k}}  # fmt: skip

    def full_nbytes(self) -> int:
        """Bytes a full (DynamicCache) layer would hold for the same tokens."""
        if not self.is_initialized:
            return 0
        B, H, _, D = self.keys.shape
        return 2 * B * H * self.seen * D * self.keys.element_size()

    def _map_batch(self, fn) -> None:
        if self.is_initialized:
            for name in ("keys", "values", "window_keys", "window_values"):
                setattr(self, name, fn(getattr(self, name)))
            for m in self.middle:
                m.map(fn)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._map_batch(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map_batch(lambda t: t.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._map_batch(lambda t: t[indices])

    def reset(self) -> None:
        self.keys = self.values = None
        self.is_initialized, self.seen = False, 0


def expected_nbytes(plan: FourierPlan, options: FourierOptions, length: int, dtype: torch.dtype,
                    batch: int = 1) -> int:  # fmt: skip
    """Bytes a :class:`FourierCache` holds after ``length`` tokens per row (no padding), keys
    and values in ``dtype``: what :meth:`FourierCache.nbytes` will report."""
    exact_size, coef_size = torch.finfo(dtype).bits // 8, torch.finfo(options.coefficient_dtype).bits // 8
    middle = max(0, length - options.sinks - options.window) if length > options.compress_above else 0
    total = 0
    for keys, values in zip(plan.keys, plan.values, strict=True):
        heads, kept = len(keys), sum(len(h) for h in keys) + sum(len(h) for h in values)
        compressed = 2 * heads * plan.head_dim - kept
        total += 2 * heads * (length - middle) * plan.head_dim * exact_size + middle * kept * exact_size
        if middle:
            affine = 2 * 4 if options.affine else 0  # scale and shift, fp32
            total += compressed * (2 * options.frequencies * coef_size + affine)
    return batch * total


def left_padding(attention_mask: torch.Tensor | None) -> int:
    """The longest left padding of a batch's attention mask (B, L); 0 without a mask. Raises
    for anything but left padding, which the exact prefix could not cover."""
    if attention_mask is None:
        return 0
    mask = attention_mask.bool()
    if (mask[:, 1:] < mask[:, :-1]).any():
        raise ValueError(
            "attention_mask: FourierCache needs left padding (a row's padding all before its tokens); "
            "set tokenizer.padding_side = 'left'"
        )
    return int((~mask).sum(-1).max())


class FourierCache(Cache):
    """A transformers cache storing each layer as prefix + compressed middle + window.

    ``plan``: exact channels per layer and KV head (:class:`~videorope.cache.FourierPlan`);
    ``options``: a :class:`FourierOptions`, or its fields as keywords (``max_length`` required);
    ``attention_mask``: the prompts' mask (B, L) when the batch is left-padded, so each row's
    sinks stay exact; ``model``: when given, each one-token decoding step reads the cache as
    stored, through the Triton kernel (``kernel="auto"``: on CUDA with Triton installed, else
    the PyTorch reference; ``"triton"`` or ``"torch"`` to choose); see
    :mod:`videorope.cache.attention`. Without it the model's own attention reads the
    rebuilt keys and values. Use it like any cache::

        cache = FourierCache(plan, max_length=8192, attention_mask=batch["attention_mask"], model=model)
        model.generate(**batch, past_key_values=cache, max_new_tokens=32)
    """

    def __init__(self, plan: FourierPlan, options: FourierOptions | None = None, *,
                 attention_mask: torch.Tensor | None = None, model: torch.nn.Module | None = None,
                 kernel: str = "auto", **settings):  # fmt: skip
        if options is not None and settings:
            raise ValueError(f"pass FourierOptions or its fields as keywords, not both (got {sorted(settings)})")
        self.options = options or FourierOptions(**settings)
        check_kernel(kernel)
        if model is not None:
            from videorope.cache.attention import install  # imports transformers' modeling: only when asked

            install(model)
        elif kernel != "auto":
            raise ValueError(f"kernel={kernel!r} needs model=: the kernel runs in the model's attention")
        prefix = self.options.sinks + left_padding(attention_mask)
        reader = kernel if model is not None else None
        layers = [FourierLayer(plan.kept(i, "keys"), plan.kept(i, "values"), self.options, prefix, reader)
                  for i in range(plan.num_layers)]  # fmt: skip
        super().__init__(layers=layers)
        self.plan = plan

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        if layer_idx >= len(self.layers):
            raise ValueError(
                f"the channel plan covers {len(self.layers)} layers but the model has more (layer {layer_idx}); "
                "calibrate a plan on this model"
            )
        return super().update(key_states, value_states, layer_idx, *args, **kwargs)

    def breakdown(self) -> dict[str, int]:
        """Bytes by part, summed over layers, plus ``full``: what a full cache would hold."""
        total: dict[str, int] = {}
        for layer in self.layers:
            for part, n in layer.nbytes().items():
                total[part] = total.get(part, 0) + n
        return {**total, "full": sum(layer.full_nbytes() for layer in self.layers)}

    def nbytes(self) -> int:
        """Bytes the cache holds (every part of every layer)."""
        return sum(sum(layer.nbytes().values()) for layer in self.layers)
