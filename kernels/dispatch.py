"""Which implementation runs: the PyTorch reference or a Triton kernel, for every kernel.

One choice, ``kernel`` in ``auto`` / ``torch`` / ``triton``, serves the multimodal rotary
(:mod:`videorope.kernels.rotary`, used by patched models and LLaDA) and the decode over the
Fourier cache (:mod:`videorope.kernels.fourier_decode`). This module imports no Triton, so
the choice can be checked on machines without it; :func:`on_device` puts a launch under the
device guard of its inputs, so a model spread over several GPUs launches on each tensor's own.
"""

from __future__ import annotations

import contextlib
import os

import torch

__all__ = ["KERNELS", "check_kernel", "on_device", "wants_kernel"]

KERNELS = ("auto", "torch", "triton")
"""``auto``: the kernel on CUDA tensors when Triton is installed, PyTorch otherwise."""


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
    """Whether work over ``x``'s device runs the Triton kernel under the choice ``kernel``."""
    return kernel == "triton" or (kernel == "auto" and x.is_cuda and _triton())


def on_device(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """The device guard of ``x`` (``torch.cuda.device``) for a CUDA tensor; nothing otherwise."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()
