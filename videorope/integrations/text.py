"""Text decoders (Llama, SmolLM, Qwen2, Qwen3, Mistral): any registered scaling.

Their positions are 1D, so only the scaling applies; ``model.rotary_emb`` becomes a
:class:`~videorope.integrations.base.RotaryEmbedding` with the ``vanilla`` allocation.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from videorope.integrations.base import FAMILIES, PositionalChoice, RotaryEmbedding, rope_spec, swap

__all__ = ["patch_text"]


def patch_text(model: nn.Module, choice: PositionalChoice) -> None:
    inner = model.model if hasattr(model, "model") else model
    old = inner.rotary_emb
    swap(model, inner, "rotary_emb", RotaryEmbedding(rope_spec(inner.config), choice).to(old.inv_freq.device))


def _no_defaults(config: Any, allocation: str) -> dict[str, Any]:
    return {}


for _model_type, _cls in (
    ("llama", "LlamaForCausalLM"),
    ("mistral", "MistralForCausalLM"),
    ("qwen2", "Qwen2ForCausalLM"),
    ("qwen3", "Qwen3ForCausalLM"),
):
    FAMILIES.register(
        _model_type,
        summary=f"{_cls} (1D RoPE; scalings only)",
        model_class=_cls,
        multimodal=False,
        defaults=_no_defaults,
    )(patch_text)
