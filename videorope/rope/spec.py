"""What the rotary of a model is: :class:`RopeSpec`, and the one reader of a Hugging Face
rope config (:func:`read_rope`) that the theory report and every model integration use.

Rope fields are read the HF 5.x way: ``rope_parameters`` (``rope_theta``, ``rope_type``,
``mrope_section``, ``mrope_interleaved``, ``original_max_position_embeddings``,
``partial_rotary_factor``; per-layer-type parameters read from ``full_attention``), falling
back to legacy top-level ``rope_theta`` / ``rope_scaling``. For VL configs the text part is
read from ``text_config``. LLaDA's names (``d_model``, ``n_heads``, ``max_sequence_length``)
are understood. Training length is ``original_max_position_embeddings`` when present, else
``max_position_embeddings``. Qwen3-VL (``qwen3_vl`` / ``qwen3_vl_text``) is always interleaved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RopeConfig", "RopeSpec", "read_rope"]


@dataclass(frozen=True)
class RopeSpec:
    """What a scaling needs to know about the model: rotary dims, base, training length."""

    head_dim: int
    base: float
    train_length: int

    def __post_init__(self) -> None:
        if self.head_dim < 2 or self.head_dim % 2:
            raise ValueError(f"rotary head_dim must be a positive even number, got {self.head_dim}")
        if not self.base > 1:
            raise ValueError(f"rope base (rope_theta) must be > 1, got {self.base}")
        if self.train_length < 1:
            raise ValueError(f"train_length must be >= 1, got {self.train_length}")


_INTERLEAVED_TYPES = frozenset({"qwen3_vl", "qwen3_vl_text", "qwen3_vl_moe", "qwen3_vl_moe_text"})
_QWEN3_VL_DEFAULT_SECTION = (24, 20, 20)  # what transformers uses when the config has none


@dataclass(frozen=True)
class RopeConfig:
    """The rope fields of one model config. ``rotary_dim`` is ``head_dim *
    partial_rotary_factor``; ``rope_type`` and ``parameters`` are the config's own scaling
    (``rope_parameters``, resolved per layer type)."""

    model_type: str | None
    head_dim: int
    rotary_dim: int
    base: float
    train_length: int
    mrope_section: tuple[int, ...] | None
    interleaved: bool
    rope_type: str = "default"
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> RopeSpec:
        return RopeSpec(self.rotary_dim, self.base, self.train_length)


def _as_mapping(config: Any) -> Mapping[str, Any]:
    if isinstance(config, Mapping):
        return config
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):  # transformers.PretrainedConfig (text or VL)
        return to_dict()
    raise ValueError(f"cannot read rope fields from a {type(config).__name__}: pass a config dict or PretrainedConfig")


def read_rope(config: Any, name: str = "the model", hint: str = "") -> RopeConfig:
    """The rope fields of ``config`` (a dict in config.json format or a transformers config,
    text or VL; rules in the module docstring); a ValueError names what is missing (and
    ``hint``, another way to give them)."""
    config = _as_mapping(config)
    text = dict(config)
    sub = config.get("text_config")
    if isinstance(sub, Mapping):  # VL: the text model's fields live under text_config
        text.update(sub)
    text_type = text.get("model_type")
    params = text.get("rope_parameters")
    if isinstance(params, Mapping) and "rope_theta" not in params:
        # per-layer-type parameters (e.g. {"full_attention": {...}, "sliding_attention": {...}})
        params = params.get("full_attention") or next((v for v in params.values() if isinstance(v, Mapping)), None)
    params = dict(params) if isinstance(params, Mapping) else {}
    legacy = text.get("rope_scaling") if isinstance(text.get("rope_scaling"), Mapping) else {}

    def pick(key: str) -> Any:
        for source in (params, legacy, text):
            if source.get(key) is not None:
                return source[key]
        return None

    theta = pick("rope_theta")
    hidden = text.get("hidden_size", text.get("d_model"))  # d_model / n_heads: LLaDA's names
    heads = text.get("num_attention_heads", text.get("n_heads"))
    head_dim = text.get("head_dim") or (hidden // heads if hidden and heads else None)
    max_pos = text.get("max_position_embeddings", text.get("max_sequence_length"))
    train = pick("original_max_position_embeddings") or max_pos
    if theta is None or head_dim is None or train is None:
        missing = [k for k, v in (("rope_theta", theta), ("head_dim or hidden_size/num_attention_heads", head_dim),
                                  ("max_position_embeddings", train)) if v is None]  # fmt: skip
        raise ValueError(
            f"config of {name!r} has no rope fields ({', '.join(missing)} missing): expected "
            f"rope_parameters['rope_theta'] (or legacy top-level rope_theta), head_dim or "
            f"hidden_size/num_attention_heads, and max_position_embeddings, at the top level or "
            f"under text_config{hint}"
        )
    rotary = int(int(head_dim) * float(pick("partial_rotary_factor") or 1.0))
    model_type = config.get("model_type") or text_type
    interleaved = bool(pick("mrope_interleaved")) or bool({model_type, text_type} & _INTERLEAVED_TYPES)
    section = pick("mrope_section")
    if section is None and {model_type, text_type} & _INTERLEAVED_TYPES:
        section = _QWEN3_VL_DEFAULT_SECTION
    if section is not None:
        section = tuple(int(s) for s in section)
        if sum(section) != rotary // 2:
            raise ValueError(
                f"config of {name!r}: mrope_section {list(section)} sums to {sum(section)}, "
                f"expected rotary_dim/2 = {rotary // 2}"
            )
    return RopeConfig(model_type, int(head_dim), rotary, float(theta), int(train), section, interleaved,
                      params.get("rope_type", "default"), params)  # fmt: skip
