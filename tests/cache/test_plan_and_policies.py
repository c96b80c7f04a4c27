"""Channel plans (schedules, ranking by error, files), calibration on a model, and the
StreamingLLM / SnapKV baselines against the full cache."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from videorope.cache import FourierOptions, FourierPlan, schedule
from videorope.cache.calibrate import (
    Calibration,
    _cache_states,
    _middle_errors,
    _projection_states,
    calibrate,
    kept_vs_critical,
)
from videorope.cache.plan import kv_shape
from videorope.cache.policies import build_cache
from videorope.testing import tiny_model


def test_the_inverted_pyramid_is_the_papers_schedule_and_compresses_about_76_percent():
    keys, values = schedule("inverted-pyramid", 28)  # Llama-3.2-3B
    assert keys == [0.9] * 4 + [0.8] * 16 + [0.5] * 8
    assert values == [0.95] * 4 + [0.8] * 16 + [0.7] * 8
    errors = torch.rand(28, 8, 128, generator=torch.Generator().manual_seed(0))
    assert FourierPlan.from_errors(errors, errors).compressed_fraction() == pytest.approx(0.76, abs=0.01)
    assert schedule("uniform:0.5", 3) == ([0.5] * 3, [0.5] * 3)
    with pytest.raises(ValueError, match="unknown compression schedule"):
        schedule("pyramid", 3)
    with pytest.raises(ValueError, match="fraction in \\[0, 1\\]"):
        schedule("uniform:1.5", 3)
    with pytest.raises(ValueError, match="takes no value"):
        schedule("inverted-pyramid:2", 3)


def test_a_plan_keeps_the_worst_reconstructed_channels_and_survives_a_file(tmp_path):
    errors = torch.zeros(1, 2, 8)
    errors[0, 0, [6, 1]] = 1.0
    errors[0, 1, [0, 3]] = 1.0
    plan = FourierPlan.from_errors(errors, errors, "uniform:0.75")
    assert plan.keys == (((1, 6), (0, 3)),) and plan.values == plan.keys
    plan.save(tmp_path / "dims.json")
    assert FourierPlan.load(tmp_path / "dims.json") == plan
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="videorope fourier calibrate"):
        FourierPlan.load(tmp_path / "bad.json")


def test_ranking_across_a_layers_heads_keeps_different_counts_per_head():
    """The original ranks all channels of a layer together: a head with the worst errors keeps
    them all; rank='head' keeps the same count in every head."""
    errors = torch.zeros(1, 2, 8)
    errors[0, 0, [1, 2, 5, 6]] = torch.tensor([4.0, 3.0, 2.0, 1.0])
    errors[0, 1, 0] = 0.5
    layer = FourierPlan.from_errors(errors, errors, "uniform:0.75")
    assert layer.keys == (((1, 2, 5, 6), ()),) and layer.meta["rank"] == "layer"
    head = FourierPlan.from_errors(errors, errors, "uniform:0.75", rank="head")
    assert head.keys[0][0] == (1, 2) and len(head.keys[0][1]) == 2 and 0 in head.keys[0][1]
    # int(), not round(): 0.8 of 2 x 8 channels compresses int(12.8) = 12, keeps 4
    assert sum(map(len, FourierPlan.from_errors(errors, errors, "uniform:0.8").keys[0])) == 4
    with pytest.raises(ValueError, match="rank must be one of layer, head"):
        FourierPlan.from_errors(errors, errors, rank="model")


def test_channel_errors_rank_noisy_channels_above_smooth_ones():
    options = FourierOptions(max_length=300, sinks=4, window=16, frequencies=16)
    t = torch.arange(300.0)
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.sin(2 * torch.pi * 3 * t / 280), torch.randn(300, generator=g)], -1)  # (L, 1 head x 2)
    errors = _middle_errors(x, 1, 4, 16, options, 280, affine=False)
    assert errors[0, 0] < 1e-3 < 0.5 < errors[0, 1]
    assert _middle_errors(x, 1, 4, 16, options, 280, affine=True)[0, 0] < 1e-3


def test_the_projection_source_sees_keys_before_rope():
    """Values are the same from both sources; keys differ by the rotation only (pair norms equal)."""
    model = tiny_model("llama")
    ids = torch.randint(5, 200, (60,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        projection, cache = _projection_states(model, ids), _cache_states(model, ids)
    for (pk, pv), (ck, cv) in zip(projection, cache, strict=True):
        torch.testing.assert_close(pv, cv)
        assert not torch.allclose(pk, ck, atol=1e-3)
        pair_norm = lambda k: k.view(60, -1, 2, 8).pow(2).sum(2)  # noqa: E731  rotate-half pairs (i, i + 8)
        torch.testing.assert_close(pair_norm(pk), pair_norm(ck), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("recipe", [Calibration(window=None), "videorope"])
def test_calibration_on_a_model_follows_the_schedule(recipe):
    model = tiny_model("llama")
    options = FourierOptions(max_length=256, sinks=4, window=16, frequencies=16)
    prompts = [torch.randint(5, 200, (200,), generator=torch.Generator().manual_seed(s)) for s in range(2)]
    plan = calibrate(model, prompts, options, "uniform:0.75", recipe=recipe, progress=False)
    assert (plan.num_layers, len(plan.keys[0]), plan.head_dim) == kv_shape(model.config)
    assert plan.compressed_fraction() == 0.75 and plan.meta["prompts"] == [200, 200]
    with pytest.raises(ValueError, match="must be longer than 2 x frequencies"):
        calibrate(model, [prompts[0][:40]], options, recipe=recipe, progress=False)


def test_kept_channels_are_placed_against_the_critical_dimension():
    plan = FourierPlan(((((0, 4, 5, 7),),),)[0], (((0,),),), 8)  # pairs 0, 0, 1, 3 of 4
    report = kept_vs_critical(plan, critical_dim=4)  # pairs 2 and 3 are the low-frequency ones
    assert report["kept_per_pair"] == [2, 1, 0, 1]
    assert report["kept_low_frequency_share"] == 0.25 and report["chance_share"] == 0.5


def _prefill_and_decode(model, cache, ids, steps: int = 6):
    """Logits of the prompt's last token and of ``steps`` decoded tokens, one at a time (the
    tokens are the prompt's first ones again, so every cache sees the same sequence)."""
    logits = [model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1]]
    for t in range(steps):
        logits.append(model(input_ids=ids[:, t : t + 1], past_key_values=cache, use_cache=True).logits[:, -1])
    return logits


@pytest.mark.parametrize("policy", ["streaming", "snapkv"])
def test_a_budget_that_holds_everything_is_the_full_cache(policy):
    model = tiny_model("llama")
    ids = torch.randint(5, 200, (1, 90), generator=torch.Generator().manual_seed(1))
    full = _prefill_and_decode(model, DynamicCache(), ids)
    same = _prefill_and_decode(model, build_cache(policy, model, budget=200), ids)
    assert all(torch.equal(a, b) for a, b in zip(full, same, strict=True))


def test_streaming_keeps_the_sinks_and_the_most_recent_tokens():
    model = tiny_model("llama")
    ids = torch.randint(5, 200, (1, 90), generator=torch.Generator().manual_seed(1))
    full, cache = DynamicCache(), build_cache("streaming", model, budget=24, sinks=4)
    _prefill_and_decode(model, full, ids)
    logits = _prefill_and_decode(model, cache, ids)
    keys, kept = full.layers[0].keys, cache.layers[0].keys  # layer 0 keys depend on tokens and positions only
    assert cache.get_seq_length() == full.get_seq_length() == 96
    assert torch.equal(kept, torch.cat([keys[..., :4, :], keys[..., -20:, :]], dim=-2))
    assert torch.isfinite(torch.stack(logits)).all()


def test_snapkv_keeps_its_budget_of_prompt_tokens_with_the_observation_window():
    model = tiny_model("llama", attn_implementation="sdpa")
    ids = torch.randint(5, 200, (1, 90), generator=torch.Generator().manual_seed(2))
    full, cache = DynamicCache(), build_cache("snapkv", model, budget=40, observe=8, pool=3)
    _prefill_and_decode(model, full, ids, steps=3)
    _prefill_and_decode(model, cache, ids, steps=3)
    assert not cache.pending  # the hook let go once every layer had compressed its prompt
    for layer in range(2):
        keys, kept = full.layers[layer].keys, cache.layers[layer].keys
        assert kept.shape[-2] == 40 + 3
        assert torch.equal(kept[..., 32:40, :], keys[..., 82:90, :])  # the observation window
        for h in range(keys.shape[1]):  # the rest: distinct keys from before it, in order
            match = (kept[0, h, :32, None] == keys[0, h, None, :82]).all(-1)
            assert match.any(-1).all() and (match.float().argmax(-1).diff() > 0).all()


def test_a_snapkv_cache_never_used_leaves_no_hook_on_its_model():
    """Dropping an unused SnapKV cache, or closing it, restores transformers' attention entry."""
    import gc

    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    from videorope.analysis import hooks

    model = tiny_model("llama", attn_implementation="sdpa")
    before = dict(ALL_ATTENTION_FUNCTIONS._local_mapping)
    cache = build_cache("snapkv", model, budget=40)
    assert hooks._active and ALL_ATTENTION_FUNCTIONS._local_mapping != before
    del cache
    gc.collect()
    assert not hooks._active and ALL_ATTENTION_FUNCTIONS._local_mapping == before
    cache = build_cache("snapkv", model, budget=40)
    cache.close()
    cache.close()
    assert not hooks._active and ALL_ATTENTION_FUNCTIONS._local_mapping == before
    with pytest.raises(ValueError, match="pool"):
        build_cache("snapkv", model, budget=40, pool=4)


def test_evicting_policies_refuse_a_padded_batch():
    model = tiny_model("llama")
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    for policy in ("streaming", "snapkv"):
        with pytest.raises(ValueError, match="one sequence at a time"):
            build_cache(policy, model, mask, budget=10)
    with pytest.raises(ValueError, match="needs option\\(s\\) plan"):
        build_cache("fourier", model)
    with pytest.raises(ValueError, match="one source"):
        build_cache("fourier", model, plan=FourierPlan.full(model.config))
