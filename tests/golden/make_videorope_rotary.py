"""Regenerate ``videorope_rotary.json``: VideoRoPE's LTA rotary as the released code applies it.

Not part of the test run. Needs a clone of ``Wiselnn570/VideoRoPE`` (7712ca3f):

    python tests/golden/make_videorope_rotary.py /path/to/VideoRoPE > tests/golden/videorope_rotary.json

It runs ``Qwen2VLRotaryEmbedding.forward`` (cos/sin per axis from (3, B, L) positions) and
``apply_m_modify_multimodal_rotary_pos_emb`` (LTA: the last 16 frequencies temporal, the rest
h/w interleaved) of ``videorope-transformer/modeling_videorope.py`` on the positions its own
``get_t_scale_rope_index`` gives the "video" case of ``videorope_positions.json``, with the
default inverse frequencies ``1 / base ** (arange(0, d, 2) / d)`` (float32) and
``mrope_section = [16, 24, 24]``. Only the numbers are committed.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).parent))
from make_videorope_positions import TRANSFORMERS_FILE, _function  # noqa: E402

HEAD_DIM, BASE, SECTION, SEED = 128, 10000.0, [16, 24, 24], 0


def _method(repo: str, cls: str, name: str):
    """Method ``name`` of class ``cls`` in the transformers file, compiled on its own."""
    text = subprocess.run(["git", "-C", repo, "show", f"HEAD:{TRANSFORMERS_FILE}"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    owner = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls)
    node = next(n for n in owner.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = {"torch": torch}
    exec(compile(textwrap.dedent(ast.get_source_segment(text, node)), TRANSFORMERS_FILE, "exec"), namespace)  # noqa: S102
    return namespace[name]


def main(repo: str) -> None:
    positions = json.loads((Path(__file__).parent / "videorope_positions.json").read_text())
    golden = torch.tensor(positions["cases"]["video"]["get_t_scale_rope_index"]["positions"])[:, None, :]  # (3,1,L)
    forward = _method(repo, "Qwen2VLRotaryEmbedding", "forward")
    rotate_half = _function(repo, TRANSFORMERS_FILE, "rotate_half")
    lta = _function(repo, TRANSFORMERS_FILE, "apply_m_modify_multimodal_rotary_pos_emb")
    lta.__globals__["rotate_half"] = rotate_half
    inv_freq = 1.0 / (BASE ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.int64).float() / HEAD_DIM))
    rotary = SimpleNamespace(inv_freq=inv_freq, rope_type="default", attention_scaling=1.0)
    g = torch.Generator().manual_seed(SEED)
    q = torch.randn(1, 1, golden.shape[-1], HEAD_DIM, generator=g)  # (B, H, L, D)
    cos, sin = forward(rotary, q, golden)
    q_embed, _ = lta(q, q, cos, sin, SECTION)
    out = {"repository": "Wiselnn570/VideoRoPE", "commit": positions["commit"], "head_dim": HEAD_DIM, "base": BASE,
           "mrope_section": SECTION, "seed": SEED, "q": q.tolist(), "q_embed": q_embed.tolist()}  # fmt: skip
    json.dump(out, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
