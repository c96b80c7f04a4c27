"""Model configs known offline: minimal config.json-style dicts of published models (only
the fields :mod:`videorope.theory` reads, plus ``model_type``), so ``videorope theory --model
NAME`` works without a download. VL models keep the text model's fields under
``text_config`` as transformers 5.x writes them; rope fields use the 5.x ``rope_parameters``
dict. Also :func:`load_config`, which reads a name or a config.json. Pure data: imports no
model code.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

__all__ = ["KNOWN_CONFIGS", "known_name", "load_config"]

KNOWN_CONFIGS: dict[str, dict[str, Any]] = {
    # meta-llama/Llama-2-7b-hf
    "Llama-2-7B": {
        "model_type": "llama",
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    },
    # meta-llama/Meta-Llama-3-8B
    "Llama-3-8B": {
        "model_type": "llama",
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 8192,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0},
    },
    # Qwen/Qwen2-VL-7B-Instruct (legacy file: rope_scaling {"type": "mrope", ...} at top level)
    "Qwen2-VL-7B": {
        "model_type": "qwen2_vl",
        "text_config": {
            "model_type": "qwen2_vl_text",
            "hidden_size": 3584,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        },
    },
    # Qwen/Qwen2.5-VL-7B-Instruct
    "Qwen2.5-VL-7B": {
        "model_type": "qwen2_5_vl",
        "text_config": {
            "model_type": "qwen2_5_vl_text",
            "hidden_size": 3584,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 128000,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        },
    },
    # Qwen/Qwen3-VL-8B-Instruct
    "Qwen3-VL-8B": {
        "model_type": "qwen3_vl",
        "text_config": {
            "model_type": "qwen3_vl_text",
            "hidden_size": 4096,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "max_position_embeddings": 262144,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5000000.0,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
        },
    },
    # GSAI-ML/LLaDA-8B-Base (its own field names: d_model, n_heads, max_sequence_length)
    "LLaDA-8B": {
        "model_type": "llada",
        "d_model": 4096,
        "n_heads": 32,
        "n_kv_heads": 32,
        "max_sequence_length": 4096,
        "rope_theta": 500000.0,
    },
    # HuggingFaceTB/SmolLM2-135M
    "SmolLM2-135M": {
        "model_type": "llama",
        "hidden_size": 576,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "head_dim": 64,
        "max_position_embeddings": 8192,
        "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0},
    },
}


def known_name(name: str) -> str | None:
    """The canonical built-in name matching ``name`` case-insensitively, else ``None``."""
    lowered = name.lower()
    return next((key for key in KNOWN_CONFIGS if key.lower() == lowered), None)


def load_config(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """A config dict: a built-in name (case-insensitive; returns a copy), a path to a
    config.json, or a directory containing one."""
    if isinstance(name_or_path, str) and (key := known_name(name_or_path)) is not None:
        return copy.deepcopy(KNOWN_CONFIGS[key])
    path = os.fspath(name_or_path)
    file = os.path.join(path, "config.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        where = f"directory {path!r} has no config.json" if os.path.isdir(path) else f"no file {path!r}"
        raise ValueError(
            f"{path!r} is neither a built-in model name nor a config path ({where}); use one of "
            f"{', '.join(KNOWN_CONFIGS)} (case-insensitive), a path to a config.json, or a "
            f"directory containing one"
        )
    try:
        with open(file, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read config file {file!r}: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"config file {file!r} holds a {type(config).__name__}, expected a JSON object")
    return config
