"""Tiny random models of each family, built in code for tests, examples and benchmarks (no
download), with a character-level tokenizer and the family's processor around it.

``tiny:<model_type>`` names them wherever a model is loaded by name
(:func:`videorope.models.load_model`).
"""

from __future__ import annotations

from typing import Any

from videorope.processing import chat_template, qwen_vl_processor, word_level_tokenizer

__all__ = [
    "TINY_FAMILIES",
    "TINY_SPECIAL",
    "TINY_VOCAB",
    "tiny_config",
    "tiny_model",
    "tiny_processor",
    "tiny_tokenizer",
]

TINY_VOCAB = 256
"""Token ids of the tiny VL configs: ordinary text uses ids below 240."""
TINY_SPECIAL = {"vision_start_token_id": 250, "vision_end_token_id": 251, "image_token_id": 252, "video_token_id": 253}


def _tiny_text(model_type: str) -> dict[str, Any]:
    return {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        **({"head_dim": 16} if model_type in ("qwen3", "qwen3_vl") else {}),
    }


_TINY_PATCHES = {"depth": 1, "num_heads": 2, "patch_size": 4, "temporal_patch_size": 2, "spatial_merge_size": 2}
_TINY_VISION = {
    "qwen2_vl": {"embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2},
    "qwen2_5_vl": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "window_size": 16,
        "fullatt_block_indexes": [0],
        "tokens_per_second": 2,
    },
    "qwen3_vl": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    },
}
"""One-block vision towers on 4x4-pixel patches, temporal patch 2, 2x2 merging, 64-wide output."""


_TINY_SECTIONS = {"qwen2_vl": [2, 3, 3], "qwen2_5_vl": [2, 3, 3], "qwen3_vl": [4, 2, 2]}
_TINY_CONFIG_CLASSES = {
    "llama": "LlamaConfig",
    "qwen2": "Qwen2Config",
    "qwen3": "Qwen3Config",
    "qwen2_vl": "Qwen2VLConfig",
    "qwen2_5_vl": "Qwen2_5_VLConfig",
    "qwen3_vl": "Qwen3VLConfig",
}
TINY_FAMILIES = tuple(_TINY_CONFIG_CLASSES)


def tiny_config(model_type: str, **text_overrides: Any):
    """A tiny random-init config of ``model_type`` (one of :data:`TINY_FAMILIES`).

    ``text_overrides`` replace fields of the (text) config, e.g. ``rope_parameters``.

    Text models: 2 layers, hidden 64, 4 heads (head_dim 16), GQA 2 KV heads, vocab 256.
    VL models add a one-block vision tower (4x4 patches, temporal patch 2, merge 2) and
    mrope sections summing to 8 frequencies.
    """
    import transformers

    if model_type not in _TINY_CONFIG_CLASSES:
        raise ValueError(f"no tiny config for {model_type!r}; choose one of {', '.join(TINY_FAMILIES)}")
    cls = getattr(transformers, _TINY_CONFIG_CLASSES[model_type])
    text = {**_tiny_text(model_type), **text_overrides}
    if model_type in _TINY_SECTIONS:
        text["rope_parameters"] = {**text["rope_parameters"], "mrope_section": _TINY_SECTIONS[model_type]}
        if model_type == "qwen3_vl":
            text["rope_parameters"]["mrope_interleaved"] = True
        return cls(text_config=text, vision_config={**_TINY_PATCHES, **_TINY_VISION[model_type]}, **TINY_SPECIAL)
    return cls(**text)


def tiny_model(model_type: str, seed: int = 0, attn_implementation: str = "eager", **text_overrides: Any):
    """A tiny random model of ``model_type`` in eval mode (fp32, CPU)."""
    import torch
    import transformers

    from videorope.integrations import FAMILIES

    config = tiny_config(model_type, **text_overrides)
    torch.manual_seed(seed)
    cls = getattr(transformers, FAMILIES[model_type].meta["model_class"])
    return cls._from_config(config, attn_implementation=attn_implementation).eval()


_TINY_CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
_TINY_TOKENS = {
    "<pad>": 240, "<|endoftext|>": 241, "<|im_start|>": 242, "<|im_end|>": 243,
    "<|vision_start|>": 250, "<|vision_end|>": 251, "<|image_pad|>": 252, "<|video_pad|>": 253,
}  # fmt: skip


def tiny_tokenizer():
    """A character-level tokenizer for the tiny models: printable ASCII + newline at ids 0-95,
    Qwen's chat and vision special tokens at the ids :data:`TINY_SPECIAL` uses."""
    vocab = {c: i for i, c in enumerate(_TINY_CHARS)} | _TINY_TOKENS
    specials = [t for t in _TINY_TOKENS if t != "<pad>"]
    return word_level_tokenizer(vocab, ".", spaced=False, pad="<pad>", eos="<|im_end|>", specials=specials)


def tiny_processor(model_type: str = "qwen2_vl"):
    """The transformers processor of ``model_type`` around :func:`tiny_tokenizer`, sized for the
    tiny vision towers (4x4 patches, temporal patch 2, 2x2 merge). Needs torchvision."""
    return qwen_vl_processor(
        model_type, tiny_tokenizer(), chat_template("\n", "", "\n"), patch_size=4, temporal_patch_size=2,
        merge_size=2, min_pixels=8 * 8, max_pixels=64 * 64,
    )  # fmt: skip
