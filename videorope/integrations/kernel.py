"""Which rotary implementation a patched model runs: the PyTorch reference or the Triton kernel.

With the kernel, :class:`~videorope.integrations.base.RotaryEmbedding` returns
:class:`Angles` (the positions and the frequency table) in place of cos/sin, and the
modeling file's ``apply_rotary_pos_emb`` (wrapped once per file by
:func:`videorope.integrations.base.use_kernel`) hands them to
:func:`videorope.kernels.rotary.rotary`; anything else goes to the original function.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from videorope.rope import RotaryTable

__all__ = ["KERNELS", "Angles", "check_kernel", "wants_kernel"]

KERNELS = ("auto", "torch", "triton")
"""``auto``: the kernel on CUDA tensors when Triton is installed, PyTorch otherwise."""


@dataclass(frozen=True)
class Angles:
    """What the kernel needs instead of cos/sin: positions (3, B, L) or (B, L), the table."""

    positions: torch.Tensor
    table: RotaryTable


def _triton() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def check_kernel(kernel: str) -> str:
    """``kernel`` if this machine can run it, else a ValueError saying why."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "triton":
        if not _triton():
            raise ValueError("kernel='triton' needs Triton: pip install 'videorope[kernels]'")
        if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError(
                "kernel='triton' needs a CUDA GPU (or TRITON_INTERPRET=1 set before import, for tests); "
                "use kernel='auto' to fall back to PyTorch"
            )
    return kernel


def wants_kernel(kernel: str, x: torch.Tensor) -> bool:
    """Whether a rotary over ``x``'s device runs the Triton kernel."""
    return kernel == "triton" or (kernel == "auto" and x.is_cuda and _triton())
