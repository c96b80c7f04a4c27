"""FourierCache decoding through the model's attention (``model=``): the Triton kernel and the
PyTorch reference give the tokens and logits of the cache read back as dense keys and values,
on tiny random models with padded batches and on SmolLM2 (greedy passkey reply)."""

from __future__ import annotations

import pytest
import torch
from conftest import every_other_channel_plan, passkey_prompt

from videorope.cache import FourierCache, FourierOptions
from videorope.cache.attention import left_pad
from videorope.testing import tiny_model

OPTIONS = {"max_length": 200, "sinks": 4, "window": 16, "frequencies": 8}


def _generate(model, batch, cache):
    return model.generate(**batch, past_key_values=cache, max_new_tokens=6, do_sample=False, pad_token_id=0,
                          output_logits=True, return_dict_in_generate=True)  # fmt: skip


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_kernel_and_reference_decode_as_the_dense_read_back(attention):
    model = tiny_model("llama", attn_implementation=attention, num_key_value_heads=2, num_attention_heads=4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 200, (2, 120), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :17] = 0  # row 1 is left-padded
    batch = {"input_ids": ids * mask, "attention_mask": mask}
    plan = every_other_channel_plan(model.config)
    dense = _generate(model, batch, FourierCache(plan, attention_mask=mask, **OPTIONS))
    for kernel in ("torch", "triton"):
        read = _generate(model, batch, FourierCache(plan, attention_mask=mask, model=model, kernel=kernel, **OPTIONS))
        assert torch.equal(read.sequences, dense.sequences), kernel
        for a, b in zip(read.logits, dense.logits, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_the_wrapped_attention_passes_everything_else_through():
    model = tiny_model("llama", attn_implementation="sdpa")
    ids = torch.randint(5, 200, (1, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(ids).logits
        FourierCache(every_other_channel_plan(model.config), model=model, **OPTIONS)  # installs the wrapper
        after = model(ids).logits
    assert torch.equal(before, after)


def test_a_kernel_without_a_model_or_a_mask_that_is_not_left_padding_is_refused():
    plan = every_other_channel_plan(tiny_model("llama").config)
    with pytest.raises(ValueError, match="needs model="):
        FourierCache(plan, kernel="torch", **OPTIONS)
    mask = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    mask[0, ..., 3] = False
    with pytest.raises(ValueError, match="left-padded"):
        left_pad(mask, 2, 6, torch.device("cpu"))
    mask[0, ..., :4] = False
    assert left_pad(mask, 2, 6, torch.device("cpu")).tolist() == [4, 0]


def test_smollm2_greedy_reply_is_the_same_through_the_kernel():
    """SmolLM2, ~330 tokens, the passkey in the compressed middle (half the channels as bins):
    greedy tokens through the Triton kernel equal those through the PyTorch reference and
    those of the cache read back densely. (Short, since Triton's interpreter runs ~1 s per
    token per layer here; tests/cache holds the longer passkey test.)"""
    from videorope.cache.calibrate import Calibration, calibrate
    from videorope.models import load_model
    from videorope.perplexity import text_ids

    model, tokenizer = load_model("smollm2", attn_implementation="sdpa")
    ids = passkey_prompt(tokenizer, 6)
    options = FourierOptions(max_length=400, sinks=4, window=64, frequencies=32)
    plan = calibrate(
        model, [text_ids(tokenizer, None, 330)], options, "uniform:0.5", Calibration(window=None), progress=False
    )  # the original recipe with this cache's window: heads keep different counts
    caches = {"dense": FourierCache(plan, options), **{k: FourierCache(plan, options, model=model, kernel=k)
                                                      for k in ("torch", "triton")}}  # fmt: skip
    with torch.no_grad():
        replies = {k: model.generate(ids, max_new_tokens=3, do_sample=False, past_key_values=cache)[0, ids.shape[1] :]
                   for k, cache in caches.items()}  # fmt: skip
    assert torch.equal(replies["triton"], replies["torch"]) and torch.equal(replies["torch"], replies["dense"])
    assert caches["triton"].layers[0].middle[0].length > 200  # the needle is in the compressed middle
    assert tokenizer.decode(replies["triton"]).startswith("The pass")
