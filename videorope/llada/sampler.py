"""The LLaDA sampler (REFERENCE section 7): unmask a canvas of MASK tokens step by step.

The canvas is the prompt followed by ``gen_length`` masks, filled block by block
(``block_length`` tokens, semi-autoregressive). Each block gets ``steps / blocks`` steps,
and its masks are spread evenly over them (the first steps take the remainder). Each step
runs one forward pass (two with classifier-free guidance, ``un + (cfg + 1) (cond - un)``
where ``un`` masks the prompt), draws a token per position by Gumbel-max in float64
(``temperature=0``: argmax), and commits, among the block's masked positions, the
scheduled number with the highest confidence (``torch.topk`` per row): the drawn token's
softmax probability in the model's dtype (``low_confidence``; bf16 probabilities tie as in
``ML-GSAI/LLaDA``'s ``generate.py``) or a uniform draw (``random``). Committed tokens never change and
nothing past the current block is committed. A
:class:`~videorope.llada.cache.PromptCache` skips recomputing the prompt between refreshes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from videorope.llada.cache import PromptCache
from videorope.registry import Registry

__all__ = ["REMASKING", "generate", "transfer_schedule"]

REMASKING = Registry("remasking rule")
"""``fn(logits (B, L, V) in the model's dtype, drawn (B, L), generator) -> confidence (B, L)``:
which masked positions a step commits first (highest first; top-k, ties as ``torch.topk``)."""


@REMASKING.register(
    "low_confidence", paper="LLaDA (Nie et al., 2025)", summary="softmax probability of the drawn token"
)
def _low_confidence(logits: torch.Tensor, drawn: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.softmax(logits, dim=-1).gather(-1, drawn[..., None])[..., 0]


@REMASKING.register("random", paper="LLaDA (Nie et al., 2025)", summary="a uniform draw per position")
def _random(logits: torch.Tensor, drawn: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(drawn.shape, generator=generator, device=drawn.device, dtype=torch.float64)


def transfer_schedule(masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Tokens to commit at each of ``steps`` steps for ``masked`` (B,) masked positions:
    (B, steps), spread evenly, the first ``masked % steps`` steps taking one more."""
    base = masked[:, None] // steps
    extra = torch.arange(steps, device=masked.device)[None, :] < (masked % steps)[:, None]
    return base + extra.long()


def _draw(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """Gumbel-max in float64: argmax of exp(logits) / (-log u)^temperature; argmax at 0."""
    if temperature == 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float64)
    return (logits.double().exp() / (-torch.log(u)) ** temperature).argmax(-1)


def _check(gen_length: int, block_length: int, steps: int) -> int:
    if gen_length < 1 or block_length < 1 or gen_length % block_length:
        raise ValueError(f"gen_length ({gen_length}) must be a positive multiple of block_length ({block_length})")
    blocks = gen_length // block_length
    if steps < blocks or steps % blocks:
        raise ValueError(f"steps ({steps}) must be a positive multiple of the number of blocks ({blocks})")
    return blocks


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    prompt: torch.Tensor,
    gen_length: int = 128,
    block_length: int = 32,
    steps: int = 128,
    temperature: float = 0.0,
    cfg_scale: float = 0.0,
    remasking: str = "low_confidence",
    attention_mask: torch.Tensor | None = None,
    padding: str = "mask",
    prompt_cache: PromptCache | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Fill ``gen_length`` masks after ``prompt`` (B, Lp) (left-padded rows with
    ``attention_mask`` (B, Lp)); returns the canvas (B, Lp + gen_length). ``padding``:
    ``mask`` (videorope: padded keys hidden, each row's positions from its first token, so a
    padded row samples as it would alone) or ``original`` (``ML-GSAI/LLaDA``: its model ignores
    the mask, so pads are attended to and positions run 0..L-1 over the padded canvas; what
    published batched numbers used). ``prompt_cache``
    (a fresh :class:`~videorope.llada.cache.PromptCache` for this prompt) reuses the prompt's
    keys and values between refreshes, an approximation. ``callback(step, canvas)`` runs
    after every step; ``generator`` makes sampling reproducible."""
    blocks = _check(gen_length, block_length, steps)
    rule = REMASKING[remasking].fn
    mask_id, (B, Lp) = model.config.mask_token_id, prompt.shape
    if prompt_cache is not None and (cfg_scale or prompt_cache.length != Lp or prompt_cache.layers):
        raise ValueError("prompt_cache: pass a fresh PromptCache(prompt length, refresh) and no cfg_scale")
    canvas = torch.cat([prompt, torch.full((B, gen_length), mask_id, dtype=prompt.dtype, device=prompt.device)], 1)
    if padding not in ("mask", "original"):
        raise ValueError(f"padding must be 'mask' or 'original', got {padding!r}")
    positions = None
    if attention_mask is not None and padding == "original":
        attention_mask = None  # the original model ignores it
    if attention_mask is not None:  # left padding: each row counts positions from its first token
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(B, gen_length)], 1)
        positions = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    per_block = steps // blocks
    bar = tqdm(total=steps, desc="LLaDA sampling", disable=not progress)
    step = 0
    for block in range(blocks):
        start, end = block * block_length, (block + 1) * block_length  # in the generated part
        schedule = transfer_schedule((canvas[:, Lp + start : Lp + end] == mask_id).sum(-1), per_block)
        for i in range(per_block):
            masked = canvas[:, Lp:] == mask_id  # (B, gen_length)
            logits = _logits(model, canvas, attention_mask, positions, prompt_cache, Lp, cfg_scale, mask_id)
            logits = logits[:, -gen_length:]  # the model's dtype, as the released sampler keeps it
            drawn = _draw(logits, temperature, generator)
            confidence = rule(logits, drawn, generator)
            confidence[:, end:] = -torch.inf  # nothing past the current block
            confidence = torch.where(masked, confidence, -torch.inf)
            commit = torch.zeros_like(masked)
            # top-k per row over the whole canvas (prompt at -inf): equal confidences (common in bf16)
            # then break as in the released sampler, whose tie order depends on the canvas length
            ranked = torch.cat([confidence.new_full((B, Lp), -torch.inf), confidence], 1)
            for row, k in enumerate(schedule[:, i].tolist()):
                commit[row, ranked[row].topk(k).indices - Lp] = True
            canvas[:, Lp:] = torch.where(commit, drawn, canvas[:, Lp:])
            step += 1
            bar.update()
            if callback is not None:
                callback(step, canvas)
    bar.close()
    return canvas


def _logits(model, canvas, attention_mask, positions, prompt_cache, prompt_length: int, cfg_scale: float,
            mask_id: int):  # fmt: skip
    """The model's logits (B, L or L - prompt, V), with classifier-free guidance when
    ``cfg_scale`` > 0."""
    if cfg_scale == 0:
        return model(canvas, attention_mask=attention_mask, position_ids=positions, prompt_cache=prompt_cache).logits
    unconditional = canvas.clone()
    unconditional[:, :prompt_length] = mask_id
    twice = lambda t: None if t is None else t.repeat(2, 1)  # noqa: E731
    both = model(torch.cat([canvas, unconditional]), attention_mask=twice(attention_mask),
                 position_ids=twice(positions)).logits  # fmt: skip
    cond, un = both.chunk(2)
    return un + (cfg_scale + 1) * (cond - un)
