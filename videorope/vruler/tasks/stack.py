"""Lengthy multimodal stack: a V-NIAH video placed at a depth inside long filler text.

The filler is sized at evaluation time with the model's own tokenizer, so the manifest only
records the text budget and where the video sits in it (``context``).
"""

from __future__ import annotations

from videorope.vruler.manifest import Sample
from videorope.vruler.tasks.base import TASKS, Cell, Material, make_sample
from videorope.vruler.tasks.niah import retrieval


@TASKS.register(
    "multimodal-stack",
    paper="VideoRoPE++ (Wei et al., 2025)",
    summary="a video with a needle in its middle, placed at a depth inside filler text of a given token budget",
    options={"text_tokens": 4096, "filler": "noise", "n_options": 4},
    uses_depth=True,
)
def multimodal_stack(cell: Cell, material: Material, *, text_tokens: int, filler: str, n_options: int) -> Sample:
    if text_tokens < 1:
        raise ValueError(f"multimodal-stack text_tokens must be >= 1, got {text_tokens}")
    needle = retrieval(material, cell.seed, n_options)
    context = {"text_tokens": text_tokens, "filler": filler, "video_depth": cell.depth}
    return make_sample(
        cell,
        material,
        [(cell.frame_count // 2, needle, "needle")],
        needle.question,
        needle.answer,
        "choice",
        needle.options,
        context,
    )
