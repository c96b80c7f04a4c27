"""Regenerate ``videorope_positions.json`` by running the authors' released position code.

Not part of the test run. Needs a clone of ``Wiselnn570/VideoRoPE`` (commit 7712ca3f; a bare clone works):

    python tests/golden/make_videorope_positions.py /path/to/VideoRoPE > tests/golden/videorope_positions.json

It reads the released functions from their files (``get_rope_index``,
``get_vanilla_rope_index``, ``get_time_rope_index``, ``get_t_scale_rope_index`` of
``videorope-transformer/modeling_videorope.py``, and ``get_input_t_scale_modify_positions_tensor`` of
the VideoRoPE++ vLLM ``rotary_embedding.py``), runs each on the sequences below and prints the
positions and deltas as JSON. Only the numbers are committed, never the authors' code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Optional, Union  # noqa: UP035  (names the released code uses)

import torch

COMMIT = "7712ca3f"
TRANSFORMERS_FILE = "videorope-transformer/modeling_videorope.py"
VLLM_PLUS_FILE = "videorope_plus/videorope_plus_extrapolation_impl/vllm/model_executor/layers/rotary_embedding.py"
IDS = {"vision_start": 5, "image": 6, "video": 7}
MERGE = 2
CASES = {
    # name: (segments of the sequence, grids): text runs count tokens; a vision run is preceded
    # by its vision-start token inside the text run before it. Grids are unmerged (T, H, W).
    "video": ([("text", 4), ("video", (3, 4, 6)), ("text", 3)], None),
    "video-long-t": ([("text", 2), ("video", (7, 2, 4)), ("text", 5)], None),
    "image-then-video": ([("text", 3), ("image", (1, 6, 4)), ("text", 2), ("video", (2, 4, 4)), ("text", 4)], None),
}


def _function(repo: str, path: str, name: str):
    """The released function ``name`` compiled from ``path`` at the repository's HEAD."""
    text = subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
    ).stdout
    node = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    source = textwrap.dedent(ast.get_source_segment(text, node))
    namespace = {"torch": torch, "Optional": Optional, "Tuple": tuple, "List": list, "Union": Union}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
    return namespace[name]


def _sequence(segments):
    ids, images, videos = [], [], []
    for kind, size in segments:
        if kind == "text":
            ids += [1] * size
            continue
        ids[-1] = IDS["vision_start"]
        t, h, w = size
        ids += [IDS[kind]] * (t * h * w // MERGE**2)
        (images if kind == "image" else videos).append(list(size))
    return ids, images, videos


def main(repo: str) -> None:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    config = SimpleNamespace(vision_config=SimpleNamespace(spatial_merge_size=MERGE, tokens_per_second=1.0),
                             image_token_id=IDS["image"], video_token_id=IDS["video"],
                             vision_start_token_id=IDS["vision_start"])  # fmt: skip
    self = SimpleNamespace(config=config)
    names = ("get_rope_index", "get_vanilla_rope_index", "get_time_rope_index", "get_t_scale_rope_index")
    methods = {name: _function(repo, TRANSFORMERS_FILE, name) for name in names}
    plus = _function(repo, VLLM_PLUS_FILE, "get_input_t_scale_modify_positions_tensor")
    out = {"repository": "Wiselnn570/VideoRoPE", "commit": commit or COMMIT, "merge": MERGE, "ids": IDS, "cases": {}}
    for case, (segments, _) in CASES.items():
        ids, images, videos = _sequence(segments)
        input_ids = torch.tensor([ids])
        grids = {"image_grid_thw": torch.tensor(images) if images else None,
                 "video_grid_thw": torch.tensor(videos) if videos else None}  # fmt: skip
        mask = torch.ones_like(input_ids)
        record = {"segments": segments, "input_ids": ids}
        for name, fn in methods.items():
            kwargs = {"scale_factor": 2.0} if name == "get_t_scale_rope_index" else {}
            pos, delta = fn(self, input_ids, grids["image_grid_thw"], grids["video_grid_thw"], mask, **kwargs)
            record[name] = {"positions": pos[:, 0].tolist(), "delta": float(delta.flatten()[0])}
        time, _ = methods["get_time_rope_index"](
            self, input_ids, grids["image_grid_thw"], grids["video_grid_thw"], mask
        )
        vanilla, _ = methods["get_vanilla_rope_index"](self, input_ids, grids["image_grid_thw"],
                                                       grids["video_grid_thw"], mask)  # fmt: skip
        record["tad_rope"] = {
            "positions": (time + vanilla)[:, 0].tolist(),
            "delta": record["get_time_rope_index"]["delta"],
        }
        pos, delta = plus(ids, config, images, videos, scale_factor=2.0)
        record["videorope_plus_vllm"] = {"positions": pos.tolist(), "delta": float(delta)}
        out["cases"][case] = record
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
