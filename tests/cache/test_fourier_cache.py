"""FourierCache against transformers' DynamicCache and against a direct computation: every
channel exact is bit-identical, the compressed middle is the truncated DFT it claims to be,
left-padded batches keep each row's sinks, memory accounting matches tensor sizes, bad
options are refused."""

from __future__ import annotations

import pytest
import torch
from conftest import passkey_prompt
from transformers import DynamicCache

from videorope.cache import FourierCache, FourierOptions, FourierPlan, reference_attention
from videorope.cache.dft import affine_fit, reconstruct, truncated_dft
from videorope.cache.fourier import expected_nbytes
from videorope.testing import tiny_model

OPTIONS = {"max_length": 200, "sinks": 4, "window": 16, "frequencies": 8}


def _half_plan(layers: int = 2, heads: int = 2, head_dim: int = 16) -> FourierPlan:
    """Each head keeps 4 channels of K and 4 of V, different per head."""
    kept = tuple(tuple(tuple(range(4 * h + layer, 4 * h + layer + 4)) for h in range(heads)) for layer in range(layers))
    return FourierPlan(kept, kept, head_dim)


def _batch(lengths=(120, 113), seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(5, 200, (len(lengths), width), generator=g)
    mask = torch.tensor([[0] * (width - n) + [1] * n for n in lengths])
    return {"input_ids": ids * mask, "attention_mask": mask}


def _generate(model, batch, cache, new: int = 12):
    return model.generate(**batch, past_key_values=cache, max_new_tokens=new, do_sample=False, pad_token_id=0,
                          output_logits=True, return_dict_in_generate=True)  # fmt: skip


@pytest.mark.parametrize("family", ["llama", "qwen2_vl"])
def test_every_channel_exact_is_the_full_cache_bit_for_bit(family):
    model = tiny_model(family)
    batch = _batch()
    plan = FourierPlan.full(model.config)
    full = _generate(model, batch, DynamicCache())
    fourier = _generate(model, batch, FourierCache(plan, attention_mask=batch["attention_mask"], **OPTIONS))
    assert torch.equal(full.sequences, fourier.sequences)
    assert all(torch.equal(a, b) for a, b in zip(full.logits, fourier.logits, strict=True))


def test_compressed_generation_runs_and_differs_from_the_full_cache():
    model = tiny_model("llama")
    batch = _batch()
    full = _generate(model, batch, DynamicCache())
    cache = FourierCache(_half_plan(), attention_mask=batch["attention_mask"], **OPTIONS)
    out = _generate(model, batch, cache)
    assert out.sequences.shape == full.sequences.shape
    assert torch.equal(out.logits[0], full.logits[0])  # the first token comes from the exact prefill
    assert not torch.equal(out.logits[-1], full.logits[-1])
    assert cache.get_seq_length() == batch["input_ids"].shape[1] + 11


def test_a_padded_row_decodes_as_it_would_alone():
    """The longest-padded row keeps its own sinks exact, so batched it equals itself alone."""
    model = tiny_model("llama", attn_implementation="sdpa")
    batch = _batch((120, 101))
    alone = {k: v[1:, 19:] for k, v in batch.items()}
    together = _generate(model, batch, FourierCache(_half_plan(), attention_mask=batch["attention_mask"], **OPTIONS))
    single = _generate(model, alone, FourierCache(_half_plan(), **OPTIONS))
    for a, b in zip(together.logits, single.logits, strict=True):
        torch.testing.assert_close(a[1:], b, rtol=1e-4, atol=1e-4)


def _filled_layer(tokens: int = 150, plan: FourierPlan | None = None, seed: int = 0, **options):
    """A FourierCache layer fed a prefill of ``tokens`` then 20 single tokens; the raw K/V."""
    g = torch.Generator().manual_seed(seed)
    k, v = torch.randn(2, 2, 2, tokens + 20, 16, generator=g)
    cache = FourierCache(plan or _half_plan(1), **{**OPTIONS, **options})
    cache.update(k[..., :tokens, :], v[..., :tokens, :], 0)
    for t in range(tokens, tokens + 20):
        cache.update(k[..., t : t + 1, :], v[..., t : t + 1, :], 0)
    return cache, k, v


def _ragged_plan() -> FourierPlan:
    """One layer whose two heads keep different numbers of channels (as a plan ranked across
    a layer's heads): K 6 and 2, V 1 and 5."""
    return FourierPlan((((0, 3, 5, 8, 12, 15), (1, 9)),), (((4,), (0, 2, 6, 7, 11)),), 16)


def _dft_at(x: torch.Tensor, times: torch.Tensor, frequencies: int, period: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The DFT bins of x (..., T, C) placed at ``times`` (T,), straight from the formula in float64."""
    angles = 2 * torch.pi * torch.outer(torch.arange(frequencies, dtype=torch.float64), times.double()) / period
    return angles.cos() @ x.double(), angles.sin() @ x.double()


@pytest.mark.parametrize("plan", ["half", "ragged"])
@pytest.mark.parametrize(("affine", "stream_offset"), [(False, 0), (True, 1), (True, 0)])
def test_the_middle_is_the_truncated_dft_of_every_token_that_left_the_window(affine, stream_offset, plan):
    """Prefill tokens at their middle index, streamed ones at index + stream_offset (the
    released code's counter runs one ahead); the affine fitted on the prefill's middle."""
    plan = _half_plan(1) if plan == "half" else _ragged_plan()
    cache, k, _ = _filled_layer(plan=plan, affine=affine, stream_offset=stream_offset)
    o, layer = cache.options, cache.layers[0]
    keys, _ = layer.materialize()
    L, first = k.shape[-2], 150 - o.sinks - o.window
    torch.testing.assert_close(keys[..., : o.sinks, :], k[..., : o.sinks, :], rtol=0, atol=0)
    torch.testing.assert_close(keys[..., L - o.window :, :], k[..., L - o.window :, :], rtol=0, atol=0)
    middle = k[..., o.sinks : L - o.window, :]
    times = torch.arange(middle.shape[-2])
    times[first:] += stream_offset
    for h in range(2):
        kept = list(plan.keys[0][h])
        dropped = [c for c in range(16) if c not in kept]
        assert torch.equal(keys[:, h, o.sinks : L - o.window][..., kept], middle[:, h][..., kept])
        c_cos, c_sin = _dft_at(middle[:, h][..., dropped], times, o.frequencies, o.period)
        expected = reconstruct(c_cos.float(), c_sin.float(), middle.shape[-2], o.period)
        if affine:
            prefill = middle[:, h, :first][..., dropped]
            c = truncated_dft(prefill, o.frequencies, o.period)
            scale, shift = affine_fit(prefill, reconstruct(*c, first, o.period))
            expected = scale * expected + shift
        torch.testing.assert_close(keys[:, h, o.sinks : L - o.window][..., dropped], expected, rtol=1e-5, atol=1e-5)


def test_a_sequence_no_longer_than_sinks_window_and_bins_stays_exact():
    """The released code compresses nothing until the sequence passes sinks + window + 2F."""
    o = FourierOptions(**OPTIONS)
    cache, k, v = _filled_layer(tokens=o.compress_above - 20)  # 20 more single tokens reach it exactly
    assert cache.layers[0].middle[0].length == 0
    assert torch.equal(cache.layers[0].materialize()[0], k)
    cache.update(k[..., :1, :], v[..., :1, :], 0)  # one past: the middle is written
    assert cache.layers[0].middle[0].length == o.compress_above + 1 - o.sinks - o.window


def test_the_period_is_sized_per_prompt():
    """max_new_tokens: P = prompt + max_new_tokens - sinks - window, fixed at the prefill."""
    options = {**OPTIONS, "max_length": None, "max_new_tokens": 30}
    cache, _, _ = _filled_layer(tokens=150, **options)
    assert cache.layers[0].options.period == 150 + 30 - 4 - 16
    assert FourierOptions(**options).for_prompt(2).period == FourierOptions(**options).compress_above + 1 - 20
    with pytest.raises(ValueError, match="planned for max_length=160"):
        _filled_layer(tokens=150, **{**options, "max_new_tokens": 10})


def test_reference_attention_is_dense_attention_over_the_reconstruction():
    cache, _, _ = _filled_layer()
    layer = cache.layers[0]
    q = torch.randn(2, 6, 1, 16, generator=torch.Generator().manual_seed(3))  # GQA: 3 query heads per KV head
    mask = torch.ones(2, layer.seen, dtype=torch.long)
    mask[1, :5] = 0
    out = reference_attention(q, layer.view(), 0.25, torch.tensor([0, 5]))
    keys, values = layer.materialize()
    dense = torch.nn.functional.scaled_dot_product_attention(
        q, keys, values, attn_mask=mask.bool()[:, None, None, :], scale=0.25, enable_gqa=True
    )
    torch.testing.assert_close(out, dense, rtol=1e-5, atol=1e-5)


def test_memory_accounting_matches_the_tensors():
    cache, k, _ = _filled_layer(affine=True)
    o, B, H, L, D = cache.options, 2, 2, k.shape[-2], 16
    prefix_bytes, window_bytes = 2 * B * H * o.sinks * D * 4, 2 * B * H * o.window * D * 4
    middle, exact, compressed = L - o.sinks - o.window, 4 + 4, 12 + 12
    assert cache.breakdown() == {
        "prefix": prefix_bytes, "window": window_bytes, "middle_exact": B * H * middle * exact * 4,
        "coefficients": 2 * B * H * o.frequencies * compressed * 4, "affine": 2 * B * H * compressed * 4,
        "full": 2 * B * H * L * D * 4,
    }  # fmt: skip
    full = DynamicCache()
    full.update(k, k, 0)
    assert cache.breakdown()["full"] == sum(t.numel() * t.element_size() for t in (full.layers[0].keys,) * 2)
    assert cache.nbytes() == sum(v for p, v in cache.breakdown().items() if p != "full")
    half, _, _ = _filled_layer(coefficient_dtype=torch.bfloat16, affine=False)
    assert (
        half.breakdown()["coefficients"] == cache.breakdown()["coefficients"] // 2 and half.breakdown()["affine"] == 0
    )
    for c in (cache, half):
        assert expected_nbytes(c.plan, c.options, L, torch.float32, batch=B) == c.nbytes()
    assert expected_nbytes(cache.plan, cache.options, 15, torch.float32) == 2 * H * 15 * D * 4  # no middle yet


def test_a_cache_filled_past_its_planned_length_says_so():
    with pytest.raises(ValueError, match="planned for max_length=60"):
        _filled_layer(tokens=50, max_length=60, window=8, frequencies=4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_new_tokens": 10}, "one source"),
        ({"max_length": None}, "one source"),
        ({"stream_offset": -1}, "must be >= 0"),
        ({"frequencies": 100}, "below half the period"),
        ({"sinks": -1}, "must be >= 0"),
        ({"coefficient_dtype": torch.int32}, "floating dtype"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        FourierOptions(**{**OPTIONS, **options})


def test_plans_that_do_not_fit_the_model_or_the_batch_are_refused():
    model = tiny_model("llama")
    batch = _batch()
    with pytest.raises(ValueError, match="within \\[0, 16\\)"):
        FourierPlan(((tuple(range(3, 17)),) * 2,) * 2, ((tuple(range(4)),) * 2,) * 2, 16)
    assert _ragged_plan().kept(0, "values").tolist() == [[4, -1, -1, -1, -1], [0, 2, 6, 7, 11]]
    with pytest.raises(ValueError, match="plan has 1 KV heads"):
        _generate(
            model, batch, FourierCache(FourierPlan.full(tiny_model("llama", num_key_value_heads=1).config), **OPTIONS)
        )
    with pytest.raises(ValueError, match="covers 1 layers"):
        _generate(
            model, batch, FourierCache(FourierPlan.full(tiny_model("llama", num_hidden_layers=1).config), **OPTIONS)
        )
    right = batch["attention_mask"].flip(-1)
    with pytest.raises(ValueError, match="padding_side = 'left'"):
        FourierCache(_half_plan(), attention_mask=right, **OPTIONS)


def test_real_model_finds_the_passkey_through_a_compressed_middle():
    """SmolLM2 at ~1.5K tokens, the needle in the middle segment, half of its channels as DFT
    bins (plan calibrated on other text): the same greedy reply as the full cache. (At this
    length and 128 bins the inverted pyramid's 76% garbles digits; the study measures that.)"""
    from videorope.cache.calibrate import calibrate
    from videorope.models import load_model
    from videorope.perplexity import text_ids

    model, tokenizer = load_model("smollm2", attn_implementation="sdpa")
    ids = passkey_prompt(tokenizer, 30)
    options = {"max_length": 1600, "sinks": 4, "window": 128, "frequencies": 128}
    plan = calibrate(model, [text_ids(tokenizer, None, 1500)], FourierOptions(**options), "uniform:0.5", progress=False)
    cache = FourierCache(plan, **options)
    with torch.no_grad():
        full = model.generate(ids, max_new_tokens=12, do_sample=False)
        fourier = model.generate(ids, max_new_tokens=12, do_sample=False, past_key_values=cache)
    assert "6150472" in tokenizer.decode(full[0, ids.shape[1] :])
    assert torch.equal(full, fourier)
    assert plan.compressed_fraction() == 0.5 and cache.nbytes() < 0.7 * cache.breakdown()["full"]


@pytest.mark.parametrize("coefficient_dtype", [torch.float32, torch.bfloat16])
def test_reading_every_step_equals_rebuilding_from_the_bins(coefficient_dtype):
    """The reference reader keeps the rebuilt middle and follows streamed tokens with a
    rank-one update (every update reads the cache first): it equals a fresh rebuild from the
    bins, K and V, after single tokens and chunks."""
    g = torch.Generator().manual_seed(4)
    k, v = torch.randn(2, 2, 2, 170, 16, generator=g)
    cache = FourierCache(_ragged_plan(), **{**OPTIONS, "coefficient_dtype": coefficient_dtype})
    cache.update(k[..., :150, :], v[..., :150, :], 0)
    for t, n in ((150, 1), (151, 1), (152, 5), (157, 13)):
        cache.update(k[..., t : t + n, :], v[..., t : t + n, :], 0)
    for middle in cache.layers[0].middle:
        o = middle.options
        fresh = reconstruct(middle.c_cos, middle.c_sin, middle.length, o.period)
        if coefficient_dtype == torch.float32:
            assert middle._rebuilt is not None and middle._rebuilt.shape == fresh.shape
        torch.testing.assert_close(middle.rebuilt(), fresh, rtol=1e-5, atol=1e-5)


def test_unapply_lets_the_fourier_attention_go(monkeypatch):
    """A cache built with ``model=`` wraps transformers' attention entry; the model holds it and
    ``videorope.unapply`` restores the mapping (the last holder of that implementation)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    import videorope
    from videorope.cache import attention
    from videorope.integrations import base
    from videorope.testing import tiny_model

    clean = {k: v for k, v in ALL_ATTENTION_FUNCTIONS._local_mapping.items() if not hasattr(v, "videorope_fourier")}
    monkeypatch.setattr(ALL_ATTENTION_FUNCTIONS, "_local_mapping", dict(clean))
    others = {k: n for k, n in base._HOLDERS.items() if k[0] != "fourier-attention"}
    monkeypatch.setattr(base, "_HOLDERS", others)
    first, second = tiny_model("llama", attn_implementation="sdpa"), tiny_model("llama", attn_implementation="sdpa")
    attention.install(first)
    attention.install(second)
    assert ALL_ATTENTION_FUNCTIONS._local_mapping["sdpa"].videorope_fourier
    videorope.apply(first, scaling="ntk", factor=2)  # re-patching positions keeps the caches' hold
    with videorope.applied(second, scaling="linear", factor=2):
        pass
    assert base._HOLDERS["fourier-attention", "sdpa"] == 2
    videorope.unapply(first)
    assert ALL_ATTENTION_FUNCTIONS._local_mapping["sdpa"].videorope_fourier  # the second model still holds it
    videorope.unapply(second)
    assert ALL_ATTENTION_FUNCTIONS._local_mapping == clean
