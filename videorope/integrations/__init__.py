"""Drop-in positional encodings for loaded transformers models.

``apply(model, ...)`` patches a model in place and records the choice in ``model.config``;
``unapply(model)`` restores the stock model (``with applied(model, ...):`` does both);
``from_pretrained(path)`` loads a saved model and re-applies the recorded choice. A recorded
choice is what ``apply`` keeps where an argument is left out.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import transformers
from torch import nn

from videorope.integrations import qwen_vl, text  # noqa: F401  (register the families)
from videorope.integrations.base import (
    CONFIG_KEY,
    FAMILIES,
    PositionalChoice,
    configured_scaling,
    swap,
    unpatch,
    use_kernel,
)
from videorope.kernels.dispatch import check_kernel
from videorope.rope import ALLOCATIONS, LAYOUTS, SCALINGS

__all__ = ["FAMILIES", "applied", "apply", "from_pretrained", "positional_choice", "unapply"]


def _family(config: Any):
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(f"videorope cannot patch model_type {model_type!r}; supported: {', '.join(FAMILIES.names())}")
    return FAMILIES[model_type]


def positional_choice(
    config: Any,
    layout: str | None = None,
    allocation: str | None = None,
    scaling: str | None = None,
    **options: Any,
) -> PositionalChoice:
    """Validate a choice for a model config, filling what the user left out.

    Multimodal models default to the ``videorope`` layout and the layout's own allocation;
    text models take only a scaling. ``scaling=None`` keeps the model's configured scaling.
    The model's mrope sections and tokens per second fill the options that use them.
    """
    family = _family(config)
    text_config = config.get_text_config()
    if family.meta["multimodal"]:
        layout = layout or "videorope"
        allocation = allocation or LAYOUTS[layout].meta["default_allocation"]
    elif layout is not None or allocation not in (None, "vanilla"):
        raise ValueError(
            f"{config.model_type} is a text model with 1D positions: pass only scaling= (and its options), "
            "not layout= or allocation="
        )
    else:
        allocation = "vanilla"
    defaults = family.meta["defaults"](config, allocation)
    if scaling is None:
        scaling, own = configured_scaling(text_config)
        defaults = {**defaults, **own}
    return PositionalChoice.build(layout, allocation, scaling, options, defaults)


_APPLIED = "_videorope_applied"
"""Attribute of a patched model: the (choice, kernel) it is patched with, so the same choice
is applied once."""


def _with_record(
    recorded: dict[str, Any], layout: str | None, allocation: str | None, scaling: str | None, options: dict[str, Any]
) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    """The arguments of ``apply`` with the recorded choice filling what was left out: its
    layout, scaling and options, and its allocation unless another layout was asked (which
    then takes its own default); recorded options the new variants do not use are dropped.
    Warns when an argument changes the record."""
    record = dict(recorded)
    kept = {"layout": record.pop("layout", None), "allocation": record.pop("allocation", None),
            "scaling": record.pop("scaling", None)}  # fmt: skip
    asked, current = {"layout": layout, "allocation": allocation, "scaling": scaling, **options}, {**kept, **record}
    changed = {k: v for k, v in asked.items() if v is not None and (k not in current or current[k] != v)}
    if changed:
        warnings.warn(
            f"the model records the positional choice {recorded}; apply() replaces {changed} (leave an argument "
            "out to keep what the model records)",
            stacklevel=3,
        )
    layout = layout or kept["layout"]
    if allocation is None and layout == kept["layout"]:
        allocation = kept["allocation"]
    scaling = scaling or kept["scaling"]
    parts = [(LAYOUTS, layout), (ALLOCATIONS, allocation), (SCALINGS, scaling)]
    used = {k for reg, name in parts if name is not None and name in reg for k in reg[name].options}
    return layout, allocation, scaling, {**{k: v for k, v in record.items() if k in used}, **options}


def apply(
    model: nn.Module,
    layout: str | None = None,
    allocation: str | None = None,
    temporal_spacing: float | None = None,
    scaling: str | None = None,
    kernel: str = "auto",
    **options: Any,
) -> nn.Module:
    """Patch ``model`` in place with a layout, an allocation and a scaling; returns it.

    Options of the chosen variants are passed flat, e.g.
    ``apply(model, layout="videorope", temporal_spacing=2.0, scaling="yarn-v", factor=4)``.
    The choice is stored in ``model.config.videorope`` so ``save_pretrained`` keeps it, and
    a recorded choice (a checkpoint of ``finetune`` or ``save_pretrained``) fills every
    argument left out: ``apply(model)`` keeps it, ``apply(model, scaling="yarn")`` changes the
    scaling alone and warns that it replaces the record. A model already patched with the
    same choice is returned as it is.
    ``kernel``: ``auto`` rotates q and k with the Triton kernel on a GPU and with PyTorch
    otherwise; ``triton`` insists (and says why it cannot run); ``torch`` never uses it.
    """
    check_kernel(kernel)
    if temporal_spacing is not None:
        options["temporal_spacing"] = temporal_spacing
    recorded = getattr(model.config, CONFIG_KEY, None)
    if recorded:
        layout, allocation, scaling, options = _with_record(recorded, layout, allocation, scaling, options)
    choice = positional_choice(model.config, layout, allocation, scaling, **options)
    if getattr(model, _APPLIED, None) == (choice, kernel):
        return model
    unpatch(model, releases=("rotary-kernel",))  # patched again from stock; caches built on it keep their hold
    FAMILIES[model.config.model_type].fn(model, choice)
    use_kernel(model, kernel)
    record = {"layout": choice.layout, "allocation": choice.allocation, "scaling": choice.scaling, **choice.options}
    swap(model, model.config, CONFIG_KEY, record)
    swap(model, model, _APPLIED, (choice, kernel))
    return model


def unapply(model: nn.Module) -> nn.Module:
    """Restore what :func:`apply` changed on ``model`` (its rotary modules, position rule,
    kernel dispatch and ``config.videorope`` as they were before); returns it. A model that
    was never patched is returned as it is."""
    unpatch(model)
    return model


@contextmanager
def applied(model: nn.Module, *args: Any, **kwargs: Any) -> Iterator[nn.Module]:
    """``with applied(model, layout="videorope"):`` the model patched inside the block only
    (arguments as :func:`apply`); after it, the model's positions are as before the block
    (stock, or the choice it had). Caches built on the model keep their hold on it."""
    before = getattr(model, _APPLIED, None)
    try:
        yield apply(model, *args, **kwargs)
    finally:
        unpatch(model, releases=("rotary-kernel",))  # the positional patch; caches keep their hold
        if before is not None:
            choice, kernel = before
            apply(model, choice.layout, choice.allocation, scaling=choice.scaling, kernel=kernel, **choice.options)


def from_pretrained(path: str, **kwargs: Any) -> nn.Module:
    """Load a model saved by transformers and re-apply the videorope choice in its config."""
    config = transformers.AutoConfig.from_pretrained(path)
    cls = getattr(transformers, _family(config).meta["model_class"])
    model = cls.from_pretrained(path, **kwargs)
    recorded = getattr(model.config, CONFIG_KEY, None)
    return apply(model, **recorded) if recorded else model
