"""Regenerate ``videorope_rotary.json``: VideoRoPE's LTA rotary as the released code applies it.

Not part of the test run. Needs a clone of ``Wiselnn570/VideoRoPE`` (7712ca3f):

    python tests/golden/make_videorope_rotary.py /path/to/VideoRoPE > tests/golden/videorope_rotary.json

It runs ``Qwen2VLRotaryEmbedding.forward`` (cos/sin per axis from (3, B, L) positions) and
``apply_m_modify_multimodal_rotary_pos_emb`` (LTA: the last 16 frequencies temporal, the rest
h/w interleaved) of ``videorope-transformer/modeling_videorope.py`` on the positions its own
``get_t_scale_rope_index`` gives the "video" case of ``videorope_positions.json``, with the
default inverse frequencies ``1 / base ** (arange(0, d, 2) / d)`` (float32) and
``mrope_section = [16, 24, 24]``. It also runs ``MRotaryEmbedding.post_init`` of the
VideoRoPE++ vLLM ``rotary_embedding.py`` with ``scaling_method = 'videorope++_v1'`` (YaRN-V;
the class's default factor 4, original length 32768) for Qwen2.5-VL's base 1e6 and keeps its
inverse frequencies. Only the numbers are committed.
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).parent))
from make_videorope_positions import TRANSFORMERS_FILE, VLLM_PLUS_FILE, _function  # noqa: E402

HEAD_DIM, BASE, SECTION, SEED = 128, 10000.0, [16, 24, 24], 0


def _method(repo: str, path: str, cls: str, name: str, namespace: dict | None = None):
    """Method ``name`` of class ``cls`` in ``path``, compiled on its own in ``namespace``."""
    text = subprocess.run(["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    owner = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls)
    node = next(n for n in owner.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = {"torch": torch, **(namespace or {})}
    exec(compile(textwrap.dedent(ast.get_source_segment(text, node)), path, "exec"), namespace)  # noqa: S102
    return namespace[name]


def _yarn_v(repo: str, base: float) -> list[float]:
    """VideoRoPE++'s YaRN-V inverse frequencies (``videorope++_v1``) for head dim 128."""
    cls = SimpleNamespace(factor=4.0, scaling_method="videorope++_v1")
    post_init = _method(repo, VLLM_PLUS_FILE, "MRotaryEmbedding", "post_init", {"MRotaryEmbedding": cls})
    rotary = SimpleNamespace(head_size=HEAD_DIM, rotary_dim=HEAD_DIM, base=base, is_neox_style=True,
                             dtype=torch.float32, mrope_section=SECTION)  # fmt: skip
    rotary.register_buffer = lambda name, value, persistent=False: setattr(rotary, name, value)
    with contextlib.redirect_stdout(sys.stderr):  # it prints its settings
        post_init(rotary)
    return rotary.inv_freq.tolist()


def main(repo: str) -> None:
    positions = json.loads((Path(__file__).parent / "videorope_positions.json").read_text())
    golden = torch.tensor(positions["cases"]["video"]["get_t_scale_rope_index"]["positions"])[:, None, :]  # (3,1,L)
    forward = _method(repo, TRANSFORMERS_FILE, "Qwen2VLRotaryEmbedding", "forward")
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
           "mrope_section": SECTION, "seed": SEED, "q": q.tolist(), "q_embed": q_embed.tolist(),
           "yarn_v": {"base": 1e6, "factor": 4.0, "original_length": 32768,
                      "inv_freq": _yarn_v(repo, 1e6)}}  # fmt: skip
    json.dump(out, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
