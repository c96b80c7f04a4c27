"""``videorope.apply(..., kernel=...)``: a patched model runs the Triton rotary in place of the
cos/sin path and gives the same logits and gradients; ``kernel='triton'`` says when it cannot run."""

from __future__ import annotations

import copy

import pytest
import torch

import videorope
from videorope.kernels.dispatch import check_kernel
from videorope.testing import tiny_model

ROWS = [[("text", 3), ("video", 2, 2, 2), ("text", 4)], [("text", 6), ("image", 2, 2), ("text", 2)]]


def _logits_and_grad(model, batch):
    model.zero_grad()
    out = model(**batch).logits
    out[batch["attention_mask"].bool()].float().pow(2).mean().backward()
    return out.detach(), model.get_input_embeddings().weight.grad.clone()


@pytest.mark.parametrize(
    ("family", "options"),
    [("qwen2_vl", {"layout": "videorope", "scaling": "yarn-v"}), ("qwen3_vl", {"layout": "qwen3"}),
     ("llama", {"scaling": "yarn", "factor": 2.0})],
)  # fmt: skip
def test_the_kernel_path_matches_the_pytorch_path(family, options, vl_batch):
    stock = tiny_model(family, attn_implementation="sdpa")
    torch_path = videorope.apply(copy.deepcopy(stock), kernel="torch", **options)
    kernel_path = videorope.apply(copy.deepcopy(stock), kernel="triton", **options)
    if family == "llama":
        ids = torch.randint(5, 200, (2, 12), generator=torch.Generator().manual_seed(0))
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    else:
        batch = vl_batch(stock.config, ROWS)
    (a, ga), (b, gb) = _logits_and_grad(torch_path, batch), _logits_and_grad(kernel_path, batch)
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(b[mask], a[mask], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gb, ga, rtol=1e-3, atol=1e-6)


def test_triton_without_a_gpu_says_why(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        videorope.apply(tiny_model("llama"), scaling="yarn", factor=2.0, kernel="triton")
    with pytest.raises(ValueError, match="kernel must be one of auto, torch, triton"):
        check_kernel("cuda")
    model = videorope.apply(tiny_model("llama"), scaling="yarn", factor=2.0)  # auto: PyTorch on the CPU
    assert model(input_ids=torch.tensor([[5, 6, 7]])).logits.isfinite().all()
