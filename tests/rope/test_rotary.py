"""cos/sin and the reference rotary against the transformers modules they replace."""

import pytest
import torch
from transformers import Qwen2VLTextConfig, Qwen3VLTextConfig
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLRotaryEmbedding
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextRotaryEmbedding

from videorope.rope import RopeSpec, apply_rotary, cos_sin, rotary_table


def positions(B=2, L=37, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 5000, (3, B, L), generator=g)


@pytest.mark.parametrize(
    "hf_cls, cfg_cls, allocation, sections",
    [
        (Qwen2VLRotaryEmbedding, Qwen2VLTextConfig, "mrope", [16, 24, 24]),
        (Qwen3VLTextRotaryEmbedding, Qwen3VLTextConfig, "interleaved", [24, 20, 20]),
    ],
)
def test_cos_sin_matches_qwen_rotary_modules(hf_cls, cfg_cls, allocation, sections):
    config = cfg_cls(
        hidden_size=1024,
        num_attention_heads=8,
        head_dim=128,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": sections},
    )
    ref_cos, ref_sin = hf_cls(config)(torch.zeros(1, dtype=torch.float32), positions())
    table = rotary_table(RopeSpec(128, 1e6, 32768), allocation, allocation_options={"sections": sections})
    cos, sin = cos_sin(positions().float(), table)
    torch.testing.assert_close(cos, ref_cos, rtol=0, atol=0)
    torch.testing.assert_close(sin, ref_sin, rtol=0, atol=0)


def test_hope_does_not_rotate_time():
    table = rotary_table(RopeSpec(64, 1e4, 4096), "hope")
    pos = positions()
    moved = pos.clone().float()
    moved[0] += 1234.5  # shift only the temporal axis
    a, b = cos_sin(pos.float(), table), cos_sin(moved, table)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    table_v = rotary_table(RopeSpec(64, 1e4, 4096), "videorope")
    assert not torch.equal(cos_sin(pos.float(), table_v)[0], cos_sin(moved, table_v)[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_apply_rotary_matches_transformers(dtype):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 37, 64, generator=g).to(dtype)
    table = rotary_table(RopeSpec(64, 1e4, 4096))
    cos, sin = cos_sin(torch.arange(37).expand(2, 37), table)
    ref, _ = apply_rotary_pos_emb(q.float(), q.float(), cos, sin)
    before = q.clone()
    out = apply_rotary(q, cos, sin)
    assert torch.equal(q, before), "input not modified"
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), ref, **({} if dtype == torch.float32 else {"atol": 2e-3, "rtol": 2e-3}))


def test_partial_rotary_and_bthd_layout():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 37, 3, 72, generator=g)  # (B, L, H, D), rotary on the first 32 dims
    table = rotary_table(RopeSpec(32, 1e4, 4096))
    cos, sin = cos_sin(torch.arange(37).expand(2, 37), table)
    out = apply_rotary(x, cos, sin, head_axis=2)
    assert torch.equal(out[..., 32:], x[..., 32:])
    ref = apply_rotary(x.transpose(1, 2), cos, sin, head_axis=1).transpose(1, 2)
    torch.testing.assert_close(out, ref)
    # a rotation keeps the norm of every pair
    torch.testing.assert_close(out[..., :32].norm(dim=-1), x[..., :32].norm(dim=-1))


def test_rotary_errors():
    table = rotary_table(RopeSpec(32, 1e4, 4096))
    with pytest.raises(ValueError, match="positions must be"):
        cos_sin(torch.zeros(2, 2, 2, 2), table)
    cos, sin = cos_sin(torch.arange(4).expand(1, 4), table)
    with pytest.raises(ValueError, match="at most the head dim"):
        apply_rotary(torch.zeros(1, 1, 4, 16), cos, sin)
