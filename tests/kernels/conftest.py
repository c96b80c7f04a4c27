"""Kernel tests run Triton's interpreter on a machine without a GPU. The variable must be set
before Triton compiles anything, so it is set here, before the test modules import the kernels."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
