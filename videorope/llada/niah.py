"""``videorope llada niah``: text needle-in-a-haystack (:mod:`videorope.niah`) answered by the
LLaDA sampler, with an optional length extension; the same samples, scoring, tables and
heatmaps as the autoregressive side. Resumes like ``videorope niah eval``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

__all__ = ["run_niah"]


def run_niah(model: str | Path, out: str | Path, lengths: tuple[int, ...], niah: dict[str, Any] | None = None,
             scaling: str | None = None, options: dict[str, Any] | None = None, batch_size: int = 1,
             progress: bool = True) -> Path:  # fmt: skip
    """NIAH at ``lengths`` for the LLaDA checkpoint folder ``model`` (its tokenizer beside it),
    extended by ``scaling`` with ``options`` (e.g. ``critical-ntk``, ``target_length``).
    ``niah`` overrides :class:`~videorope.niah.NiahConfig` fields. Writes ``out/niah`` (the
    samples), ``out/run`` (replies, scores) and ``out/report``; returns ``out/report/niah.md``."""
    import videorope
    from videorope.llada.model import load_llada
    from videorope.models import load_tokenizer
    from videorope.niah import NiahConfig, evaluate, generate, report

    out = Path(out)
    tokenizer = load_tokenizer(str(model))
    cuda = torch.cuda.is_available()
    llada = load_llada(model, dtype=torch.bfloat16 if cuda else torch.float32, device="cuda" if cuda else "cpu")
    if scaling:
        videorope.apply(llada, scaling=scaling, **(options or {}))
    config = dataclasses.replace(NiahConfig(**(niah or {})), lengths=tuple(lengths))
    samples = generate(config, tokenizer, out / "niah", progress=progress)
    evaluate(llada, tokenizer, samples, out / "run", name=str(model), batch_size=batch_size, progress=progress)
    return report([out / "run"], out / "report")
