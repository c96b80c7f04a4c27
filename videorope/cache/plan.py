"""Which cache channels stay exact: ratio schedules and per-head channel plans.

A :class:`FourierPlan` lists, for every layer and KV head, the K and the V channels kept
exact ("critical"); the others are stored as Fourier coefficients. A schedule says what
fraction of each layer's channels to compress; calibration ranks the channels (largest
reconstruction error kept) and :meth:`FourierPlan.from_errors` applies the schedule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from videorope.io import write_json
from videorope.registry import Registry

__all__ = ["RANKS", "SCHEDULES", "FourierPlan", "kv_shape", "pair_counts", "schedule"]

SCHEDULES = Registry("compression schedule")
"""Entries map ``num_layers`` (and options) to per-layer compressed fractions ``(keys, values)``."""


@SCHEDULES.register(
    "inverted-pyramid",
    paper="FourierAttention (Liu et al., 2025)",
    summary="compress the bottom layers most: K 90/80/50%, V 95/80/70% (bottom 1/7, middle, top 2/7)",
)
def inverted_pyramid(num_layers: int) -> tuple[list[float], list[float]]:
    """The paper's Llama-3.2-3B schedule (layers 0-3, 4-19, 20-27 of 28), scaled to any depth."""
    bottom, top = round(num_layers * 4 / 28), round(num_layers * 8 / 28)
    band = lambda a, b, c: [a] * bottom + [b] * (num_layers - bottom - top) + [c] * top  # noqa: E731
    return band(0.9, 0.8, 0.5), band(0.95, 0.8, 0.7)


@SCHEDULES.register(
    "uniform",
    paper="-",
    summary="the same compressed fraction of K and V channels in every layer",
    options={"ratio": 0.8},
)
def uniform(num_layers: int, ratio: float) -> tuple[list[float], list[float]]:
    return [ratio] * num_layers, [ratio] * num_layers


def schedule(spec: str, num_layers: int) -> tuple[list[float], list[float]]:
    """Per-layer compressed fractions of K and V for ``spec``: a name, or ``name:value`` for
    a schedule with one option (``uniform:0.9``)."""
    name, _, arg = spec.partition(":")
    entry = SCHEDULES[name]
    if arg and len(entry.options) != 1:
        raise ValueError(f"schedule {name!r} takes no value; write {name!r} alone")
    options = {next(iter(entry.options)): float(arg)} if arg else {}
    keys, values = entry.fn(num_layers, **SCHEDULES.resolve(name, options))
    for r in keys + values:
        if not 0 <= r <= 1:
            raise ValueError(f"schedule {spec!r} asks to compress {r} of the channels; use a fraction in [0, 1]")
    return keys, values


def kv_shape(config: Any) -> tuple[int, int, int]:
    """(layers, KV heads, head dim) of a model's cache, from its (text) config."""
    c = config.get_text_config()
    heads = c.num_attention_heads
    return (
        c.num_hidden_layers,
        getattr(c, "num_key_value_heads", None) or heads,
        getattr(c, "head_dim", None) or c.hidden_size // heads,
    )


Kept = tuple[tuple[tuple[int, ...], ...], ...]
"""kept[layer][head]: sorted channel indices."""


def _rank_layer(errors: torch.Tensor, ratio: float) -> tuple[tuple[int, ...], ...]:
    """errors (Hkv, D): the original's ranking. The ``int(ratio * Hkv * D)`` channels of the
    whole layer with the smallest errors are compressed (a stable ascending sort, as its
    ``argsort``), the rest kept."""
    heads, head_dim = errors.shape
    compressed = torch.argsort(errors.flatten(), stable=True)[: int(ratio * heads * head_dim)]
    kept = torch.ones(heads * head_dim, dtype=torch.bool)
    kept[compressed] = False
    return tuple(tuple(torch.nonzero(row).flatten().tolist()) for row in kept.view(heads, head_dim))


def _rank_head(errors: torch.Tensor, ratio: float) -> tuple[tuple[int, ...], ...]:
    """errors (Hkv, D): each head keeps its ``D - round(ratio * D)`` largest errors."""
    count = errors.shape[-1] - round(ratio * errors.shape[-1])
    return tuple(tuple(e.topk(count).indices.tolist()) for e in errors)


RANKS = {"layer": _rank_layer, "head": _rank_head}
"""How calibration errors become kept channels: across a layer's heads, or per head."""


def _check(kept: Kept, head_dim: int, what: str) -> Kept:
    kept = tuple(tuple(tuple(sorted(int(c) for c in head)) for head in layer) for layer in kept)
    for i, layer in enumerate(kept):
        for head in layer:
            if len(set(head)) != len(head) or (head and not 0 <= head[0] <= head[-1] < head_dim):
                raise ValueError(
                    f"{what} of layer {i}: channels {list(head)} must be distinct and within [0, {head_dim})"
                )
    return kept


@dataclass(frozen=True)
class FourierPlan:
    """Exact ("critical") channels per layer and KV head, for K and for V.

    ``keys[layer][head]`` and ``values[layer][head]`` are channel indices in ``[0, head_dim)``;
    heads may keep different numbers (a plan ranked across a layer's heads, as the original's
    calibration). ``meta`` records where the plan came from.
    """

    keys: Kept
    values: Kept
    head_dim: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.keys) != len(self.values):
            raise ValueError(f"the plan has {len(self.keys)} layers of keys but {len(self.values)} of values")
        object.__setattr__(self, "keys", _check(self.keys, self.head_dim, "keys"))
        object.__setattr__(self, "values", _check(self.values, self.head_dim, "values"))

    @property
    def num_layers(self) -> int:
        return len(self.keys)

    def kept(self, layer: int, kind: str) -> torch.Tensor:
        """Kept channels of ``layer`` for ``kind`` ('keys' or 'values'): (Hkv, C) long, C the
        widest head's count, narrower heads padded with -1."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"the plan covers {self.num_layers} layers; layer {layer} has none (re-calibrate)")
        heads = getattr(self, kind)[layer]
        width = max(len(h) for h in heads)
        return torch.tensor([list(h) + [-1] * (width - len(h)) for h in heads], dtype=torch.long).reshape(
            len(heads), -1
        )

    def compressed_fraction(self) -> float:
        """Share of all K and V channels (every layer and head) stored as coefficients."""
        kept = sum(len(h) for kind in (self.keys, self.values) for layer in kind for h in layer)
        total = sum(len(layer) for kind in (self.keys, self.values) for layer in kind) * self.head_dim
        return 1 - kept / total

    @classmethod
    def from_errors(cls, key_errors: torch.Tensor, value_errors: torch.Tensor, spec: str = "inverted-pyramid",
                    rank: str = "layer", **meta: Any) -> FourierPlan:  # fmt: skip
        """Keep the channels with the largest reconstruction error; how many comes from schedule
        ``spec``. ``rank='layer'`` (the original's ``compressed_dims_search``): the channels of
        all KV heads of a layer ranked together, ``int(ratio * heads * head_dim)`` of the
        smallest errors compressed, so heads keep different counts; ``rank='head'``
        (videorope's variant): each head keeps ``head_dim - round(ratio * head_dim)``.
        Errors (layers, Hkv, head_dim)."""
        if rank not in RANKS:
            raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
        ratios = schedule(spec, key_errors.shape[0])
        picks = [tuple(RANKS[rank](layer, r) for layer, r in zip(errors, fractions, strict=True))
                 for errors, fractions in zip((key_errors, value_errors), ratios, strict=True)]  # fmt: skip
        return cls(picks[0], picks[1], key_errors.shape[-1], {"schedule": spec, "rank": rank, **meta})

    @classmethod
    def full(cls, config: Any) -> FourierPlan:
        """Every channel of a model (its config) exact: the cache then equals the full cache."""
        num_layers, num_kv_heads, head_dim = kv_shape(config)
        every = ((tuple(range(head_dim)),) * num_kv_heads,) * num_layers
        return cls(every, every, head_dim, {"schedule": "none"})

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json(path, {"head_dim": self.head_dim, "meta": self.meta, "keys": self.keys, "values": self.values})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FourierPlan:
        try:
            data = json.loads(open(path).read())
            return cls(data["keys"], data["values"], data["head_dim"], data.get("meta", {}))
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a channel plan ({e}); write one with `videorope fourier calibrate`") from e


def pair_counts(kept: Sequence[Sequence[Sequence[int]]], head_dim: int) -> torch.Tensor:
    """How many kept channels fall in each rotary pair (rotate-half layout: channels i and
    i + d/2 form pair i), summed over layers and heads: (head_dim // 2,)."""
    half = head_dim // 2
    counts = torch.zeros(half, dtype=torch.long)
    for layer in kept:
        for head in layer:
            counts += torch.bincount(torch.tensor(head, dtype=torch.long) % half, minlength=half)
    return counts
