"""Calibration: which channels to keep exact, measured on the model's own keys and values.

A few long prompts go through the model. Each channel of each layer's keys and values over
the middle segment (after the sinks, before the window) is stored as truncated-DFT bins and
read back; its mean squared error ranks the channels, and a ratio schedule says how many to
keep per layer (:meth:`FourierPlan.from_errors`). Two recipes (:data:`CALIBRATIONS`):

- ``original``: the released code's ``compressed_dims_search`` (``ShirleYoung/FourierAttention``,
  ``compressed_dims_search/compressed_dim_search.py``): keys and values are the ``k_proj`` /
  ``v_proj`` outputs (keys BEFORE RoPE, computed as ``x @ W.T``, no bias), the window is 1024
  tokens, the period is each prompt's own middle length, the error is taken after the affine
  correction, and channels are ranked across all KV heads of a layer; its prompts are task
  prompts (the study uses NIAH prompts);
- ``videorope``: the keys the cache holds (after RoPE), the cache's window and planned
  period, no affine step, the same count per head, generic text.

:func:`kept_vs_critical` then asks where the kept K channels sit relative to the critical
dimension (the paper finds them in the low-frequency pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache

from videorope.cache.dft import affine_fit, reconstruct, truncated_dft
from videorope.cache.fourier import FourierOptions
from videorope.cache.plan import RANKS, FourierPlan, pair_counts

__all__ = ["CALIBRATIONS", "Calibration", "calibrate", "channel_errors", "kept_vs_critical"]


@dataclass(frozen=True)
class Calibration:
    """How channels are scored. ``source``: ``projection`` (k_proj/v_proj outputs, before
    RoPE) or ``cache`` (the cache's keys, after RoPE); ``period``: ``prompt`` (each prompt's
    middle) or ``planned`` (the cache options' period); ``window``: exact recent tokens (None:
    the cache's); ``affine``: score after the affine correction; ``rank``: ``layer`` or
    ``head`` (:data:`~videorope.cache.plan.RANKS`); ``prompts``: ``task`` or ``text``."""

    source: str = "projection"
    period: str = "prompt"
    window: int | None = 1024
    affine: bool = True
    rank: str = "layer"
    prompts: str = "task"

    def __post_init__(self) -> None:
        checks = (("source", self.source, _SOURCES), ("period", self.period, ("prompt", "planned")),
                  ("rank", self.rank, RANKS), ("prompts", self.prompts, ("task", "text")))  # fmt: skip
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"calibration {name} must be one of {', '.join(allowed)}, got {value!r}")


def _projection_states(model: Any, ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the k_proj and v_proj outputs of one prompt as ``x @ W.T`` (no bias, as the
    original's hook computes them): (L, Hkv * D) each."""
    names = {"k_proj": [], "v_proj": []}
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in names and isinstance(module, torch.nn.Linear):
            names[leaf].append(module)
    layers = model.config.get_text_config().num_hidden_layers
    if len(names["k_proj"]) != layers or len(names["v_proj"]) != layers:
        raise ValueError(f"found {len(names['k_proj'])} k_proj and {len(names['v_proj'])} v_proj modules for "
                         f"{layers} layers; calibrate this model with source='cache'")  # fmt: skip
    captured: dict[int, torch.Tensor] = {}
    hooks = [module.register_forward_hook(lambda m, x, y, i=i: captured.__setitem__(i, x[0][0] @ m.weight.T))
             for i, module in enumerate(names["k_proj"] + names["v_proj"])]  # fmt: skip
    try:
        model.base_model(input_ids=ids[None], use_cache=False)
    finally:
        for h in hooks:
            h.remove()
    return [(captured[i], captured[layers + i]) for i in range(layers)]


def _cache_states(model: Any, ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the keys (after RoPE) and values the cache holds: (L, Hkv * D) each."""
    cache = DynamicCache()
    model.base_model(input_ids=ids[None], past_key_values=cache, use_cache=True)
    flat = lambda t: t[0].transpose(0, 1).flatten(1)  # noqa: E731  (Hkv, L, D) -> (L, Hkv * D)
    return [(flat(layer.keys), flat(layer.values)) for layer in cache.layers]


_SOURCES = {"projection": _projection_states, "cache": _cache_states}


def _middle_errors(x: torch.Tensor, heads: int, sinks: int, window: int, options: FourierOptions, period: int,
                   affine: bool) -> torch.Tensor:  # fmt: skip
    """MSE per channel of x (L, Hkv * D) over its middle segment, stored and read back: (Hkv, D)."""
    middle = x[sinks : x.shape[0] - window].float()
    c_cos, c_sin = truncated_dft(middle, options.frequencies, period)
    dtype = options.coefficient_dtype
    approx = reconstruct(c_cos.to(dtype), c_sin.to(dtype), middle.shape[0], period)
    if affine:
        scale, shift = affine_fit(middle, approx)
        approx = scale * approx + shift
    return (approx - middle).pow(2).mean(0).view(heads, -1)


@torch.no_grad()
def channel_errors(
    model: Any, prompts: Sequence[torch.Tensor], options: FourierOptions, recipe: Calibration = Calibration(),
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Mean reconstruction error of every K and V channel over ``prompts`` (each (L,) token
    ids, longer than sinks + window + 2 * frequencies): two (layers, Hkv, head_dim) tensors.
    ``options`` gives the sinks, bins and (``period='planned'``) the period."""
    device = next(model.parameters()).device
    heads = model.config.get_text_config().num_key_value_heads
    window = options.window if recipe.window is None else recipe.window
    totals = None
    for ids in tqdm(prompts, desc="calibrate", disable=not progress):
        middle = len(ids) - options.sinks - window
        period = middle if recipe.period == "prompt" else options.for_prompt(len(ids)).period
        if not 2 * options.frequencies < middle <= period:
            raise ValueError(
                f"a calibration prompt has {len(ids)} tokens: its middle ({middle}, after {options.sinks} sinks and a "
                f"{window}-token window) must be longer than 2 x frequencies ({2 * options.frequencies}) and fit the "
                f"period ({period}); use longer prompts (or a longer planned length)"
            )
        states = _SOURCES[recipe.source](model, ids.to(device))
        step = torch.stack(
            [
                torch.stack(
                    [_middle_errors(x, heads, options.sinks, window, options, period, recipe.affine) for x in layer]
                )
                for layer in states
            ]
        ).cpu()  # fmt: skip  (layers, 2, Hkv, D)
        totals = step if totals is None else totals + step
    totals /= len(prompts)
    return totals[:, 0], totals[:, 1]


CALIBRATIONS = {
    "original": Calibration(),
    "videorope": Calibration(source="cache", period="planned", window=None, affine=False, rank="head", prompts="text"),
}
"""Calibration recipes by name: the released code's, and videorope's earlier one."""


def calibrate(
    model: Any, prompts: Sequence[torch.Tensor], options: FourierOptions, spec: str = "inverted-pyramid",
    recipe: Calibration | str = "original", progress: bool = True,
) -> FourierPlan:  # fmt: skip
    """A channel plan for ``model``: the channels with the largest reconstruction error kept
    exact, as many as schedule ``spec`` says, scored and ranked as ``recipe`` (a
    :class:`Calibration` or a name in :data:`CALIBRATIONS`) says."""
    recipe = CALIBRATIONS[recipe] if isinstance(recipe, str) else recipe
    key_errors, value_errors = channel_errors(model, prompts, options, recipe, progress)
    meta = {"frequencies": options.frequencies, "sinks": options.sinks, "window": options.window,
            "calibration": vars(recipe), "prompts": [len(p) for p in prompts]}  # fmt: skip
    return FourierPlan.from_errors(key_errors, value_errors, spec, recipe.rank, **meta)


def kept_vs_critical(plan: FourierPlan, critical_dim: int) -> dict[str, Any]:
    """Where the kept K channels fall: kept channels per rotary pair (index 0 = highest
    frequency), and the share in the low-frequency pairs (index >= critical_dim / 2) against
    the share those pairs would get by chance."""
    counts = pair_counts(plan.keys, plan.head_dim)
    low = critical_dim // 2
    return {"critical_dim": critical_dim, "kept_per_pair": counts.tolist(),
            "kept_low_frequency_share": counts[low:].sum().item() / max(counts.sum().item(), 1),
            "chance_share": (len(counts) - low) / len(counts)}  # fmt: skip
