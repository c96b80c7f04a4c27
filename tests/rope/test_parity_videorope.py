"""Positions against golden numbers produced by running the authors' released code.

``tests/golden/videorope_positions.json`` holds what ``Wiselnn570/VideoRoPE`` at 7712ca3f
computes (``videorope-transformer/modeling_videorope.py``: ``get_rope_index``,
``get_vanilla_rope_index``, ``get_t_scale_rope_index`` with scale 2, ``tad_rope`` =
``get_time_rope_index + get_vanilla_rope_index``; the VideoRoPE++ vLLM
``rotary_embedding.py``: ``get_input_t_scale_modify_positions_tensor``) on three sequences;
``tests/golden/make_videorope_positions.py`` made it. Decoding continues at
``cache_index + delta`` (``2 * cache_index + delta`` for tad_rope).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

import videorope
from videorope.rope import positions, text_step
from videorope.testing import tiny_model

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "videorope_positions.json").read_text())
ORACLES = {  # released function -> (our layout, options)
    "get_rope_index": ("mrope", {}),
    "get_vanilla_rope_index": ("vanilla", {}),
    "get_t_scale_rope_index": ("videorope", {}),
    "tad_rope": ("tad", {}),
    "videorope_plus_vllm": ("videorope", {"text_start": "max"}),
}


def _segments(case: dict) -> list[tuple]:
    merge = GOLDEN["merge"]
    out = []
    for kind, size in case["segments"]:
        if kind == "text":
            out.append(("text", size))
        elif kind == "video":
            out.append(("video", size[0], size[1] // merge, size[2] // merge))
        else:
            out.append(("image", size[1] // merge, size[2] // merge))
    return out


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("case", sorted(GOLDEN["cases"]))
def test_positions_and_deltas_equal_the_released_code(case, oracle):
    layout, options = ORACLES[oracle]
    record = GOLDEN["cases"][case]
    pos, following = positions(layout, _segments(record), **options)
    length = len(record["input_ids"])
    assert torch.equal(pos, torch.tensor(record[oracle]["positions"], dtype=torch.float32))
    # the released decoding rule: the token at cache index L sits at step * L + delta
    assert following - text_step(layout) * length == record[oracle]["delta"]


def test_the_patched_model_hands_tad_positions_through_the_decoding_rule():
    """tad advances text by 2: the model is handed positions / 2 and frequencies x 2, so
    transformers' cache index + delta gives the released 2 * cache index + delta, and the
    angles equal the released positions' bit for bit."""
    record = GOLDEN["cases"]["video"]
    model = videorope.apply(tiny_model("qwen2_vl"), layout="tad")
    c, ids = model.config, GOLDEN["ids"]
    token = {1: 10, ids["vision_start"]: c.vision_start_token_id, ids["video"]: c.video_token_id}
    input_ids = torch.tensor([[token[i] for i in record["input_ids"]]])
    stored, delta = model.model.get_rope_index(
        input_ids, mm_token_type_ids=(input_ids == c.video_token_id).long() * 2,
        video_grid_thw=torch.tensor([record["segments"][1][1]]), attention_mask=torch.ones_like(input_ids),
    )  # fmt: skip
    golden = torch.tensor(record["tad_rope"]["positions"], dtype=torch.float32)
    assert torch.equal(2 * stored[:, 0], golden) and 2 * delta.item() == record["tad_rope"]["delta"]
    rotary = model.model.language_model.rotary_emb
    plain = videorope.apply(copy.deepcopy(tiny_model("qwen2_vl")), layout="vanilla").model.language_model.rotary_emb
    x = torch.zeros(1, dtype=torch.float32)
    for a, b in zip(rotary(x, stored), plain(x, golden[:, None]), strict=True):
        assert torch.equal(a, b)


def test_lta_rotary_equals_the_released_code_bit_for_bit():
    """VideoRoPE's low-frequency temporal allocation: cos/sin from the "video" case's diagonal
    positions and q rotated, as ``Qwen2VLRotaryEmbedding.forward`` and
    ``apply_m_modify_multimodal_rotary_pos_emb`` of the released code compute them
    (``tests/golden/videorope_rotary.json``, made by ``tests/golden/make_videorope_rotary.py``)."""
    from videorope.integrations.base import PositionalChoice, RotaryEmbedding
    from videorope.rope import RopeSpec, apply_rotary

    rotary_golden = json.loads((Path(__file__).parents[1] / "golden" / "videorope_rotary.json").read_text())
    pos = torch.tensor(GOLDEN["cases"]["video"]["get_t_scale_rope_index"]["positions"], dtype=torch.float32)
    spec = RopeSpec(rotary_golden["head_dim"], rotary_golden["base"], 32768)
    choice = PositionalChoice.build("videorope", "videorope", "none", {})
    cos, sin = RotaryEmbedding(spec, choice)(torch.zeros(1), pos[:, None, :])
    q = torch.tensor(rotary_golden["q"])
    assert torch.equal(apply_rotary(q, cos, sin), torch.tensor(rotary_golden["q_embed"]))


def test_yarn_v_frequencies_equal_videorope_plus_plus():
    """YaRN-V: VideoRoPE++'s ``videorope++_v1`` (vLLM ``MRotaryEmbedding.post_init``): spatial
    frequencies untouched, the 16 temporal ones from the base stretched for 4 x 32768."""
    from videorope.integrations.base import PositionalChoice, RotaryEmbedding
    from videorope.rope import RopeSpec

    golden = json.loads((Path(__file__).parents[1] / "golden" / "videorope_rotary.json").read_text())["yarn_v"]
    spec = RopeSpec(128, golden["base"], 32768)
    choice = PositionalChoice.build("videorope", "videorope", "yarn-v", {"factor": golden["factor"]})
    rotary = RotaryEmbedding(spec, choice)
    assert torch.equal(rotary.inv_freq, torch.tensor(golden["inv_freq"]))  # bit for bit
    assert rotary.attention_factor == 1.0
