"""Perplexity of a loaded causal LM on text, and the text it reads by default.

Library functions of a model already loaded (nothing here loads one): :func:`perplexity` over
a whole sequence in one forward, :func:`continuation_perplexity` of the tokens after a prefill
into a given cache (how a compressed cache changes what follows), :func:`text_ids` the first
tokens of a UTF-8 file or of :func:`default_text`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

__all__ = ["continuation_perplexity", "default_text", "perplexity", "text_ids"]


def default_text() -> str:
    """English text that ships with every Python: the pydoc topic pages (PSF license)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def text_ids(tokenizer: Any, text: str | None, length: int) -> torch.Tensor:
    """The first ``length`` token ids (``length``,) of a UTF-8 file (default :func:`default_text`)."""
    ids = tokenizer(Path(text).read_text(encoding="utf-8") if text else default_text(), add_special_tokens=False)
    if len(ids["input_ids"]) < length:
        raise ValueError(f"the text has {len(ids['input_ids'])} tokens, fewer than {length}; pass a longer text file")
    return torch.tensor(ids["input_ids"][:length])


@torch.no_grad()
def perplexity(model: Any, ids: torch.Tensor, chunk: int = 1024) -> float:
    """exp(mean next-token NLL) of ``ids`` (L,) in one forward; logits are computed in chunks
    of ``chunk`` positions so memory stays linear in L."""
    device = next(model.parameters()).device
    hidden = model.base_model(input_ids=ids[None].to(device)).last_hidden_state[0]
    head = model.get_output_embeddings()
    total = 0.0
    for start in range(0, len(ids) - 1, chunk):
        logits = head(hidden[start : min(start + chunk, len(ids) - 1)]).float()
        target = ids[start + 1 : start + 1 + len(logits)].to(device)
        total += torch.nn.functional.cross_entropy(logits, target, reduction="sum").item()
    return math.exp(total / (len(ids) - 1))


@torch.no_grad()
def continuation_perplexity(model: Any, ids: torch.Tensor, context: int, cache: Any, chunk: int = 32) -> float:
    """exp(mean NLL) of ``ids[context:]`` (ids (L,)) after an exact prefill of ``ids[:context]``
    into ``cache``, the rest fed ``chunk`` tokens at a time so each chunk reads the cache."""
    device = next(model.parameters()).device
    ids = ids.to(device)
    logits = [model(input_ids=ids[None, :context], past_key_values=cache, use_cache=True, logits_to_keep=1).logits[0]]
    for start in range(context, len(ids) - 1, chunk):
        piece = ids[start : min(start + chunk, len(ids) - 1)]
        logits.append(model(input_ids=piece[None], past_key_values=cache, use_cache=True).logits[0])
    nll = torch.nn.functional.cross_entropy(torch.cat(logits).float(), ids[context:], reduction="mean")
    return math.exp(nll.item())
