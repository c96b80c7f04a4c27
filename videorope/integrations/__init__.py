"""Drop-in positional encodings for loaded transformers models.

``apply(model, ...)`` patches a model in place and records the choice in ``model.config``;
``from_pretrained(path)`` loads a saved model and re-applies the recorded choice.
"""

from __future__ import annotations

from typing import Any

import transformers
from torch import nn

from videorope.integrations import qwen_vl, text  # noqa: F401  (register the families)
from videorope.integrations.base import CONFIG_KEY, FAMILIES, PositionalChoice, configured_scaling
from videorope.integrations.kernel import check_kernel, use_kernel
from videorope.rope import LAYOUTS

__all__ = ["FAMILIES", "apply", "from_pretrained", "positional_choice"]


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
    The choice is stored in ``model.config.videorope`` so ``save_pretrained`` keeps it.
    ``kernel``: ``auto`` rotates q and k with the Triton kernel on a GPU and with PyTorch
    otherwise; ``triton`` insists (and says why it cannot run); ``torch`` never uses it.
    """
    check_kernel(kernel)
    if temporal_spacing is not None:
        options["temporal_spacing"] = temporal_spacing
    choice = positional_choice(model.config, layout, allocation, scaling, **options)
    FAMILIES[model.config.model_type].fn(model, choice)
    use_kernel(model, kernel)
    setattr(
        model.config,
        CONFIG_KEY,
        {"layout": choice.layout, "allocation": choice.allocation, "scaling": choice.scaling, **choice.options},
    )
    return model


def from_pretrained(path: str, **kwargs: Any) -> nn.Module:
    """Load a model saved by transformers and re-apply the videorope choice in its config."""
    config = transformers.AutoConfig.from_pretrained(path)
    cls = getattr(transformers, _family(config).meta["model_class"])
    model = cls.from_pretrained(path, **kwargs)
    recorded = getattr(model.config, CONFIG_KEY, None)
    return apply(model, **recorded) if recorded else model
