"""What every model integration shares: the positional choice and the rotary module.

Integrations only wire :mod:`videorope.rope` into models; the math lives there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from videorope.kernels.dispatch import check_kernel, wants_kernel
from videorope.registry import Registry
from videorope.rope import (
    ALLOCATIONS,
    LAYOUTS,
    SCALINGS,
    Angles,
    RopeSpec,
    RotaryTable,
    cos_sin,
    is_dynamic,
    positions,
    read_rope,
    rotary_table,
    text_step,
)

__all__ = [
    "CONFIG_KEY",
    "FAMILIES",
    "PositionalChoice",
    "RotaryEmbedding",
    "configured_scaling",
    "rope_spec",
    "hold",
    "swap",
    "unpatch",
    "use_kernel",
]

CONFIG_KEY = "videorope"
"""Attribute of ``model.config`` where the choice is recorded (saved in config.json)."""


UNDO = "_videorope_undo"
"""Attribute of a patched model: what :func:`unpatch` restores, in the order it was changed:
``("set", owner, name, old)``, ``("del", owner, name)`` or ``("release", kind, key)``."""

RELEASES: dict[str, Callable[[str], None]] = {}
"""Process-wide wrappers that patched models hold (:func:`hold`), by kind: the function that
restores what was wrapped, called when the last holder lets go."""

_HOLDERS: dict[tuple[str, str], int] = {}
"""How many models hold each (kind, key) wrapper."""


def _undo_list(model: nn.Module) -> list[tuple]:
    return vars(model).setdefault(UNDO, [])


def swap(model: nn.Module, owner: Any, name: str, value: Any) -> None:
    """``owner.name = value``, recorded on ``model`` so that :func:`unpatch` restores it (an
    attribute ``owner`` only inherited from its class is deleted again)."""
    own = name in vars(owner) or name in getattr(owner, "_modules", {})
    _undo_list(model).append(("set", owner, name, getattr(owner, name)) if own else ("del", owner, name))
    setattr(owner, name, value)


def hold(model: nn.Module, kind: str, key: str) -> None:
    """Record that ``model`` holds the process-wide wrapper ``key`` of ``kind`` (a modeling
    file's rotary dispatch, an attention implementation's Fourier dispatch), so that
    :func:`unpatch` lets it go; the last holder's release calls ``RELEASES[kind](key)``."""
    _HOLDERS[kind, key] = _HOLDERS.get((kind, key), 0) + 1
    _undo_list(model).append(("release", kind, key))


def _let_go(kind: str, key: str) -> None:
    _HOLDERS[kind, key] = max(0, _HOLDERS.get((kind, key), 0) - 1)
    if not _HOLDERS[kind, key]:
        RELEASES[kind](key)


def unpatch(model: nn.Module, releases: Collection[str] | None = None) -> None:
    """Undo the changes :func:`swap` and :func:`hold` recorded on ``model``, newest first:
    every attribute, and the held wrappers of the kinds in ``releases`` (None: all); the
    holds of other kinds stay recorded."""
    kept = []
    for entry in reversed(vars(model).pop(UNDO, [])):
        kind, *what = entry
        if kind == "set":
            setattr(what[0], what[1], what[2])
        elif kind == "del":
            delattr(what[0], what[1])
        elif releases is None or what[0] in releases:
            _let_go(*what)
        else:
            kept.append(entry)
    if kept:
        vars(model)[UNDO] = kept[::-1]


FAMILIES = Registry("model family")
"""Keyed by ``config.model_type``. Each entry's ``fn(model, choice)`` patches a loaded model in
place; its meta gives ``model_class`` (the transformers class that loads it), ``multimodal``
and ``defaults(config, allocation) -> dict`` (options taken from the model's own config)."""


@dataclass(frozen=True)
class PositionalChoice:
    """A layout, an allocation and a scaling, each with its resolved options."""

    layout: str | None
    allocation: str
    scaling: str
    layout_options: dict[str, Any] = field(default_factory=dict)
    allocation_options: dict[str, Any] = field(default_factory=dict)
    scaling_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        layout: str | None,
        allocation: str,
        scaling: str,
        options: Mapping[str, Any],
        defaults: Mapping[str, Any] | None = None,
    ) -> PositionalChoice:
        """Route each option to the one variant that declares it, then validate.

        Option names are disjoint across layouts, allocations and scalings, so users pass
        them flat: ``apply(model, layout="videorope", temporal_spacing=3, scaling="yarn-v", factor=4)``.
        ``defaults`` fill options the user did not give (e.g. the model's own mrope_section),
        but only where the chosen variant declares them.
        """
        parts = [(LAYOUTS, layout), (ALLOCATIONS, allocation), (SCALINGS, scaling)]
        routed: list[dict[str, Any]] = [{}, {}, {}]
        for key, value in options.items():
            owners = [i for i, (reg, name) in enumerate(parts) if name is not None and key in reg[name].options]
            if not owners:
                valid = sorted({k for reg, name in parts if name is not None for k in reg[name].options})
                chosen = ", ".join(f"{reg.kind} {name!r}" for reg, name in parts if name is not None)
                raise ValueError(f"option {key!r} is not used by {chosen}; valid options: {', '.join(valid) or 'none'}")
            routed[owners[0]][key] = value
        for key, value in (defaults or {}).items():
            for i, (reg, name) in enumerate(parts):
                if name is not None and key in reg[name].options and key not in routed[i]:
                    routed[i][key] = value
        resolved = [
            reg.resolve(name, opts) if name is not None else {} for (reg, name), opts in zip(parts, routed, strict=True)
        ]
        if layout is not None:  # layouts check their option values when they run: fail now, not at prefill
            positions(layout, [("video", 2, 2, 2)], **resolved[0])
        return cls(layout, allocation, scaling, *resolved)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def options(self) -> dict[str, Any]:
        """All options, flat, as ``apply`` takes them."""
        return {**self.layout_options, **self.allocation_options, **self.scaling_options}


def rope_spec(text_config: Any) -> RopeSpec:
    """Rotary dims, base and training length of a HF text config (read by :func:`read_rope`)."""
    return read_rope(text_config).spec


_HF_SCALINGS: dict[str, tuple[str, dict[str, str]]] = {
    "default": ("none", {}),
    "mrope": ("none", {}),
    "linear": ("linear", {"factor": "factor"}),
    "dynamic": ("dynamic", {"factor": "factor"}),
    "yarn": (
        "yarn",
        {
            "factor": "factor",
            "beta_fast": "beta_fast",
            "beta_slow": "beta_slow",
            "original_max_position_embeddings": "original_length",
        },
    ),
    "llama3": (
        "llama3",
        {
            "factor": "factor",
            "low_freq_factor": "low_freq_factor",
            "high_freq_factor": "high_freq_factor",
            "original_max_position_embeddings": "original_length",
        },
    ),
}


def configured_scaling(text_config: Any) -> tuple[str, dict[str, Any]]:
    """The model's own scaling (``rope_parameters['rope_type']``) as a registered scaling."""
    rope = read_rope(text_config)
    params, rope_type = rope.parameters, rope.rope_type
    if rope_type not in _HF_SCALINGS:
        raise ValueError(
            f"the model is configured with rope_type {rope_type!r}, which videorope does not reproduce; "
            f"pass scaling= one of {', '.join(SCALINGS.names())} to replace it"
        )
    name, keys = _HF_SCALINGS[rope_type]
    return name, {ours: params[hf] for hf, ours in keys.items() if params.get(hf) is not None}


class RotaryEmbedding(nn.Module):
    """Drop-in for HF rotary modules: ``forward(x, position_ids) -> (cos, sin)``.

    ``position_ids`` is (3, B, L) (t, h, w; may be fractional) or (B, L) for 1D models;
    cos/sin are (B, L, rotary_dim) in ``x.dtype``, computed in fp32. When ``kernel`` picks
    the Triton rotary (:mod:`videorope.kernels.rotary`) it returns the positions and the
    table instead, and no cos/sin is built.
    """

    kernel = "auto"

    def __init__(self, rope: RopeSpec, choice: PositionalChoice):
        super().__init__()
        self.rope, self.choice = rope, choice
        # A layout whose text advances by k per token (tad: 2) is handed positions divided by k,
        # so transformers' decoding rule (cache index + delta) holds; the frequencies are
        # multiplied by k, which gives the same angles bit for bit (k is a power of 2).
        self.step = text_step(choice.layout) if choice.layout else 1
        self.dynamic = is_dynamic(choice.scaling)
        table = self._table(None)
        self.register_buffer("axis", table.axis, persistent=False)
        self.register_buffer("inv_freq", table.inv_freq, persistent=False)
        self.attention_factor = table.attention_factor

    def _table(self, seq_len: int | None) -> RotaryTable:
        c = self.choice
        table = rotary_table(self.rope, c.allocation, c.scaling, c.allocation_options, c.scaling_options, seq_len)
        return table if self.step == 1 else replace(table, inv_freq=table.inv_freq * self.step)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        table = RotaryTable(self.axis, self.inv_freq, self.attention_factor)
        if self.dynamic:
            seq_len = int(position_ids.max() * self.step) + 1
            if seq_len > self.rope.train_length:
                table = self._table(seq_len)
        if wants_kernel(self.kernel, x):
            angles = Angles(position_ids, table)
            return angles, angles
        cos, sin = cos_sin(position_ids, table)
        return cos.to(x.dtype), sin.to(x.dtype)

    def extra_repr(self) -> str:
        c = self.choice
        return f"rotary_dim={self.rope.head_dim}, base={self.rope.base}, allocation={c.allocation}, scaling={c.scaling}"


def _dispatching(original: Any) -> Any:
    def apply_rotary_pos_emb(q, k, cos, sin, *args, **kwargs):
        if isinstance(cos, Angles):
            from videorope.kernels.rotary import rotary

            head_axis = kwargs.get("unsqueeze_dim", args[0] if args else 1)
            return rotary(q, k, cos.positions, cos.table, head_axis=head_axis)
        return original(q, k, cos, sin, *args, **kwargs)

    apply_rotary_pos_emb.videorope_original = original
    return apply_rotary_pos_emb


def _release(file_name: str) -> None:
    """Restore the modeling file's own ``apply_rotary_pos_emb`` (no model holds the dispatch)."""
    file = sys.modules[file_name]
    if hasattr(file.apply_rotary_pos_emb, "videorope_original"):
        file.apply_rotary_pos_emb = file.apply_rotary_pos_emb.videorope_original


def use_kernel(model: nn.Module, kernel: str) -> None:
    """Set every videorope rotary module of ``model`` to ``kernel`` and let the attention of
    its modeling files take :class:`Angles`: their global ``apply_rotary_pos_emb`` is wrapped
    by a dispatcher (process-wide, which passes anything else to the original) until the last
    model using it is unpatched."""
    files = set()
    for module in model.modules():
        if isinstance(module, RotaryEmbedding):
            module.kernel = check_kernel(kernel)
        if hasattr(module, "o_proj") and hasattr(module, "layer_idx"):
            files.add(type(module).__module__)
    for name in sorted(files):
        file = sys.modules[name]
        current = getattr(file, "apply_rotary_pos_emb", None)
        if current is None:
            continue
        if not hasattr(current, "videorope_original"):
            file.apply_rotary_pos_emb = _dispatching(current)
        hold(model, "rotary-kernel", name)


RELEASES["rotary-kernel"] = _release
