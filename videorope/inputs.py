"""Video-QA model inputs through a model's own processor, shared by evaluation and training.

A batch is prompts built with the processor's chat template, the frames of one video per
prompt, and optionally the answer text right after each prompt (teacher forcing). Prompts
are left-padded, so every answer ends its row: answer tokens are the last ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["answer_ids", "answer_labels", "encode"]


def encode(
    processor: Any,
    messages: Sequence[list[dict[str, Any]]],
    videos: Sequence[np.ndarray],
    answers: Sequence[str] | None = None,
    video_kwargs: dict[str, Any] | None = None,
):
    """Processor inputs for a batch: one chat (``messages``) and one video, uint8 (F, H, W, 3), per row."""
    prompts = [processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
    if answers is not None:
        prompts = [p + a for p, a in zip(prompts, answers, strict=True)]
    processor.tokenizer.padding_side = "left"
    return processor(
        text=prompts,
        videos=list(videos),
        return_tensors="pt",
        padding=True,
        videos_kwargs={"do_sample_frames": False, **(video_kwargs or {})},
    )


def answer_ids(tokenizer: Any, answers: Sequence[str]) -> list[list[int]]:
    return [tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]


def answer_labels(input_ids: torch.Tensor, answers: Sequence[Sequence[int]]) -> torch.Tensor:
    """Labels (B, L): the answer tokens at the end of each row, -100 elsewhere.

    Raises if a row does not end with its answer tokens (the tokenizer merged the answer
    with the prompt before it), since the loss or score would then cover the wrong tokens.
    """
    labels = torch.full_like(input_ids, -100)
    for i, ids in enumerate(answers):
        if not ids or input_ids[i, -len(ids) :].tolist() != list(ids):
            raise ValueError(
                f"row {i}: the input does not end with the answer tokens {list(ids)}; the tokenizer merges the "
                "answer with the prompt before it (or the answer is empty)"
            )
        labels[i, -len(ids) :] = input_ids[i, -len(ids) :]
    return labels
