"""An approximate prompt KV cache for LLaDA sampling.

LLaDA's attention is bidirectional, so the prompt's keys and values change whenever the
canvas does, and the exact sampler recomputes them at every step. :class:`PromptCache`
records them (per layer, after the rotary) on a full forward, then serves them to the next
``refresh - 1`` steps, which run the model on the generated part only: their prompt keys
are stale by up to ``refresh - 1`` steps. With a :class:`~videorope.cache.FourierPlan` the
recorded keys and values are stored as a :class:`~videorope.cache.FourierCache` layer
(sinks and window exact, the middle's non-critical channels as DFT bins), trading accuracy
for memory, and read back rebuilt.
"""

from __future__ import annotations

import torch

from videorope.cache.fourier import FourierLayer, FourierOptions
from videorope.cache.plan import FourierPlan

__all__ = ["PromptCache"]


class PromptCache:
    """The prompt's (first ``length`` positions') keys and values per layer, refreshed by a
    full forward every ``refresh`` steps; ``plan`` and ``options`` store them Fourier-compressed."""

    def __init__(self, length: int, refresh: int, plan: FourierPlan | None = None,
                 options: FourierOptions | None = None):  # fmt: skip
        if length < 1 or refresh < 1:
            raise ValueError(f"length ({length}) and refresh ({refresh}) must be >= 1")
        if (plan is None) != (options is None):
            raise ValueError("a Fourier-compressed prompt cache needs both plan= and options=")
        if options is not None and options.max_length < length:
            raise ValueError(f"options.max_length ({options.max_length}) is below the prompt length ({length})")
        self.length, self.refresh, self.plan, self.options = length, refresh, plan, options
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor] | FourierLayer] = {}
        self.since = 0  # steps since the last full forward

    def full_forward(self) -> bool:
        """Whether the coming forward must run on the whole canvas (and record)."""
        return not self.layers or self.since >= self.refresh

    def tick(self, full: bool) -> None:
        """One forward done (``full``: it recorded)."""
        self.since = 1 if full else self.since + 1

    def store(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """The prompt's keys and values of ``layer``: (B, Hkv, length, D)."""
        if self.plan is None:
            self.layers[layer] = (keys, values)
            return
        compressed = FourierLayer(self.plan.kept(layer, "keys"), self.plan.kept(layer, "values"), self.options,
                                  self.options.sinks)  # fmt: skip
        compressed.update(keys, values)
        self.layers[layer] = compressed

    def read(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The recorded keys and values of ``layer`` (rebuilt when compressed)."""
        stored = self.layers[layer]
        return stored.materialize() if isinstance(stored, FourierLayer) else stored

    def nbytes(self) -> int:
        """Bytes held over all layers."""
        return sum(sum(s.nbytes().values()) if isinstance(s, FourierLayer) else
                   sum(t.numel() * t.element_size() for t in s) for s in self.layers.values())  # fmt: skip
