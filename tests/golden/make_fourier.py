"""Regenerate ``fourier.json`` by running FourierAttention's released code on small inputs.

Not part of the test run. Needs a clone of ``ShirleYoung/FourierAttention`` (c834104), SciPy
and Triton:

    TRITON_INTERPRET=1 python tests/golden/make_fourier.py /path/to/FourierAttention > tests/golden/fourier.json

From ``compressed_dims_search/hippo_function_approx_legt_fourier_awq.py`` it runs the
calibration's ``MultiDimHiPPO`` (transform and rebuild over the prompt's own middle) and
``compute_cosine_similarity`` of ``compressed_dim_search.py`` (the affine correction, applied
in place, then the per-channel MSE that ranks channels); from ``fourier_attn_triton/fourier_triton_valid4_v2.py`` the
cache's ``MultiDimHiPPO2`` (prefill FFT, and the streaming update through
``mat_fourier_triton``, in Triton's interpreter) and ``mat_fourier_inv_torch`` (the rebuild,
divided by the number of bins). Device strings of the released code are set to the CPU;
nothing else is changed. Only the numbers are committed, never the authors' code.
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl
from scipy import signal
from scipy import special as ss

CALIBRATION_FILE = "compressed_dims_search/hippo_function_approx_legt_fourier_awq.py"
SEARCH_FILE = "compressed_dims_search/compressed_dim_search.py"
CACHE_FILE = "fourier_attn_triton/fourier_triton_valid4_v2.py"
SEED, LENGTH, CHANNELS, BINS, WINDOW, SINKS = 0, 300, 6, 16, 32, 4


def _load(repo: str, path: str, names: tuple[str, ...], namespace: dict) -> dict:
    """Compile the named top-level functions and classes of ``path`` (device strings -> cpu)."""
    text = subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
    ).stdout
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
            source = textwrap.dedent(ast.get_source_segment(text, node)).replace("'cuda'", "'cpu'")
            lines = [f"@{ast.get_source_segment(text, d)}" for d in node.decorator_list]
            body = source if source.lstrip().startswith("@") else "\n".join(lines + [source])
            exec(compile(body, path, "exec"), namespace)  # noqa: S102
    return namespace


def main(repo: str) -> None:
    with contextlib.redirect_stdout(sys.stderr):  # the released code prints as it goes
        out = _run(repo)
    json.dump(out, sys.stdout, separators=(",", ":"))


def _run(repo: str) -> dict:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    base = {"torch": torch, "nn": nn, "F": F, "np": np, "signal": signal, "ss": ss, "triton": triton, "tl": tl,
            "DEVICE": torch.device("cpu")}  # fmt: skip
    calib = _load(repo, CALIBRATION_FILE, ("transition", "measure", "basis", "MultiDimHiPPO"), dict(base))
    calib = _load(repo, SEARCH_FILE, ("compute_cosine_similarity",), calib)
    cache = _load(repo, CACHE_FILE, ("mat_fourier_kernel", "mat_fourier_triton", "mat_fourier_inv_torch",
                                     "MultiDimHiPPO2"), dict(base))  # fmt: skip
    g = torch.Generator().manual_seed(SEED)
    t = torch.arange(LENGTH, dtype=torch.float32)[:, None]
    x = torch.randn(1, LENGTH, CHANNELS, generator=g) * torch.linspace(0.1, 2, CHANNELS) + torch.sin(t / 7)
    x = x.contiguous()
    middle = x[:, SINKS:-WINDOW, :].contiguous()
    M = middle.shape[1]
    # calibration: period = the middle's own length, N = channels x 2 x bins states
    hippo = calib["MultiDimHiPPO"](N=CHANNELS * 2 * BINS, input_dim=CHANNELS, method="legt", dt=1 / M, T=1)
    coefficients = hippo(middle, token_num=0)
    rebuilt = hippo.reconstruct(coefficients, M).squeeze(0)  # (M, C), divided by the bin count
    raw = rebuilt.clone()
    mse = calib["compute_cosine_similarity"](middle, rebuilt)  # applies the affine step to `rebuilt` in place
    # the cache: a period longer than the middle (prompt + new tokens - sinks - window), prefill FFT,
    # then one token streamed in at K_start = the counter after its increment
    period, stream = M + 40, x[:, -WINDOW : -WINDOW + 1, :].contiguous()
    hippo2 = cache["MultiDimHiPPO2"](N=CHANNELS * 2 * BINS, input_dim=CHANNELS, dt=1 / period, T=1)
    prefill = hippo2(middle, token_num=0)  # (1, 2 x bins, C): cos bins then sin bins
    streamed = hippo2(prefill, token_num=M + 1, slice_input=stream)
    inverse = cache["mat_fourier_inv_torch"](prefill, K=M, T=period)  # (1, M, C)
    out = {
        "repository": "ShirleYoung/FourierAttention", "commit": commit, "seed": SEED, "sinks": SINKS,
        "window": WINDOW, "bins": BINS, "x": x[0].tolist(),
        "calibration": {"period": M, "coefficients": coefficients[0].tolist(), "rebuilt": raw.tolist(),
                        "affine": rebuilt.tolist(), "mse": mse[0].tolist()},
        "cache": {"period": period, "prefill": prefill[0].tolist(), "stream_index": M + 1,
                  "streamed": streamed[0].tolist(), "inverse": inverse[0].tolist()},
    }  # fmt: skip
    return out


if __name__ == "__main__":
    main(sys.argv[1])
