"""Regenerate ``llada_sampler.json`` by running the released LLaDA sampler.

Not part of the test run. Needs a clone of ``ML-GSAI/LLaDA`` (commit b7e6c35; a bare clone works):

    python tests/golden/make_llada_sampler.py /path/to/LLaDA > tests/golden/llada_sampler.json

It compiles ``generate`` (with ``get_num_transfer_tokens`` and ``add_gumbel_noise``) from the
released ``generate.py``, runs it with temperature 0 (the greedy sampler) and an all-ones
attention mask (its cfg branch needs one) on videorope's ``tiny_llada(seed=0)`` (its head
optionally scaled up) in float32 and bfloat16, and prints the final canvases as JSON. The
model is only the input here: the sampler is what is compared. Only the numbers are
committed, never the authors' code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812  (the name the released code uses)

from videorope.llada import tiny_llada

FILE = "generate.py"
CASES = {  # name: (dtype, output head scale, sampler settings)
    "greedy-fp32": ("float32", 1, {"gen_length": 12, "block_length": 4, "steps": 6}),
    "greedy-one-block-fp32": ("float32", 1, {"gen_length": 8, "block_length": 8, "steps": 8}),
    "cfg-fp32": ("float32", 1, {"gen_length": 12, "block_length": 4, "steps": 6, "cfg_scale": 1.5}),
    "greedy-bf16": ("bfloat16", 1, {"gen_length": 12, "block_length": 4, "steps": 6}),
    "cfg-bf16": ("bfloat16", 1, {"gen_length": 12, "block_length": 6, "steps": 4, "cfg_scale": 1.0}),
    # a head 8x larger makes confident predictions whose bf16 probabilities tie
    "confident-bf16": ("bfloat16", 8, {"gen_length": 32, "block_length": 16, "steps": 8}),
}


def _functions(repo: str, names: tuple[str, ...]) -> dict:
    """The released functions ``names`` compiled from ``generate.py`` at the repository's HEAD."""
    text = subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{FILE}"], capture_output=True, text=True, check=True
    ).stdout
    namespace = {"torch": torch, "np": np, "F": F}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            source = textwrap.dedent(ast.get_source_segment(text, node))
            exec(compile(source, FILE, "exec"), namespace)  # noqa: S102
    return namespace


def model(dtype: str, head_scale: float):
    """``tiny_llada(seed=0)`` with its output head scaled, in ``dtype``; the test builds the same."""
    built = tiny_llada(seed=0)
    built.model.transformer.ff_out.weight.data *= head_scale
    return built.to(getattr(torch, dtype))


def prompt() -> torch.Tensor:
    """(2, 6) prompt tokens, the same the test builds."""
    return torch.randint(0, 200, (2, 6), generator=torch.Generator().manual_seed(0))


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    released = _functions(repo, ("add_gumbel_noise", "get_num_transfer_tokens", "generate"))
    out = {"repository": "ML-GSAI/LLaDA", "commit": commit, "file": FILE,
           "model": "videorope.llada.tiny_llada(seed=0), ff_out x head_scale",
           "prompt": prompt().tolist(), "cases": {}}  # fmt: skip
    for case, (dtype, head_scale, settings) in CASES.items():
        tiny = model(dtype, head_scale)
        with torch.no_grad():  # the released cfg branch needs a mask: all ones, as for unpadded prompts
            canvas = released["generate"](tiny, prompt(), attention_mask=torch.ones(2, 6, dtype=torch.long),
                                          temperature=0.0, remasking="low_confidence",
                                          mask_id=tiny.config.mask_token_id, **settings)  # fmt: skip
        out["cases"][case] = {"dtype": dtype, "head_scale": head_scale, "settings": settings, "canvas": canvas.tolist()}
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
