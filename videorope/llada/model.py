"""LLaDA, the masked diffusion language model (REFERENCE section 7), as a plain PyTorch model.

A Llama-style stack (RMSNorm, SwiGLU, no biases, rotate-half RoPE through
:mod:`videorope.rope`) whose attention is BIDIRECTIONAL: SDPA with only a key-padding
mask, no causal mask. Module and parameter names follow the published checkpoints
(``model.transformer.wte``, ``model.transformer.blocks.N.q_proj``, ...) and
:class:`LLaDAConfig` reads their ``config.json`` field names (``d_model``, ``n_heads``, ...),
so :func:`load_llada` reads GSAI-ML/LLaDA-8B-* from a local directory without
``trust_remote_code``. ``videorope.apply(model, scaling=...)`` swaps the rotary like for any
text model (family ``llada``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, PretrainedConfig
from transformers.cache_utils import Cache
from transformers.modeling_outputs import MaskedLMOutput

from videorope.integrations.base import FAMILIES, PositionalChoice, RotaryEmbedding, rope_spec, swap
from videorope.llada.cache import PromptCache
from videorope.rope.rotary import Angles, apply_rotary

__all__ = ["LLaDAConfig", "LLaDAModelLM", "load_llada", "tiny_llada"]


class LLaDAConfig(PretrainedConfig):
    """The fields of LLaDA's ``config.json`` (defaults: LLaDA-8B), with the transformers names
    (``hidden_size``, ``num_attention_heads``, ...) mapped onto them."""

    model_type = "llada"
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
        "intermediate_size": "mlp_hidden_size",
        "max_position_embeddings": "max_sequence_length",
    }

    def __init__(self, d_model: int = 4096, n_heads: int = 32, n_kv_heads: int | None = None, n_layers: int = 32,
                 mlp_hidden_size: int = 12288, vocab_size: int = 126464, embedding_size: int | None = None,
                 max_sequence_length: int = 4096, rope_theta: float = 500000.0, rms_norm_eps: float = 1e-5,
                 weight_tying: bool = False, mask_token_id: int = 126336, eos_token_id: int = 126081,
                 pad_token_id: int = 126081, **kwargs: Any):  # fmt: skip
        self.d_model, self.n_heads, self.n_layers = d_model, n_heads, n_layers
        self.n_kv_heads = n_kv_heads or n_heads
        self.mlp_hidden_size, self.vocab_size = mlp_hidden_size, vocab_size
        self.embedding_size = embedding_size or vocab_size
        self.max_sequence_length, self.rope_theta, self.rms_norm_eps = max_sequence_length, rope_theta, rms_norm_eps
        self.weight_tying, self.mask_token_id = weight_tying, mask_token_id
        kwargs.setdefault("rope_parameters", {"rope_type": "default", "rope_theta": rope_theta})
        super().__init__(eos_token_id=eos_token_id, pad_token_id=pad_token_id, **kwargs)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.n_kv_heads


class RMSNorm(nn.Module):
    """LLaDA's RMSNorm: normalise in fp32, round to the input's dtype, then multiply by the
    weight (``torch.nn.RMSNorm`` multiplies before rounding, which differs in bf16)."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()
        return self.weight * (y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class LLaDABlock(nn.Module):
    """Pre-norm attention (bidirectional) and SwiGLU (``ff_proj`` is the gate), as published."""

    def __init__(self, config: LLaDAConfig, layer_idx: int):
        super().__init__()
        d, hd, kv = config.d_model, config.head_dim, config.n_kv_heads
        self.layer_idx, self.heads, self.kv_heads, self.head_dim = layer_idx, config.n_heads, kv, hd
        self.q_proj = nn.Linear(d, config.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(d, kv * hd, bias=False)
        self.v_proj = nn.Linear(d, kv * hd, bias=False)
        self.attn_out = nn.Linear(config.n_heads * hd, d, bias=False)
        self.ff_proj = nn.Linear(d, config.mlp_hidden_size, bias=False)
        self.up_proj = nn.Linear(d, config.mlp_hidden_size, bias=False)
        self.ff_out = nn.Linear(config.mlp_hidden_size, d, bias=False)
        self.attn_norm = RMSNorm(d, eps=config.rms_norm_eps)
        self.ff_norm = RMSNorm(d, eps=config.rms_norm_eps)

    def forward(self, x: torch.Tensor, rotary: tuple, keep: torch.Tensor | None, cache: PromptCache | None = None,
                full: bool = True, past_key_values: Cache | None = None) -> torch.Tensor:  # fmt: skip
        """x (B, L, d); rotary: the rotary module's (cos, sin); keep (B, 1, 1, L_keys) bool or
        None. With ``cache``: a ``full`` pass records the prompt's keys and values, otherwise
        x holds only the positions after the prompt and attends to the recorded ones too.
        A transformers ``past_key_values`` cache is updated and read like a decoder's (what
        :func:`videorope.cache.calibrate.calibrate` uses to see the keys and values)."""
        B, L, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_proj(h).view(B, L, self.heads, self.head_dim).transpose(1, 2)  # (B, H, L, hd)
        k = self.k_proj(h).view(B, L, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(B, L, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary
        if isinstance(cos, Angles):  # the Triton rotary (videorope.apply(kernel=...))
            from videorope.kernels.rotary import rotary as rotate

            q, k = rotate(q, k, cos.positions, cos.table, head_axis=1)
        else:
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past_key_values is not None:
            k, v = past_key_values.update(k, v, self.layer_idx)
        if cache is not None and full:
            cache.store(self.layer_idx, k[:, :, : cache.length], v[:, :, : cache.length])
        elif cache is not None:
            prompt_k, prompt_v = cache.read(self.layer_idx)
            k, v = torch.cat([prompt_k.to(k.dtype), k], 2), torch.cat([prompt_v.to(v.dtype), v], 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, enable_gqa=self.kv_heads != self.heads)
        x = x + self.attn_out(out.transpose(1, 2).reshape(B, L, -1))
        h = self.ff_norm(x)
        return x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))


class LLaDAModel(nn.Module):
    """``transformer`` (``wte``, ``blocks``, ``ln_f``, ``ff_out`` the output head unless tied)
    and the rotary module ``rotary_emb`` (not in checkpoints)."""

    def __init__(self, config: LLaDAConfig):
        super().__init__()
        self.config = config
        parts = {
            "wte": nn.Embedding(config.embedding_size, config.d_model),
            "blocks": nn.ModuleList(LLaDABlock(config, i) for i in range(config.n_layers)),
            "ln_f": RMSNorm(config.d_model, eps=config.rms_norm_eps),
        }
        if not config.weight_tying:
            parts["ff_out"] = nn.Linear(config.d_model, config.embedding_size, bias=False)
        self.transformer = nn.ModuleDict(parts)
        self.rotary_emb = RotaryEmbedding(rope_spec(config), PositionalChoice.build(None, "vanilla", "none", {}))


class LLaDAModelLM(nn.Module):
    """LLaDA with its output head: ``forward(input_ids (B, L), attention_mask (B, L) with 0 on
    padding)`` -> ``MaskedLMOutput`` with logits (B, L, vocab) in the model's dtype (as the
    released model). Every position sees every other (no causal mask); padded keys are hidden. With a ``prompt_cache``
    (:class:`~videorope.llada.cache.PromptCache`) a step that reuses it runs on the positions
    after the prompt only and returns their logits (B, L - prompt, vocab)."""

    def __init__(self, config: LLaDAConfig):
        super().__init__()
        self.config = config
        self.model = LLaDAModel(config)

    @property
    def device(self) -> torch.device:
        return self.model.transformer.wte.weight.device

    @property
    def base_model(self) -> LLaDAModelLM:
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, prompt_cache: PromptCache | None = None,
                past_key_values: Cache | None = None, use_cache: bool = True) -> MaskedLMOutput:  # fmt: skip
        """``past_key_values``: a transformers cache each layer updates and reads (``use_cache``
        is accepted for transformers-style callers; the cache given is always used)."""
        if prompt_cache is not None and past_key_values is not None:
            raise ValueError("pass prompt_cache or past_key_values, not both")
        t = self.model.transformer
        full = prompt_cache is None or prompt_cache.full_forward()
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        if not full:  # the prompt's keys and values come from the cache
            input_ids, position_ids = input_ids[:, prompt_cache.length :], position_ids[:, prompt_cache.length :]
        x = t.wte(input_ids)
        rotary = self.model.rotary_emb(x[..., :0].float(), position_ids)  # cos/sin in fp32, as LLaDA's rotary
        keep = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        for block in t.blocks:
            x = block(x, rotary, keep, prompt_cache, full, past_key_values)
        if prompt_cache is not None:
            prompt_cache.tick(full)
        x = t.ln_f(x)
        head = t.wte.weight if self.config.weight_tying else t.ff_out.weight
        return MaskedLMOutput(logits=(x @ head.T)[..., : self.config.vocab_size])  # the model's dtype, as LLaDA's

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, max_new_tokens: int = 32,
                 do_sample: bool = False, pad_token_id: int | None = None, **sampler: Any) -> torch.Tensor:  # fmt: skip
        """The transformers-style entry to :func:`videorope.llada.sampler.generate`, so code that
        calls ``model.generate`` (``videorope.niah``) runs LLaDA unchanged: ``max_new_tokens``
        masks in one block, one token per step; ``do_sample=False`` is temperature 0;
        padding comes from ``attention_mask`` (``pad_token_id`` is not needed). Other keywords
        go to the sampler. Returns the canvas (B, L + max_new_tokens)."""
        from videorope.llada.sampler import generate

        settings = {"block_length": max_new_tokens, "steps": max_new_tokens, "progress": False}
        settings |= {} if do_sample else {"temperature": 0.0}
        return generate(self, input_ids, max_new_tokens, attention_mask=attention_mask, **{**settings, **sampler})


def tiny_llada(seed: int = 0, **overrides: Any) -> LLaDAModelLM:
    """A tiny random LLaDA (2 layers, d_model 64, 4 heads of 16, vocab 256, mask token 255)
    in eval mode; ``overrides`` replace config fields."""
    fields = {"d_model": 64, "n_heads": 4, "n_layers": 2, "mlp_hidden_size": 128, "vocab_size": 256,
              "max_sequence_length": 256, "rope_theta": 10000.0, "mask_token_id": 255, "eos_token_id": 254,
              "pad_token_id": 254, **overrides}  # fmt: skip
    torch.manual_seed(seed)
    model = LLaDAModelLM(LLaDAConfig(**fields))
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.1)
    return model.eval()


def _state_files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.exists():
        return [path / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    single = path / "model.safetensors"
    if single.exists():
        return [single]
    raise FileNotFoundError(f"{path}: no model.safetensors or model.safetensors.index.json; is it a LLaDA checkpoint?")


def load_llada(path: str | Path, dtype: torch.dtype = torch.bfloat16, device: str | torch.device = "cpu"):
    """A LLaDA checkpoint from a local directory (``config.json`` + safetensors, as published),
    without remote code. Raises, naming them, for missing, unexpected or mis-shaped tensors."""
    from safetensors.torch import load_file

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"{config_file} not found: pass the directory of a LLaDA checkpoint")
    fields = json.loads(config_file.read_text())
    if fields.get("model_type") != "llada":
        raise ValueError(f"{config_file}: model_type is {fields.get('model_type')!r}, not 'llada'")
    fields = {k: v for k, v in fields.items() if k not in ("model_type", "architectures", "auto_map")}
    with torch.device("meta"):
        model = LLaDAModelLM(LLaDAConfig(**fields))
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for file in _state_files(path):
        state.update(load_file(file, device=str(device)))
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [f"{n} {tuple(state[n].shape)} (expected {tuple(t.shape)})" for n, t in expected.items()
             if n in state and state[n].shape != t.shape]  # fmt: skip
    if missing or unexpected or wrong:
        listing = lambda names: ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")  # noqa: E731
        problems = [f"{what}: {listing(names)}" for what, names in
                    (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names]  # fmt: skip
        raise ValueError(f"{path} does not match the LLaDA config in config.json; " + "; ".join(problems))
    model.load_state_dict({n: t.to(dtype) for n, t in state.items()}, assign=True)
    _patch_llada(model, model.model.rotary_emb.choice)  # its buffers, built on the meta device
    return model.eval()


AutoConfig.register("llada", LLaDAConfig)  # AutoTokenizer reads a LLaDA folder's config.json without remote code


def _rotary(model: LLaDAModelLM, choice: PositionalChoice) -> RotaryEmbedding:
    return RotaryEmbedding(rope_spec(model.config), choice).to(model.device)


def _patch_llada(model: LLaDAModelLM, choice: PositionalChoice) -> None:
    model.model.rotary_emb = _rotary(model, choice)


def _apply_llada(model: LLaDAModelLM, choice: PositionalChoice) -> None:
    """``videorope.apply``'s patch: a new rotary, recorded so ``unapply`` restores the old one."""
    swap(model, model.model, "rotary_emb", _rotary(model, choice))


FAMILIES.register(
    "llada",
    paper="LLaDA (Nie et al., 2025); LongLLaDA (Liu et al., 2025)",
    summary="LLaDAModelLM (bidirectional masked diffusion LM, 1D RoPE; scalings only)",
    model_class="LLaDAModelLM",
    multimodal=False,
    defaults=lambda config, allocation: {},
)(_apply_llada)
