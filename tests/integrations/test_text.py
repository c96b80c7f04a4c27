"""Text decoders: our rotary equals stock transformers for every scaling it also implements."""

import copy

import pytest
import torch

import videorope
from videorope.rope import default_inv_freq
from videorope.testing import tiny_model


def stock_with(family, rope_parameters, seed=0):
    params = {"rope_theta": 10000.0, **rope_parameters}
    return tiny_model(family, seed=seed, rope_parameters=params)


def run(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


IDS = torch.randint(0, 256, (2, 700), generator=torch.Generator().manual_seed(0))  # past max_position 512


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3"])
@pytest.mark.parametrize(
    "scaling, options, hf",
    [
        ("none", {}, {"rope_type": "default"}),
        ("linear", {"factor": 4}, {"rope_type": "linear", "factor": 4.0}),
        ("dynamic", {"factor": 2}, {"rope_type": "dynamic", "factor": 2.0}),
        ("yarn", {"factor": 4}, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 512}),
    ],
)
def test_scalings_equal_stock(family, scaling, options, hf):
    stock = stock_with(family, hf)
    plain = tiny_model(family)
    patched = videorope.apply(plain, scaling=scaling, **options)
    torch.testing.assert_close(run(patched, IDS), run(stock, IDS))


def test_ntk_and_critical_ntk_equal_a_stock_model_with_the_new_base():
    d = 16
    for scaling, options, base in [
        ("ntk", {"factor": 4}, 1e4 * 4 ** (d / (d - 2))),
        ("critical-ntk", {"target_length": 2048, "round_up": False}, None),
    ]:
        patched = videorope.apply(tiny_model("llama"), scaling=scaling, **options)
        if base is None:  # read the base back from the lowest frequency
            base = patched.model.rotary_emb.inv_freq[1].item() ** (-d / 2)
        assert torch.allclose(patched.model.rotary_emb.inv_freq, default_inv_freq(d, base), rtol=1e-4)
        stock = stock_with("llama", {"rope_type": "default", "rope_theta": base})
        torch.testing.assert_close(run(patched, IDS[:, :64]), run(stock, IDS[:, :64]), atol=1e-4, rtol=1e-4)


def test_keeps_the_configured_scaling_by_default():
    stock = stock_with("llama", {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 512})
    patched = videorope.apply(copy.deepcopy(stock))
    assert patched.config.videorope["scaling"] == "yarn"
    torch.testing.assert_close(run(patched, IDS), run(stock, IDS))


def test_text_models_take_no_layout():
    with pytest.raises(ValueError, match="text model with 1D positions"):
        videorope.apply(tiny_model("llama"), layout="videorope")


def test_generate_and_reload(tmp_path):
    model = videorope.apply(tiny_model("llama"), scaling="critical-ntk", target_length=4096)
    ids = IDS[:, :20]
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False)
    full = run(model, out)[:, 19:-1].argmax(-1)
    assert torch.equal(full, out[:, 20:])
    model.save_pretrained(tmp_path)
    loaded = videorope.from_pretrained(tmp_path)
    assert loaded.config.videorope == {
        "layout": None,
        "allocation": "vanilla",
        "scaling": "critical-ntk",
        "target_length": 4096,
        "round_up": True,
    }
    torch.testing.assert_close(run(loaded.eval(), ids), run(model, ids))


def test_option_names_are_disjoint_across_kinds():
    """apply() routes flat options by name, so no two kinds may share an option name."""
    from videorope.rope import ALLOCATIONS, LAYOUTS, SCALINGS

    kinds = [{k for entry in registry for k in entry.options} for registry in (LAYOUTS, ALLOCATIONS, SCALINGS)]
    assert not (kinds[0] & kinds[1]) and not (kinds[0] & kinds[2]) and not (kinds[1] & kinds[2])


def test_unapply_restores_a_text_model():
    stock = tiny_model("llama")
    model = videorope.apply(copy.deepcopy(stock), scaling="yarn", factor=4)
    assert not torch.equal(run(model, IDS), run(stock, IDS))
    torch.testing.assert_close(run(videorope.unapply(model), IDS), run(stock, IDS), rtol=0, atol=0)
    assert not hasattr(model.config, "videorope")
