"""``videorope llada niah``: text needle-in-a-haystack (:mod:`videorope.niah`) answered by the
LLaDA sampler, with an optional length extension; the same samples, scoring, tables and
heatmaps as the autoregressive side, in the same resumable :class:`~videorope.studies.sweep.Sweep`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

import videorope
from videorope.io import one_writer
from videorope.llada.model import load_llada
from videorope.models import load_tokenizer
from videorope.niah import NiahConfig, report
from videorope.studies.sweep import Sweep

__all__ = ["run_niah"]


@one_writer(lambda model, out, *_, **__: out)
def run_niah(model: str | Path, out: str | Path, lengths: tuple[int, ...], niah: dict[str, Any] | None = None,
             scaling: str | None = None, options: dict[str, Any] | None = None, batch_size: int = 1,
             progress: bool = True) -> Path:  # fmt: skip
    """NIAH at ``lengths`` for the LLaDA checkpoint folder ``model`` (its tokenizer beside it),
    extended by ``scaling`` with ``options`` (e.g. ``critical-ntk``, ``target_length``).
    ``niah`` overrides :class:`~videorope.niah.NiahConfig` fields. Writes ``out/niah`` (the
    samples), ``out/runs/<scaling or none>`` (replies, scores) and ``out/report``; returns
    ``out/report/niah.md``."""
    tokenizer = load_tokenizer(str(model))
    cuda = torch.cuda.is_available()
    llada = load_llada(model, dtype=torch.bfloat16 if cuda else torch.float32, device="cuda" if cuda else "cpu")
    if scaling:
        videorope.apply(llada, scaling=scaling, **(options or {}))
    sweep = Sweep(out, tokenizer, dataclasses.replace(NiahConfig(**(niah or {})), lengths=tuple(lengths)), progress)
    method = scaling or "none"
    sweep.niah_scores(method, llada, str(model), batch_size=batch_size)
    return report([sweep.run(method)], Path(out) / "report")
