"""Hooks on real transformers models (tiny random Llama and Qwen3, eager and sdpa): they leave
the outputs unchanged, the captured q and k reproduce the model's own attention, head masks
and noise do exactly what they say; and the real SmolLM2 under the hooks."""

from __future__ import annotations

import pytest
import torch
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from videorope.analysis import attention_rows, band_dims, capture, inject_noise, mask_heads, qk_hook, query_positions
from videorope.models import load_model
from videorope.testing import tiny_model

FAMILIES = [("llama", "eager"), ("llama", "sdpa"), ("qwen3", "sdpa")]


def _ids(n: int = 96, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 240, (1, n), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family,attn", FAMILIES)
def test_hooks_leave_the_logits_unchanged(family, attn):
    model = tiny_model(family, attn_implementation=attn).eval()
    ids = _ids()
    before = dict(ALL_ATTENTION_FUNCTIONS._local_mapping)
    with torch.no_grad():
        plain = model(ids).logits
        seen = []
        with qk_hook(model, lambda layer, module, q, k: seen.append(layer) or (q.clone(), k.clone())):
            hooked = model(ids).logits
        capture(model, ids[0], 8)
        after = model(ids).logits
    assert seen == list(range(model.config.num_hidden_layers))
    assert torch.equal(plain, hooked) and torch.equal(plain, after)
    assert ALL_ATTENTION_FUNCTIONS._local_mapping == before  # restored


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_captured_q_and_k_reproduce_the_models_attention(family):
    model = tiny_model(family, attn_implementation="eager").eval()
    ids = _ids(80)
    cap = capture(model, ids[0], [0, 17, 40, 79])
    with torch.no_grad():
        weights = model(ids, output_attentions=True).attentions
    assert cap.q[0].shape == (model.config.num_attention_heads, 4, model.config.head_dim)
    assert cap.k[0].shape == (model.config.num_key_value_heads, 80, model.config.head_dim)
    for layer, w in enumerate(weights):
        torch.testing.assert_close(attention_rows(cap, layer), w[0][:, cap.positions], rtol=1e-4, atol=1e-5)


def test_a_hook_that_changes_k_changes_the_output():
    model = tiny_model("llama").eval()
    with torch.no_grad():
        plain = model(_ids()).logits
        with qk_hook(model, lambda layer, module, q, k: (q, 2 * k)):
            changed = model(_ids()).logits
    assert not torch.allclose(plain, changed)


def test_query_positions():
    assert query_positions(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert query_positions(3, 10).tolist() == [0, 1, 2]
    assert query_positions(100, [7, 3, 7]).tolist() == [3, 7]
    with pytest.raises(ValueError, match=r"\[0, 100\)"):
        query_positions(100, [100])


def test_masking_a_head_is_zeroing_its_output_projection_columns():
    model = tiny_model("llama").eval()
    reference = tiny_model("llama").eval()
    d = model.config.head_dim
    with torch.no_grad():
        plain = model(_ids()).logits
        reference.model.layers[1].self_attn.o_proj.weight[:, 2 * d : 3 * d] = 0
        reference.model.layers[0].self_attn.o_proj.weight[:, 0:d] = 0
        expected = reference(_ids()).logits
        with mask_heads(model, [(1, 2), (0, 0)]):
            masked = model(_ids()).logits
        again = model(_ids()).logits
    torch.testing.assert_close(masked, expected)
    assert not torch.allclose(masked, plain) and torch.equal(again, plain)
    with pytest.raises(ValueError, match=r"head \(5, 0\) does not exist"):
        with mask_heads(model, [(5, 0)]):
            pass


def test_noise_of_zero_energy_changes_nothing_and_noise_sits_on_its_band():
    model = tiny_model("llama").eval()
    ids = _ids()
    dims = band_dims(model.config.head_dim, 8, "above")
    with torch.no_grad():
        plain = model(ids).logits
        with inject_noise(model, dims, 0.0):
            zero = model(ids).logits
    torch.testing.assert_close(zero, plain)
    clean = capture(model, ids[0], 16)
    with inject_noise(model, dims, 0.3, seed=1):
        noisy = capture(model, ids[0], 16)
    outside = torch.ones(model.config.head_dim, dtype=torch.bool)
    outside[dims] = False
    # layer 0 sees the same input, so its q/k differ by the noise alone: energy and support exact
    for clean_x, noisy_x in ((clean.q[0], noisy.q[0]), (clean.k[0], noisy.k[0])):
        delta = noisy_x - clean_x
        torch.testing.assert_close(delta.square().sum(-1), 0.3 * clean_x.square().sum(-1), rtol=1e-4, atol=1e-6)
        assert delta[..., outside].abs().max() < 1e-6


def test_cached_decoding_reads_the_same_noise_as_a_full_forward():
    model = tiny_model("llama").eval()
    ids = _ids(300)  # spans two noise blocks
    dims = band_dims(model.config.head_dim, 8, "below")
    with torch.no_grad():
        with inject_noise(model, dims, 0.5, seed=3):
            full = model(ids).logits[:, -1]
        with inject_noise(model, dims, 0.5, seed=3):
            out = model(ids[:, :-1], use_cache=True)
            step = model(ids[:, -1:], past_key_values=out.past_key_values, use_cache=True).logits[:, -1]
        with inject_noise(model, dims, 0.5, seed=4):
            other = model(ids).logits[:, -1]
    torch.testing.assert_close(step, full, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(other, full)


NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def test_real_model_under_the_hooks_still_finds_the_passkey_and_looks_at_it():
    """SmolLM2 at ~1.5K tokens: identical greedy reply under a hook, and while it writes the
    reply some head puts far more than its share of attention on the passkey's digits."""
    model, tokenizer = load_model("smollm2")
    needle = "The pass key is 6150472. Remember it. 6150472 is the pass key. "
    text = "There is a pass key hidden in this text. " + NOISE * 30 + needle + NOISE * 30 + "What is the pass key?"
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]  # fmt: skip
    with torch.no_grad():
        plain = model.generate(ids, max_new_tokens=12, do_sample=False)
        with qk_hook(model, lambda layer, module, q, k: (q.clone(), k.clone())):
            hooked = model.generate(ids, max_new_tokens=12, do_sample=False)
    assert torch.equal(plain, hooked) and "6150472" in tokenizer.decode(plain[0, ids.shape[1] :])
    tokens = plain[0].tolist()
    digits = tokenizer("6150472", add_special_tokens=False)["input_ids"]
    needle = torch.zeros(len(tokens), dtype=torch.bool)
    for i in range(ids.shape[1]):
        if tokens[i : i + len(digits)] == digits:
            needle[i : i + len(digits)] = True
    # the queries that produced the reply
    cap = capture(model, plain[0], range(ids.shape[1] - 1, len(tokens) - 1))
    on_needle = max(
        attention_rows(cap, layer)[..., needle].sum(-1).mean(-1).max().item() for layer in range(len(cap.q))
    )
    assert on_needle > 20 * needle.sum().item() / len(tokens)
