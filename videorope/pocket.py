"""The pocket video LM's text side: a word-level tokenizer for the V-RULER vocabulary and the
Qwen2-VL processor around it.

The pocket model (``configs/pocket/model.yaml``) is a Qwen2-VL small enough to train from
scratch on a CPU. A subword tokenizer would spend most of a tiny model's capacity and
sequence on spelling, so this one gives every word of the V-RULER questions, every colour,
object and number 0-999, and every punctuation mark one token: an answer like ``47`` is a
single token, and a question with four options is about 30 tokens. Words outside the
vocabulary become ``<unk>``. The vocabulary is derived from the needle generators and the
prompt builder, so it is complete by construction (a test checks it) and the same on every
machine; special tokens sit at the ids the model config names.
"""

from __future__ import annotations

import re
from functools import lru_cache

from videorope.processing import chat_template, qwen_vl_processor, word_level_tokenizer

__all__ = ["SPECIAL_TOKENS", "pocket_processor", "pocket_tokenizer", "vocabulary"]

SPECIAL_TOKENS = (
    "<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
)  # fmt: skip
"""Special tokens at ids 0-8, in this order (the model config's ``*_token_id`` fields)."""

_WORD = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")
"""What the pre-tokenizer splits text into: letter runs, digit runs, single punctuation marks."""


def _vruler_texts() -> list[str]:
    """Every question and prompt shape V-RULER writes, with every colour, object and label."""
    from videorope.niah.haystacks import NOISE
    from videorope.vruler import needles as nd
    from videorope.vruler.manifest import Sample
    from videorope.vruler.prompts import question_text
    from videorope.vruler.tasks.counting import counting_needles
    from videorope.vruler.tasks.multi_value import multi_value_needles
    from videorope.vruler.tasks.niah import retrieval_needle
    from videorope.vruler.tasks.ordering import ordering_needles

    texts = [NOISE, "system user assistant", " ".join(nd.COLOURS), " ".join(nd.OBJECTS)]
    texts += [" ".join(f"{o}s" for o in nd.OBJECTS), " ".join(chr(ord("A") + i) for i in range(26))]
    for seed in range(64):
        for ask in ("label", "colour", "object"):
            texts.append(retrieval_needle(seed, ask=ask).question)
        texts.append(counting_needles(seed, [1, 2])[0].question)
        texts.append(ordering_needles(seed, 4)[0].question)
        texts.append(multi_value_needles(seed)[0].question)
    sample = Sample.from_dict(
        {"id": "x", "task": "x", "question": "Q?", "answer": "a", "scoring": "choice", "frame_count": 1,
         "depth": 0.0, "seed": 0, "haystack": "x", "haystack_range": [0, 1, 1], "inserts": [],
         "options": ["a", "b"], "context": {}}
    )  # fmt: skip
    texts.append(question_text(sample))
    return texts


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """The pocket vocabulary: :data:`SPECIAL_TOKENS`, the numbers 0-999, then every other
    word and mark of :func:`_vruler_texts`, sorted."""
    numbers = [str(n) for n in range(1000)]
    words = {w for text in _vruler_texts() for w in _WORD.findall(text)} - set(numbers)
    return (*SPECIAL_TOKENS, *numbers, *sorted(words))


def pocket_tokenizer():
    """The word-level tokenizer (a ``PreTrainedTokenizerFast``), built offline with ``tokenizers``."""
    vocab = {w: i for i, w in enumerate(vocabulary())}
    specials = [t for t in SPECIAL_TOKENS if t not in ("<pad>", "<unk>", "<|im_end|>")]
    return word_level_tokenizer(
        vocab, _WORD.pattern, spaced=True, pad="<pad>", unk="<unk>", eos="<|im_end|>", specials=specials
    )


def pocket_processor(patch_size: int = 8, temporal_patch_size: int = 2, merge_size: int = 2, frame_size: int = 64):
    """``Qwen2VLProcessor`` for the pocket model: :func:`pocket_tokenizer`, and image and video
    processors that keep ``frame_size`` x ``frame_size`` frames at that size. The chat format
    is Qwen's without the default system prompt (which would double the prompt)."""
    return qwen_vl_processor(
        "qwen2_vl", pocket_tokenizer(), chat_template(" ", " ", ""), patch_size=patch_size,
        temporal_patch_size=temporal_patch_size, merge_size=merge_size, min_pixels=frame_size * frame_size,
        max_pixels=frame_size * frame_size,
    )  # fmt: skip
