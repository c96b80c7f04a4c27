"""Offline tokenizers and Qwen-VL processors built in code: one implementation behind the
tiny test models' character-level tokenizer (:mod:`videorope.testing`) and the pocket
model's word-level one (:mod:`videorope.pocket`).

Both are ``tokenizers`` WordLevel models wrapped in a ``PreTrainedTokenizerFast`` (left
padding, Qwen's chat and vision special tokens), and both processors are the family's own
transformers processor around them, sized by patch, temporal patch and merge size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["chat_template", "qwen_vl_processor", "word_level_tokenizer"]


def chat_template(after_role: str, before_text: str, after_turn: str) -> str:
    """Qwen's chat format without the default system prompt: ``<|im_start|>`` role
    ``after_role``, the content (a video or an image as ``<|vision_start|><|video_pad|>
    <|vision_end|>``, text after ``before_text``), ``<|im_end|>`` ``after_turn``."""
    return (
        f"{{% for m in messages %}}<|im_start|>{{{{ m['role'] }}}}{after_role}"
        "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
        "{% if c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
        "{% elif c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
        f"{{% else %}}{before_text}{{{{ c['text'] }}}}{{% endif %}}{{% endfor %}}{{% endif %}}<|im_end|>{after_turn}"
        "{% endfor %}"
        f"{{% if add_generation_prompt %}}<|im_start|>assistant{after_role}{{% endif %}}"
    )


def word_level_tokenizer(
    vocab: Mapping[str, int], pattern: str, *, spaced: bool, pad: str, eos: str, specials: Sequence[str],
    unk: str | None = None,
):  # fmt: skip
    """A ``PreTrainedTokenizerFast`` with one token per piece of text ``pattern`` (a regex)
    matches. ``spaced``: words are split on whitespace first and decoded joined by spaces;
    otherwise every character counts (spaces too) and pieces are decoded joined as they are.
    Pieces outside ``vocab`` become ``unk`` (``pad`` when there is no unknown token)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(dict(vocab), unk_token=unk or pad))
    split = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), split]) if spaced else split
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True) if spaced else decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=pad,
        **({"unk_token": unk} if unk else {}),
        eos_token=eos,
        additional_special_tokens=list(specials),
        padding_side="left",
    )


_PROCESSORS = {"qwen2_vl": "Qwen2VL", "qwen2_5_vl": "Qwen2_5_VL", "qwen3_vl": "Qwen3VL"}


def qwen_vl_processor(
    model_type: str, tokenizer, template: str, *, patch_size: int, temporal_patch_size: int, merge_size: int,
    min_pixels: int, max_pixels: int,
):  # fmt: skip
    """The transformers processor of ``model_type`` (Qwen2-VL, Qwen2.5-VL or Qwen3-VL) around
    ``tokenizer`` and the chat ``template``, resizing frames to ``min_pixels..max_pixels``."""
    import transformers

    if model_type not in _PROCESSORS:
        raise ValueError(f"no processor for {model_type!r}; choose one of {', '.join(_PROCESSORS)}")
    sizes = {"patch_size": patch_size, "temporal_patch_size": temporal_patch_size, "merge_size": merge_size}
    pixels = {"size": {"shortest_edge": min_pixels, "longest_edge": max_pixels}}
    video_cls = getattr(transformers, f"{'Qwen3VL' if model_type == 'qwen3_vl' else 'Qwen2VL'}VideoProcessor")
    processor_cls = getattr(transformers, f"{_PROCESSORS[model_type]}Processor")
    return processor_cls(
        image_processor=transformers.Qwen2VLImageProcessor(**sizes, **pixels),
        tokenizer=tokenizer,
        video_processor=video_cls(**sizes, **pixels),
        chat_template=template,
    )
