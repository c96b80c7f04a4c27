"""What every benchmark shares: alternating timing and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each function, run in alternation so drift hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def copy_seconds(nbytes: int) -> float:
    """Median seconds of a CUDA device copy of ``nbytes`` (``nbytes`` read and written): the
    bandwidth yardstick of the kernel benchmarks, measured in their own run."""
    x = torch.empty(nbytes // 2, dtype=torch.bfloat16, device="cuda")
    y = torch.empty_like(x)
    return median_seconds({"copy": lambda: (y.copy_(x), torch.cuda.synchronize())}, repeats=20, warmup=3)["copy"]


def device() -> str:
    """The device the numbers come from, in words."""
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name()}"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
