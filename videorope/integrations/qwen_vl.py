"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL: any registered layout, allocation and scaling.

Two things are patched on the loaded model, in place (each recorded, so
:func:`videorope.unapply` restores the stock model):
- ``language_model.rotary_emb`` becomes a :class:`~videorope.integrations.base.RotaryEmbedding`
  (allocation + scaling -> cos/sin from (3, B, L) positions);
- the model's ``get_rope_index`` becomes one that lays tokens out with
  :func:`videorope.rope.batch_positions`. ``compute_3d_position_ids`` and ``generate()``
  call it, so prefill, ``rope_deltas`` and decoding follow the chosen layout.

Difference from stock transformers 5.x: its ``get_rope_index`` starts the text after a
video at ``start + max(H, W)``, ignoring T, so with T > max(H, W) the text overlaps the
video's temporal positions and its ``rope_deltas`` disagrees with its own prefill. Here the
text starts after the largest position on any axis, the original Qwen2-VL rule.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from videorope.integrations.base import FAMILIES, PositionalChoice, RotaryEmbedding, rope_spec, swap
from videorope.rope import batch_positions
from videorope.rope.layouts import IMAGE, VIDEO

__all__ = ["patch_qwen_vl"]


def _merged(grids: torch.Tensor | None, merge: int, what: str) -> torch.Tensor | None:
    """(N, 3) patch grids -> grids after the vision merger (H and W divided by ``merge``)."""
    if grids is None:
        return None
    grids = grids.detach().cpu().long()
    if grids.ndim != 2 or grids.shape[1] != 3:
        raise ValueError(f"{what} must be (num, 3) rows of (T, H, W), got shape {tuple(grids.shape)}")
    if (grids[:, 1:] % merge).any():
        raise ValueError(f"{what} {grids.tolist()} has H or W not divisible by spatial_merge_size={merge}")
    return torch.cat([grids[:, :1], grids[:, 1:] // merge], dim=1)


def _vl_model(model: nn.Module) -> nn.Module:
    """The inner ``Qwen*VLModel`` (owner of ``get_rope_index`` and ``language_model``)."""
    return model.model if hasattr(model, "model") and hasattr(model.model, "language_model") else model


def patch_qwen_vl(model: nn.Module, choice: PositionalChoice, per_frame_video: bool = False) -> None:
    """Patch a Qwen-VL model; ``per_frame_video`` for Qwen3-VL, whose frames are separate runs."""
    inner = _vl_model(model)
    config = inner.config
    merge = config.vision_config.spatial_merge_size
    old = inner.language_model.rotary_emb
    rotary = RotaryEmbedding(rope_spec(config.text_config), choice).to(old.inv_freq.device)
    swap(model, inner.language_model, "rotary_emb", rotary)

    def get_rope_index(
        input_ids: torch.Tensor,
        mm_token_type_ids: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        second_per_grid_ts: torch.Tensor | None = None,
        **_: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions float32 (3, B, L) and rope_deltas (B, 1): decode position = cache index + delta."""
        if mm_token_type_ids is None:
            mm_token_type_ids = (input_ids == config.image_token_id) * IMAGE + (
                input_ids == config.video_token_id
            ) * VIDEO
        videos = _merged(video_grid_thw, merge, "video_grid_thw")
        if per_frame_video and videos is not None:
            # Qwen3-VL puts a timestamp between frames: one T=1 grid per frame.
            videos = videos.repeat_interleave(videos[:, 0], dim=0)
            videos[:, 0] = 1
        positions, nexts = batch_positions(
            choice.layout,
            mm_token_type_ids,
            _merged(image_grid_thw, merge, "image_grid_thw"),
            videos,
            attention_mask,
            second_per_grid_ts,
            **choice.layout_options,
        )
        length = attention_mask.sum(-1).cpu() if attention_mask is not None else input_ids.shape[1]
        step = inner.language_model.rotary_emb.step  # positions / step: see RotaryEmbedding
        deltas = (nexts - step * length).unsqueeze(1) / step
        return (positions / step).to(input_ids.device), deltas.to(input_ids.device)

    swap(model, inner, "get_rope_index", get_rope_index)


def _defaults(config: Any, allocation: str) -> dict[str, Any]:
    """Options the model's own config fixes: tokens per second, and its mrope sections when
    the allocation is the model's own (chunked for Qwen2/2.5-VL, interleaved for Qwen3-VL)."""
    native = "interleaved" if config.model_type == "qwen3_vl" else "mrope"
    out = {"sections": config.text_config.rope_parameters.get("mrope_section") if allocation == native else None}
    tokens_per_second = getattr(config.vision_config, "tokens_per_second", None)
    if tokens_per_second is not None:
        out["tokens_per_second"] = float(tokens_per_second)
    return {k: v for k, v in out.items() if v is not None}


for _model_type, _cls, _summary, _patch in (
    ("qwen2_vl", "Qwen2VLForConditionalGeneration", "M-RoPE, chunked sections", patch_qwen_vl),
    ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration", "M-RoPE with absolute time", patch_qwen_vl),
    (
        "qwen3_vl",
        "Qwen3VLForConditionalGeneration",
        "interleaved M-RoPE, per-frame grids with timestamps",
        partial(patch_qwen_vl, per_frame_video=True),
    ),
):
    FAMILIES.register(_model_type, summary=_summary, model_class=_cls, multimodal=True, defaults=_defaults)(_patch)
