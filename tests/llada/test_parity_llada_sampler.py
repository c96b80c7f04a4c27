"""The LLaDA greedy sampler against the released one: ``ML-GSAI/LLaDA`` at b7e6c35,
``generate.py`` (``generate``, temperature 0, ``low_confidence``), run on the same tiny model in
float32 and bfloat16, with and without classifier-free guidance, and on a confident model
whose bf16 probabilities tie (the tie order is the released top-k's). Golden canvases:
``tests/golden/llada_sampler.json``, made by ``tests/golden/make_llada_sampler.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from videorope.llada import tiny_llada
from videorope.llada.sampler import generate

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "llada_sampler.json").read_text())


@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_the_greedy_sampler_commits_the_released_samplers_tokens(case):
    record = GOLDEN["cases"][case]
    model = tiny_llada(seed=0)
    model.model.transformer.ff_out.weight.data *= record["head_scale"]
    model = model.to(getattr(torch, record["dtype"]))
    canvas = generate(model, torch.tensor(GOLDEN["prompt"]), temperature=0.0, progress=False, **record["settings"])
    assert canvas.tolist() == record["canvas"]
