"""LLaDA's model: bidirectional attention (a later token changes earlier logits; not so for a
causal model), padding hidden, the loader on checkpoints written in the published layout
(round trip, sharded, and broken ones), and the LongLLaDA NTK factors through videorope.apply."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import videorope
from videorope.llada import LLaDAConfig, load_llada, tiny_llada
from videorope.rope.scaling import default_inv_freq
from videorope.testing import tiny_model


def _later_token_moves_first_logits(model) -> float:
    ids = torch.randint(0, 200, (1, 12), generator=torch.Generator().manual_seed(0))
    changed = ids.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 200
    with torch.no_grad():
        return (model(ids).logits[0, :-1] - model(changed).logits[0, :-1]).abs().max().item()


def test_attention_is_bidirectional_unlike_a_causal_model():
    assert _later_token_moves_first_logits(tiny_llada()) > 1e-3
    assert _later_token_moves_first_logits(tiny_model("llama")) == 0.0


def test_padding_is_hidden():
    model = tiny_llada()
    ids = torch.randint(0, 200, (1, 10), generator=torch.Generator().manual_seed(1))
    padded = torch.cat([torch.full((1, 3), 254), ids], 1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 10, dtype=torch.long)], 1)
    positions = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.arange(10)[None]], 1)
    with torch.no_grad():
        alone = model(ids).logits
        together = model(padded, attention_mask=mask, position_ids=positions).logits[:, 3:]
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def _write(model, path, shards: int = 1) -> None:
    """The published layout: config.json with LLaDA's field names, safetensors (optionally sharded)."""
    c = model.config
    fields = {"model_type": "llada", "architectures": ["LLaDAModelLM"], "d_model": c.d_model, "n_heads": c.n_heads,
              "n_kv_heads": c.n_kv_heads, "n_layers": c.n_layers, "mlp_hidden_size": c.mlp_hidden_size,
              "vocab_size": c.vocab_size, "embedding_size": c.embedding_size, "rope_theta": c.rope_theta,
              "max_sequence_length": c.max_sequence_length, "mask_token_id": c.mask_token_id, "weight_tying": False,
              "activation_type": "silu", "block_type": "llama", "include_bias": False}  # fmt: skip
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(fields))
    state = {n: t.contiguous() for n, t in model.state_dict().items()}
    names = sorted(state)
    if shards == 1:
        save_file(state, path / "model.safetensors")
        return
    weight_map = {}
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = names[i::shards]
        save_file({n: state[n] for n in part}, path / file)
        weight_map.update(dict.fromkeys(part, file))
    (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize("shards", [1, 3])
def test_a_checkpoint_in_the_published_layout_loads_back(tmp_path, shards):
    model = tiny_llada()
    assert "model.transformer.blocks.0.q_proj.weight" in model.state_dict()  # the published names
    _write(model, tmp_path / "ckpt", shards)
    loaded = load_llada(tmp_path / "ckpt", dtype=torch.float32)
    ids = torch.randint(0, 200, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits)


def test_a_broken_checkpoint_names_what_is_wrong(tmp_path):
    model = tiny_llada()
    _write(model, tmp_path / "ckpt")
    state = {n: t.contiguous() for n, t in model.state_dict().items()}
    del state["model.transformer.blocks.1.up_proj.weight"]
    state["model.transformer.ln_f.weight"] = torch.ones(65)
    state["model.transformer.extra.weight"] = torch.ones(2)
    save_file(state, tmp_path / "ckpt" / "model.safetensors")
    with pytest.raises(ValueError) as error:
        load_llada(tmp_path / "ckpt")
    message = str(error.value)
    assert "missing: model.transformer.blocks.1.up_proj.weight" in message
    assert "unexpected: model.transformer.extra.weight" in message
    assert "wrong shape: model.transformer.ln_f.weight (65,) (expected (64,))" in message
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_llada(tmp_path / "nowhere")


@pytest.mark.parametrize(("target", "lam"), [(8192, 4), (16384, 14), (24576, 31), (32768, 55)])
def test_critical_ntk_gives_the_longllada_factors(target, lam):
    """LLaDA-8B's rotary (head dim 128, base 5e5, trained at 4K) on a one-layer model."""
    model = tiny_llada(d_model=256, n_heads=2, n_layers=1, rope_theta=500000.0, max_sequence_length=4096)
    videorope.apply(model, scaling="critical-ntk", target_length=target)
    torch.testing.assert_close(model.model.rotary_emb.inv_freq, default_inv_freq(128, 500000.0 * lam))
    assert model.config.videorope["scaling"] == "critical-ntk"


def test_the_published_config_fields_map_to_transformers_names():
    c = LLaDAConfig()
    assert (c.hidden_size, c.num_attention_heads, c.num_hidden_layers, c.head_dim, c.max_position_embeddings) == (
        4096, 32, 32, 128, 4096)  # fmt: skip
    assert (c.mask_token_id, c.eos_token_id, c.vocab_size) == (126336, 126081, 126464)


def test_the_niah_command_runs_through_the_sampler_on_a_written_checkpoint(tmp_path):
    """``videorope llada niah`` on a tiny checkpoint in the published layout with its tokenizer:
    samples, replies scored by the NIAH runner, and the report with its heatmap."""
    from videorope.cli import main
    from videorope.testing import tiny_tokenizer

    model = tiny_llada(max_sequence_length=512)
    _write(model, tmp_path / "ckpt")
    tiny_tokenizer().save_pretrained(tmp_path / "ckpt")
    argv = ["llada", "niah", "--model", str(tmp_path / "ckpt"), "--lengths", "512,768", "--depths", "2",
            "--scaling", "critical-ntk", "--target-length", "1k", "--out", str(tmp_path / "out"), "-q"]  # fmt: skip
    main(argv)
    results = (tmp_path / "out" / "runs" / "critical-ntk" / "results.jsonl").read_text().splitlines()
    assert len(results) == 4 and (tmp_path / "out" / "report" / "niah.md").exists()
    assert list((tmp_path / "out" / "report").glob("*.png"))
    assert (
        json.loads((tmp_path / "out" / "runs" / "critical-ntk" / "run.json").read_text())["positional"]["scaling"]
        == "critical-ntk"
    )


def test_rms_norm_rounds_before_the_weight_as_llada_does():
    """LLaDA's RMSNorm normalises in fp32, rounds to the input dtype, then multiplies by the
    weight; torch's RMSNorm multiplies first. In bf16 the two differ; ours is LLaDA's."""
    from videorope.llada.model import RMSNorm

    g = torch.Generator().manual_seed(0)
    norm = RMSNorm(64, eps=1e-5).to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(1 + torch.randn(64, generator=g))
    x = (3 * torch.randn(4, 64, generator=g)).to(torch.bfloat16)
    y = x.float()
    expected = norm.weight * (y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5)).to(torch.bfloat16)
    assert torch.equal(norm(x), expected)
    torch_norm = torch.nn.RMSNorm(64, eps=1e-5).to(torch.bfloat16)
    torch_norm.load_state_dict(norm.state_dict())
    assert not torch.equal(torch_norm(x), norm(x))


def test_the_rotary_runs_in_fp32_in_a_bf16_model(monkeypatch):
    """LLaDA keeps cos/sin in fp32 (rope_full_precision) and rotates fp32 q and k, rounding once."""
    from videorope.llada import model as llada_model

    seen = []
    original = llada_model.apply_rotary

    def spy(x, cos, sin, *args, **kwargs):
        seen.append((x.dtype, cos.dtype, sin.dtype))
        return original(x, cos, sin, *args, **kwargs)

    monkeypatch.setattr(llada_model, "apply_rotary", spy)
    model = tiny_llada().to(torch.bfloat16)
    with torch.no_grad():
        logits = model(torch.randint(0, 200, (1, 12), generator=torch.Generator().manual_seed(0))).logits
    assert seen and all(s == (torch.bfloat16, torch.float32, torch.float32) for s in seen)
    assert torch.isfinite(logits).all()


def test_unapply_restores_the_llada_rotary():
    model = tiny_llada(seed=0).eval()
    ids = torch.randint(0, 64, (1, 12), generator=torch.Generator().manual_seed(0))
    before = model(input_ids=ids).logits
    videorope.apply(model, scaling="ntk", factor=4)
    assert not torch.equal(model(input_ids=ids).logits, before)
    torch.testing.assert_close(videorope.unapply(model)(input_ids=ids).logits, before, rtol=0, atol=0)
