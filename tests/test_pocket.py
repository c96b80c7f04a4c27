"""The pocket video LM's tokenizer and processor, and its model config."""

import re
from pathlib import Path

import pytest
import yaml

from videorope.pocket import SPECIAL_TOKENS, pocket_tokenizer, vocabulary
from videorope.vruler.tasks.counting import counting_needles
from videorope.vruler.tasks.multi_value import multi_value_needles
from videorope.vruler.tasks.niah import retrieval_needle

MODEL = Path(__file__).resolve().parents[1] / "configs" / "pocket" / "model.yaml"


def test_every_vruler_question_is_in_vocabulary():
    tok = pocket_tokenizer()
    texts = [retrieval_needle(s, ask=a).question for s in range(500, 600) for a in ("label", "colour", "object")]
    texts += [counting_needles(s, [3, 16, 9])[0].question for s in range(500, 520)]
    texts += [", ".join(multi_value_needles(s, 5)[0].options) for s in range(500, 520)]
    for text in texts:
        assert tok.unk_token_id not in tok(text)["input_ids"], text
    assert tok.unk_token_id in tok("a zebra")["input_ids"]  # unknown words are <unk>, not dropped


def test_answers_are_single_tokens_and_text_round_trips():
    tok = pocket_tokenizer()
    for n in range(1000):
        assert tok(f"{n}<|im_end|>", add_special_tokens=False)["input_ids"] == [vocabulary().index(str(n)), 4]
    text = "What number is written on the red balloon?"
    ids = tok(text)["input_ids"]
    assert len(ids) == 9 and tok.decode(ids) == text


def test_model_config_matches_the_tokenizer():
    config = yaml.safe_load(MODEL.read_text())
    ids = {name: SPECIAL_TOKENS.index(token) for name, token in [
        ("pad_token_id", "<pad>"), ("eos_token_id", "<|im_end|>"), ("vision_start_token_id", "<|vision_start|>"),
        ("vision_end_token_id", "<|vision_end|>"), ("image_token_id", "<|image_pad|>"),
        ("video_token_id", "<|video_pad|>")]}  # fmt: skip
    assert {k: config[k] for k in ids} == ids
    assert len(vocabulary()) <= config["text_config"]["vocab_size"]
    assert re.search(rf"\b{len(vocabulary())} words\b", MODEL.read_text())  # the comment states the size


def test_pocket_model_and_processor_build(tmp_path):
    pytest.importorskip("torchvision")
    import numpy as np

    from videorope.inputs import encode
    from videorope.models import load_model

    model, processor = load_model(str(MODEL), processor="pocket")
    assert sum(p.numel() for p in model.parameters()) == 1_339_904  # the size model.yaml states
    frames = np.zeros((16, 64, 64, 3), dtype=np.uint8)
    messages = [[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Number?"}]}]]
    batch = encode(processor, messages, [frames])
    assert int((batch["input_ids"] == 8).sum()) == 128  # 16 frames of 64x64: 128 video tokens
    assert model(**batch).logits.shape[-1] == 1152
    processor.save_pretrained(tmp_path)
    again = type(processor).from_pretrained(tmp_path)
    assert again.tokenizer("47 red")["input_ids"] == processor.tokenizer("47 red")["input_ids"]
