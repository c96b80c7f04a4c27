"""Patched Qwen2-VL / Qwen2.5-VL / Qwen3-VL: parity with stock, generate vs forward, save/load."""

import copy

import pytest
import torch

import videorope
from videorope.rope import LAYOUTS, positions
from videorope.testing import tiny_model

FAMILIES = ["qwen2_vl", "qwen2_5_vl", "qwen3_vl"]
STOCK_LAYOUT = {"qwen2_vl": "mrope", "qwen2_5_vl": "mrope-time", "qwen3_vl": "qwen3"}
# Videos with T <= max(H, W): there stock transformers places the following text correctly.
ROWS = [
    [("text", 3), ("image", 2, 2), ("text", 2), ("video", 2, 3, 3), ("text", 4)],
    [("text", 5), ("video", 1, 2, 2), ("text", 3), ("image", 1, 3), ("text", 2)],
]


def logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("family", FAMILIES)
def test_stock_layout_equals_stock_transformers(family, attn, vl_batch):
    stock = tiny_model(family, attn_implementation=attn)
    patched = videorope.apply(copy.deepcopy(stock), layout=STOCK_LAYOUT[family])
    batch = vl_batch(stock.config, ROWS)
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(logits(patched, batch)[mask], logits(stock, batch)[mask], rtol=0, atol=0)
    text_only = {k: batch[k] for k in ("input_ids", "attention_mask")}
    text_only["input_ids"] = text_only["input_ids"].clamp(max=239)
    torch.testing.assert_close(logits(patched, text_only)[mask], logits(stock, text_only)[mask], rtol=0, atol=0)


def test_videorope_changes_the_logits(vl_batch):
    stock = tiny_model("qwen2_vl")
    patched = videorope.apply(copy.deepcopy(stock), layout="videorope")
    batch = vl_batch(stock.config, ROWS)
    assert not torch.allclose(logits(patched, batch), logits(stock, batch))


def test_stock_transformers_ignores_t_after_a_video(vl_batch):
    """The installed get_rope_index starts text at start + max(H, W); we follow max(T, H, W)."""
    stock = tiny_model("qwen2_vl")
    patched = videorope.apply(copy.deepcopy(stock), layout="mrope")
    batch = vl_batch(stock.config, [[("text", 1), ("video", 8, 2, 2), ("text", 1)]])
    keys = ("input_ids", "mm_token_type_ids", "video_grid_thw", "attention_mask")
    args = {k: batch[k] for k in keys}
    stock_pos, stock_delta = stock.model.get_rope_index(**args)
    ours, delta = patched.model.get_rope_index(**args)
    # 36 tokens: text, vision_start, 32 video tokens (t = 2..9), vision_end, text
    assert stock_pos[:, 0, -2:].tolist() == [[4, 5]] * 3  # text overlaps the video's t = 2..9
    assert ours[:, 0, -2:].tolist() == [[10.0, 11.0]] * 3
    # stock: the next decoded token gets 36 - 26 = 10, not 6 = its prefill's last + 1
    assert stock_delta.item() == -26
    assert delta.item() == 12 - 36  # ours: last + 1


def make_generation_batch(config, vl_batch):
    rows = [
        [("text", 2), ("video", 3, 2, 2), ("text", 3), ("image", 1, 2), ("text", 2)],
        [("text", 4), ("image", 2, 2), ("text", 1)],
    ]
    return vl_batch(config, rows, seed=3)


@pytest.mark.parametrize("layout", sorted(LAYOUTS.names()))
@pytest.mark.parametrize("family", FAMILIES)
def test_generate_equals_full_forward(family, layout, vl_batch):
    model = videorope.apply(tiny_model(family, seed=1), layout=layout)
    batch = make_generation_batch(model.config, vl_batch)
    out = model.generate(**batch, max_new_tokens=6, do_sample=False, output_logits=True, return_dict_in_generate=True)
    n = batch["input_ids"].shape[1]
    new = out.sequences[:, n:]
    full = dict(batch)
    full["input_ids"] = out.sequences
    full["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones_like(new)], dim=1)
    full["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(new)], dim=1)
    step_logits = logits(model, full)[:, n - 1 : -1]
    assert torch.equal(step_logits.argmax(-1), new)
    torch.testing.assert_close(step_logits, torch.stack(out.logits, dim=1), atol=2e-5, rtol=1e-4)
    # decode positions continue from rope_delta: position of cache index p is p + delta
    keys = ("input_ids", "mm_token_type_ids", "image_grid_thw", "video_grid_thw", "attention_mask")
    pos, delta = model.model.get_rope_index(**{k: full[k] for k in keys})
    _, prompt_delta = model.model.get_rope_index(**{k: batch[k] for k in keys})
    index = full["attention_mask"].cumsum(-1)[:, n:] - 1
    assert torch.equal(pos[:, :, n:], (index + prompt_delta).float().expand(3, -1, -1))
    assert torch.equal(delta, prompt_delta)


@pytest.mark.parametrize(
    "scaling, options",
    [
        ("yarn-v", {"factor": 4}),
        ("yarn", {"factor": 2}),
        ("critical-ntk", {"target_length": 2048}),
        ("linear", {"factor": 2}),
    ],
)
def test_generate_with_scalings_and_sdpa(scaling, options, vl_batch):
    model = videorope.apply(
        tiny_model("qwen2_vl", seed=2, attn_implementation="sdpa"), layout="videorope", scaling=scaling, **options
    )
    batch = make_generation_batch(model.config, vl_batch)
    seq = model.generate(**batch, max_new_tokens=4, do_sample=False)
    new = seq[:, batch["input_ids"].shape[1] :]
    full = dict(batch, input_ids=seq)
    full["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones_like(new)], dim=1)
    full["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(new)], dim=1)
    n = batch["input_ids"].shape[1]
    assert torch.equal(logits(model, full)[:, n - 1 : -1].argmax(-1), new)


def test_temporal_spacing_moves_video_positions(vl_batch):
    model = videorope.apply(tiny_model("qwen2_vl"), layout="videorope", temporal_spacing=0.5)
    batch = vl_batch(model.config, [[("text", 1), ("video", 3, 1, 1), ("text", 1)]])
    keys = ("input_ids", "mm_token_type_ids", "video_grid_thw", "attention_mask")
    pos, _ = model.model.get_rope_index(**{k: batch[k] for k in keys})
    ref, _ = positions("videorope", [("text", 2), ("video", 3, 1, 1), ("text", 2)], temporal_spacing=0.5)
    assert torch.equal(pos[:, 0], ref)
    assert pos[0, 0, 2:5].tolist() == [2.0, 2.5, 3.0]


@pytest.mark.parametrize("family", FAMILIES)
def test_choice_survives_save_and_load(family, tmp_path, vl_batch):
    model = videorope.apply(tiny_model(family), layout="videorope", temporal_spacing=3.0, scaling="yarn-v", factor=2)
    assert model.config.videorope == {
        "layout": "videorope",
        "allocation": "videorope",
        "scaling": "yarn-v",
        "temporal_spacing": 3.0,
        "text_start": "t",
        "temporal": None,
        "factor": 2,
        "original_length": None,
    }
    model.save_pretrained(tmp_path)
    loaded = videorope.from_pretrained(tmp_path).eval()
    assert loaded.config.videorope == model.config.videorope
    batch = vl_batch(model.config, ROWS)
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(logits(loaded, batch)[mask], logits(model, batch)[mask])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layout": "mrope", "temporal_spacing": 2.0}, "option 'temporal_spacing' is not used by layout 'mrope'"),
        ({"layout": "videorope", "temporal_spacing": 0}, "temporal_spacing must be > 0"),
        ({"layout": "mrope", "allocation": "mrope", "sections": [2, 3, 2]}, "summing to head_dim/2 = 8"),
        ({"layout": "diagonal"}, "unknown layout 'diagonal'"),
        ({"scaling": "yarn"}, "needs option(s) factor"),
    ],
)
def test_bad_options_name_the_fix(kwargs, message):
    with pytest.raises(ValueError) as err:
        videorope.apply(tiny_model("qwen2_vl"), **kwargs)
    assert message in str(err.value)


def test_grids_that_do_not_match_the_tokens(vl_batch):
    model = videorope.apply(tiny_model("qwen2_vl"), layout="videorope")
    batch = vl_batch(model.config, [[("text", 2), ("video", 2, 2, 2), ("text", 2)]])
    batch["video_grid_thw"] = torch.tensor([[4, 4, 4]])
    with pytest.raises(ValueError, match="does not match its grids"):
        model.model.get_rope_index(
            batch["input_ids"], batch["mm_token_type_ids"], video_grid_thw=batch["video_grid_thw"]
        )
    with pytest.raises(ValueError, match="not divisible by spatial_merge_size=2"):
        model.model.get_rope_index(
            batch["input_ids"], batch["mm_token_type_ids"], video_grid_thw=torch.tensor([[2, 3, 4]])
        )


def test_unsupported_model_lists_what_is_supported():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    with pytest.raises(ValueError, match="cannot patch model_type 'gpt2'; supported: qwen2_vl, qwen2_5_vl, qwen3_vl"):
        videorope.apply(model)


def test_parity_on_pixels_from_the_real_image_processor(vl_batch):
    """Grids and patches from transformers' own Qwen2-VL image processor, not hand-made."""
    import numpy as np
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    processor = Qwen2VLImageProcessorPil(patch_size=4, temporal_patch_size=2, merge_size=2, max_pixels=48 * 48)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in [(24, 40), (40, 16)]]
    pixels = processor(images=images, return_tensors="pt")
    merged = (pixels["image_grid_thw"][:, 1:] // 2).tolist()
    stock = tiny_model("qwen2_vl")
    patched = videorope.apply(copy.deepcopy(stock), layout="mrope")
    rows = [[("text", 3), ("image", *merged[0]), ("text", 2)], [("text", 1), ("image", *merged[1]), ("text", 4)]]
    batch = vl_batch(stock.config, rows)
    assert torch.equal(batch["image_grid_thw"], pixels["image_grid_thw"])
    batch["pixel_values"] = pixels["pixel_values"]
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(logits(patched, batch)[mask], logits(stock, batch)[mask], rtol=0, atol=0)
    ours = videorope.apply(copy.deepcopy(stock), layout="videorope")
    assert not torch.allclose(logits(ours, batch)[mask], logits(stock, batch)[mask])


def _rotary_inputs(model, batch) -> list[tuple]:
    """The positions and the frequency table that reach each rotary module in a forward pass."""
    from videorope.integrations.base import RotaryEmbedding

    seen = []
    rotaries = [m for m in model.modules() if isinstance(m, RotaryEmbedding)]

    def record(module, args):
        seen.append((args[1].clone(), module.inv_freq.clone(), module.attention_factor))

    hooks = [r.register_forward_pre_hook(record) for r in rotaries]
    logits(model, batch)
    for h in hooks:
        h.remove()
    assert seen
    return seen


def test_apply_keeps_the_choice_a_checkpoint_records(tmp_path, vl_batch):
    """Regression: ``apply(model)`` on a checkpoint saved with mrope + yarn-v kept defaults
    (the videorope layout, the configured scaling) instead of the record."""
    import transformers

    model = videorope.apply(tiny_model("qwen2_vl"), layout="mrope", scaling="yarn-v", factor=4)
    model.save_pretrained(tmp_path)
    batch = vl_batch(model.config, ROWS)
    loaded = videorope.from_pretrained(tmp_path).eval()
    before = _rotary_inputs(loaded, batch)
    plain = transformers.Qwen2VLForConditionalGeneration.from_pretrained(tmp_path).eval()  # stock, record in config
    for again in (videorope.apply(loaded), videorope.apply(plain)):
        assert again.config.videorope == model.config.videorope
        for (p0, f0, a0), (p1, f1, a1) in zip(before, _rotary_inputs(again, batch), strict=True):
            assert torch.equal(p0, p1) and torch.equal(f0, f1) and a0 == a1
    with pytest.warns(UserWarning, match=r"replaces \{'scaling': 'none'\}"):
        changed = videorope.apply(loaded, scaling="none")
    assert changed.config.videorope["layout"] == "mrope" and changed.config.videorope["scaling"] == "none"
    assert "factor" not in changed.config.videorope  # yarn-v's options leave with it


@pytest.mark.parametrize("family", FAMILIES)
def test_unapply_restores_the_stock_model(family, vl_batch):
    from videorope.integrations import base

    stock = tiny_model(family)
    batch = vl_batch(stock.config, ROWS)
    mask = batch["attention_mask"].bool()
    want = logits(stock, batch)[mask]
    model = copy.deepcopy(stock)
    holders = dict(base._HOLDERS)
    videorope.apply(model, layout="videorope", scaling="yarn-v", factor=2)
    assert not torch.equal(logits(model, batch)[mask], want)
    assert videorope.unapply(model) is model
    torch.testing.assert_close(logits(model, batch)[mask], want, rtol=0, atol=0)
    assert not hasattr(model.config, "videorope") and "get_rope_index" not in vars(model.model)
    assert type(model.model.language_model.rotary_emb) is type(stock.model.language_model.rotary_emb)
    assert {k: v for k, v in base._HOLDERS.items() if v} == {k: v for k, v in holders.items() if v}
    with videorope.applied(model, layout="mrope") as patched:  # patched inside the block only
        assert patched.config.videorope["layout"] == "mrope"
    torch.testing.assert_close(logits(model, batch)[mask], want, rtol=0, atol=0)


def test_applied_leaves_a_patched_model_as_it_was(vl_batch):
    model = videorope.apply(tiny_model("qwen2_vl"), layout="videorope", temporal_spacing=2.0)
    batch = vl_batch(model.config, ROWS)
    before = logits(model, batch)
    with pytest.warns(UserWarning, match="replaces"), videorope.applied(model, layout="vanilla"):
        assert model.config.videorope["layout"] == "vanilla"
    assert model.config.videorope["layout"] == "videorope" and model.config.videorope["temporal_spacing"] == 2.0
    torch.testing.assert_close(logits(model, batch), before, rtol=0, atol=0)
