"""The LLaDA prompt cache: a step that reuses freshly recorded prompt keys and values equals the
full forward, exact or Fourier-stored with every channel exact; compressed storage holds fewer
bytes; refresh=1 samples exactly as without a cache; bad settings are refused."""

from __future__ import annotations

import pytest
import torch
from conftest import every_other_channel_plan

from videorope.cache import FourierOptions, FourierPlan
from videorope.llada import tiny_llada
from videorope.llada.cache import PromptCache
from videorope.llada.sampler import generate

OPTIONS = FourierOptions(
    max_length=64, sinks=2, window=8, frequencies=4, affine=False
)  # random keys: no affine stretch


def _canvas(prompt: int = 40, masks: int = 8) -> torch.Tensor:
    ids = torch.randint(0, 200, (2, prompt), generator=torch.Generator().manual_seed(0))
    return torch.cat([ids, torch.full((2, masks), 255)], 1)


@pytest.mark.parametrize("store", ["exact", "fourier-all-exact"])
def test_reusing_fresh_prompt_keys_equals_the_full_forward(store):
    model, canvas = tiny_llada(), _canvas()
    fourier = {"plan": FourierPlan.full(model.config), "options": OPTIONS} if store != "exact" else {}
    cache = PromptCache(40, refresh=2, **fourier)
    with torch.no_grad():
        full = model(canvas, prompt_cache=cache).logits
        assert not cache.full_forward()
        reused = model(canvas, prompt_cache=cache).logits
    assert reused.shape == (2, 8, 256) and cache.full_forward()  # refreshes after 2 steps
    torch.testing.assert_close(reused, full[:, 40:], rtol=1e-5, atol=1e-5)


def test_a_compressed_prompt_holds_fewer_bytes_and_stays_close():
    model, canvas = tiny_llada(), _canvas()
    exact, compressed = PromptCache(40, 2), PromptCache(40, 2, every_other_channel_plan(model.config), OPTIONS)
    with torch.no_grad():
        results = []
        for cache in (exact, compressed):
            model(canvas, prompt_cache=cache)
            results.append(model(canvas, prompt_cache=cache).logits)
    assert compressed.nbytes() < 0.8 * exact.nbytes()
    assert 0 < (results[0] - results[1]).abs().max() < 0.5 * results[0].abs().max()


def test_refresh_every_step_samples_as_without_a_cache():
    model, canvas = tiny_llada(), _canvas(masks=0)
    settings = {"gen_length": 8, "block_length": 4, "steps": 4, "progress": False}
    plain = generate(model, canvas, **settings)
    assert torch.equal(generate(model, canvas, prompt_cache=PromptCache(40, 1), **settings), plain)
    cached = generate(model, canvas, prompt_cache=PromptCache(40, 4), **settings)
    assert cached.shape == plain.shape and not (cached == 255).any()


def test_bad_prompt_caches_are_refused():
    model, canvas = tiny_llada(), _canvas(masks=0)
    with pytest.raises(ValueError, match="fresh PromptCache"):
        generate(model, canvas, gen_length=4, block_length=4, steps=4, cfg_scale=1.0, prompt_cache=PromptCache(40, 2))
    with pytest.raises(ValueError, match="fresh PromptCache"):
        generate(model, canvas, gen_length=4, block_length=4, steps=4, prompt_cache=PromptCache(39, 2))
    with pytest.raises(ValueError, match="both plan= and options="):
        PromptCache(40, 2, plan=every_other_channel_plan(model.config))
    with pytest.raises(ValueError, match="below the prompt length"):
        PromptCache(80, 2, every_other_channel_plan(model.config), OPTIONS)


def test_a_plan_calibrated_on_llada_compresses_the_prompt_cache():
    """calibrate() sees LLaDA's keys and values through a transformers cache, like a decoder's."""
    from videorope.cache.calibrate import Calibration, calibrate

    model, canvas = tiny_llada(), _canvas()
    prompts = [torch.randint(0, 200, (60,), generator=torch.Generator().manual_seed(s)) for s in range(2)]
    plan = calibrate(model, prompts, OPTIONS, "uniform:0.5", Calibration(window=None), progress=False)
    assert (plan.num_layers, plan.head_dim, plan.compressed_fraction()) == (2, 16, 0.5)
    cache = PromptCache(40, 2, plan, OPTIONS)
    with torch.no_grad():
        model(canvas, prompt_cache=cache)
        assert model(canvas, prompt_cache=cache).logits.shape == (2, 8, 256)
