"""Scalings against transformers' own RoPE math and the formulas of REFERENCE section 3."""

import math

import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from videorope.rope import RopeSpec, default_inv_freq, frequency_axes, scaled_inv_freq

LLAMA2 = RopeSpec(head_dim=128, base=10000.0, train_length=4096)
TIME = ["t"] * 64


def hf(rope_type, seq_len=None, **params):
    config = LlamaConfig(
        hidden_size=4096,
        num_attention_heads=32,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": rope_type, "rope_theta": 10000.0, **params},
    )
    return ROPE_INIT_FUNCTIONS[rope_type](config, seq_len=seq_len)


def test_none_is_the_default_rope():
    inv, factor = scaled_inv_freq("none", LLAMA2, TIME)
    assert factor == 1.0
    assert inv[0] == 1.0 and math.isclose(inv[1].item(), 10000 ** (-2 / 128), rel_tol=1e-6)


def test_linear_divides_every_frequency():
    inv, _ = scaled_inv_freq("linear", LLAMA2, TIME, factor=4)
    torch.testing.assert_close(inv, default_inv_freq(128, 1e4) / 4)
    torch.testing.assert_close(inv, hf("linear", factor=4.0)[0])


def test_ntk_raises_the_base():
    inv, _ = scaled_inv_freq("ntk", LLAMA2, TIME, factor=4)
    # b' = 1e4 * 4^(128/126) = 40,889.6...; the lowest frequency is b'^(-126/128)
    assert math.isclose(inv[-1].item(), 40889.6 ** (-126 / 128), rel_tol=1e-4)


@pytest.mark.parametrize("seq_len", [2048, 8192, 16384])
def test_dynamic_matches_transformers(seq_len):
    inv, _ = scaled_inv_freq("dynamic", LLAMA2, TIME, seq_len=seq_len, factor=2)
    torch.testing.assert_close(inv, hf("dynamic", seq_len=seq_len, factor=2.0)[0])


@pytest.mark.parametrize("seq_len", [None, 100, 4096, 4097, 12345])
def test_dynamic_is_transformers_bit_for_bit(seq_len):
    """videorope owns the dynamic formula (it runs every decoding step): equal to the bit."""
    for factor in (2, 3.5):
        inv, _ = scaled_inv_freq("dynamic", LLAMA2, TIME, seq_len=seq_len, factor=factor)
        assert torch.equal(inv, hf("dynamic", seq_len=seq_len, factor=float(factor))[0])


def test_yarn_matches_transformers():
    inv, factor = scaled_inv_freq("yarn", LLAMA2, TIME, factor=8)
    ref, ref_factor = hf("yarn", factor=8.0, original_max_position_embeddings=4096)
    torch.testing.assert_close(inv, ref)
    assert math.isclose(factor, 0.1 * math.log(8) + 1)
    assert inv[0] == 1.0  # highest frequency kept
    assert math.isclose(inv[-1].item(), default_inv_freq(128, 1e4)[-1].item() / 8, rel_tol=1e-5)


def test_yarn_v_rescales_only_time():
    spec = RopeSpec(head_dim=128, base=1e6, train_length=32768)
    axes = frequency_axes("videorope", 128)
    inv, factor = scaled_inv_freq("yarn-v", spec, axes)
    ratio = inv / default_inv_freq(128, 1e6)
    assert factor == 1.0
    assert torch.equal(ratio[:48], torch.ones(48))
    # REFERENCE: temporal frequencies shrink by about 0.35x (index 48) to 0.25x (index 63)
    assert 0.34 < ratio[48] < 0.36 and 0.249 < ratio[63] < 0.2501
    assert bool((ratio[48:].diff() < 0).all())


def test_critical_ntk_uses_the_longllada_factor():
    llada = RopeSpec(head_dim=128, base=5e5, train_length=4096)
    for target, lam in [(8192, 4), (16384, 14), (24576, 31), (32768, 55)]:
        inv, _ = scaled_inv_freq("critical-ntk", llada, TIME, target_length=target)
        torch.testing.assert_close(inv, default_inv_freq(128, lam * 5e5))
    unrounded, _ = scaled_inv_freq("critical-ntk", llada, TIME, target_length=8192, round_up=False)
    assert unrounded[-1] > default_inv_freq(128, 4 * 5e5)[-1]


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("linear", {}, "needs option(s) factor"),
        ("linear", {"factor": 0.5}, "must be >= 1"),
        ("critical-ntk", {}, "needs option(s) target_length"),
        ("yarn", {"factor": 2, "alpha": 1}, "unknown option(s) alpha for scaling 'yarn'"),
        ("rope", {}, "unknown scaling 'rope'; choose one of: none, linear, ntk, dynamic, yarn"),
    ],
)
def test_bad_scalings(name, options, message):
    with pytest.raises(ValueError) as err:
        scaled_inv_freq(name, LLAMA2, TIME, **options)
    assert message in str(err.value)


def test_bad_rope_spec():
    with pytest.raises(ValueError, match="rope_theta"):
        RopeSpec(64, 1.0, 100)
    with pytest.raises(ValueError, match="even"):
        RopeSpec(63, 1e4, 100)


@pytest.mark.parametrize("factor", [float("inf"), float("nan"), 0.5])
def test_factors_must_be_finite_and_at_least_one(factor):
    from videorope.rope.scaling import RopeSpec, scaled_inv_freq

    with pytest.raises(ValueError, match="scaling factor must be >= 1 and finite"):
        scaled_inv_freq("yarn", RopeSpec(64, 1e4, 2048), ["t"] * 32, factor=factor)
    with pytest.raises(ValueError, match="target_length must be a finite number"):
        scaled_inv_freq("critical-ntk", RopeSpec(64, 1e4, 2048), ["t"] * 32, target_length=float("inf"))
