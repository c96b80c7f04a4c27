"""Calibration: which channels to keep exact, measured on the model's own cache.

A few long prompts go through the model with a full cache. Each channel of each layer's
keys and values over the middle segment (after the sinks, before the window) is stored as
the FourierCache would store it (truncated DFT, and the affine correction if set) and read back; its
mean squared error ranks the channels, and a ratio schedule says how many to keep per layer
(:meth:`FourierPlan.from_errors`). :func:`kept_vs_critical` then asks where the kept K
channels sit relative to the critical dimension (the paper finds them in the low-frequency
pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache

from videorope.cache.dft import affine_fit, reconstruct, truncated_dft
from videorope.cache.fourier import FourierOptions
from videorope.cache.plan import FourierPlan, pair_counts

__all__ = ["calibrate", "channel_errors", "kept_vs_critical"]


def _middle_errors(x: torch.Tensor, options: FourierOptions) -> torch.Tensor:
    """MSE per channel of x (Hkv, L, D) over its middle segment, stored and read back: (Hkv, D)."""
    middle = x[:, options.sinks : x.shape[1] - options.window].float()
    c_cos, c_sin = truncated_dft(middle, options.frequencies, options.period)
    approx = reconstruct(c_cos.to(options.coefficient_dtype), c_sin.to(options.coefficient_dtype),
                         middle.shape[1], options.period)  # fmt: skip
    if options.affine:
        scale, shift = affine_fit(middle, approx)
        approx = scale * approx + shift
    return (approx - middle).pow(2).mean(1)


@torch.no_grad()
def channel_errors(
    model: Any, prompts: Sequence[torch.Tensor], options: FourierOptions, progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean reconstruction error of every K and V channel over ``prompts`` (each (L,) token
    ids, ``sinks + window < L <= max_length``): two (layers, Hkv, head_dim) tensors."""
    device = next(model.parameters()).device
    totals = None
    for ids in tqdm(prompts, desc="calibrate", disable=not progress):
        if not options.sinks + options.window < len(ids) <= options.max_length:
            raise ValueError(
                f"a calibration prompt has {len(ids)} tokens; it needs more than sinks + window "
                f"({options.sinks + options.window}) and at most max_length ({options.max_length})"
            )
        cache = DynamicCache()
        model.base_model(input_ids=ids[None].to(device), past_key_values=cache, use_cache=True)
        errors = [torch.stack([_middle_errors(layer.keys[0], options), _middle_errors(layer.values[0], options)])
                  for layer in cache.layers]  # fmt: skip
        step = torch.stack(errors).cpu()  # (layers, 2, Hkv, D)
        totals = step if totals is None else totals + step
    totals /= len(prompts)
    return totals[:, 0], totals[:, 1]


def calibrate(
    model: Any, prompts: Sequence[torch.Tensor], options: FourierOptions, spec: str = "inverted-pyramid",
    progress: bool = True,
) -> FourierPlan:  # fmt: skip
    """A channel plan for ``model``: per layer and KV head, the channels with the largest
    reconstruction error kept exact, as many as schedule ``spec`` says."""
    key_errors, value_errors = channel_errors(model, prompts, options, progress)
    meta = {"frequencies": options.frequencies, "sinks": options.sinks, "window": options.window,
            "max_length": options.max_length, "prompts": [len(p) for p in prompts]}  # fmt: skip
    return FourierPlan.from_errors(key_errors, value_errors, spec, **meta)


def kept_vs_critical(plan: FourierPlan, critical_dim: int) -> dict[str, Any]:
    """Where the kept K channels fall: kept channels per rotary pair (index 0 = highest
    frequency), and the share in the low-frequency pairs (index >= critical_dim / 2) against
    the share those pairs would get by chance."""
    counts = pair_counts(plan.keys, plan.head_dim)
    low = critical_dim // 2
    return {"critical_dim": critical_dim, "kept_per_pair": counts.tolist(),
            "kept_low_frequency_share": counts[low:].sum().item() / max(counts.sum().item(), 1),
            "chance_share": (len(counts) - low) / len(counts)}  # fmt: skip
