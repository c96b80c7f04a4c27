"""Triton kernels, each beside its PyTorch reference (installed as ``videorope.kernels``)."""
