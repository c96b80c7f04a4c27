"""One reader of Hugging Face rope configs: the theory report and the model integrations see
the same rotary for every built-in config, the tiny models and LLaDA's own config class."""

from __future__ import annotations

import pytest
import transformers

from videorope import theory
from videorope.integrations.base import configured_scaling, rope_spec
from videorope.known_configs import KNOWN_CONFIGS, load_config
from videorope.llada.model import LLaDAConfig
from videorope.rope.spec import RopeSpec, read_rope
from videorope.testing import TINY_FAMILIES, tiny_config


def _configs():
    for name in KNOWN_CONFIGS:
        data = load_config(name)
        yield name, transformers.AutoConfig.for_model(**data)
    for family in TINY_FAMILIES:
        yield f"tiny:{family}", tiny_config(family)
    yield "llada", LLaDAConfig(d_model=256, n_heads=4, max_sequence_length=1024, rope_theta=5e5)


@pytest.mark.parametrize(("name", "config"), list(_configs()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_report_and_the_integrations_read_the_same_rotary(name, config):
    report = theory.report(config)
    assert rope_spec(config.get_text_config()) == RopeSpec(report.rotary_dim, report.base, report.train_length)
    assert read_rope(config).spec == read_rope(config.to_dict()).spec


def test_what_the_reader_understands():
    llada = read_rope(LLaDAConfig(d_model=256, n_heads=4, max_sequence_length=1024, rope_theta=5e5))
    assert (llada.head_dim, llada.rotary_dim, llada.base, llada.train_length) == (64, 64, 5e5, 1024)
    per_layer = {"hidden_size": 64, "num_attention_heads": 4, "max_position_embeddings": 100, "rope_parameters": {
        "sliding_attention": {"rope_theta": 1e4}, "full_attention": {"rope_theta": 1e6, "rope_type": "yarn",
                                                                      "factor": 4.0}}}  # fmt: skip
    rope = read_rope(per_layer)
    assert (rope.base, rope.rope_type, rope.parameters["factor"]) == (1e6, "yarn", 4.0)
    legacy = {"hidden_size": 64, "num_attention_heads": 4, "max_position_embeddings": 100, "rope_theta": 1e4,
              "rope_scaling": {"original_max_position_embeddings": 50, "partial_rotary_factor": 0.5}}  # fmt: skip
    assert read_rope(legacy).spec == RopeSpec(8, 1e4, 50)
    qwen3 = read_rope({**per_layer, "rope_parameters": {"rope_theta": 1e6}, "model_type": "qwen3_vl", "head_dim": 128})
    assert qwen3.interleaved and qwen3.mrope_section == (24, 20, 20)
    with pytest.raises(ValueError, match="rope_theta.* missing.*use this"):
        read_rope({"hidden_size": 64}, hint="; use this")


def test_the_models_own_scaling_is_read_from_the_same_fields():
    config = tiny_config("llama", rope_parameters={"rope_type": "yarn", "rope_theta": 1e4, "factor": 2.0,
                                                   "original_max_position_embeddings": 256})  # fmt: skip
    assert configured_scaling(config) == ("yarn", {"factor": 2.0, "original_length": 256})
    assert rope_spec(config).train_length == 256
