"""Figures: layouts and allocations, accuracy heatmaps, accuracy-vs-length curves.

Functions return a matplotlib ``Figure`` (Agg backend; nothing is shown) and
:func:`save_figure` writes it atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from videorope.io import atomic_path  # noqa: E402
from videorope.rope import ALLOCATIONS, LAYOUTS, frequency_axes, positions  # noqa: E402

__all__ = ["plot_curves", "plot_heatmap", "plot_layout", "plot_lines", "plot_matrix", "save_figure"]

AXIS_COLORS = {"t": "#d62728", "h": "#1f77b4", "w": "#2ca02c"}


def plot_layout(
    layout: str = "videorope",
    frames: int = 8,
    grid: tuple[int, int] = (4, 4),
    allocation: str | None = None,
    head_dim: int = 128,
    text_tokens: int = 4,
    **options: Any,
) -> Figure:
    """Position ids per axis for ``text, video(frames, H, W), text`` and the frequency allocation.

    Top: t, h and w position of every token (video frames shaded). Middle: the h and w ids
    of the first and last frame's grid. Bottom: which axis each of the ``head_dim/2``
    frequencies serves, from the highest frequency (index 0) to the lowest.
    """
    H, W = grid
    allocation = allocation or LAYOUTS[layout].meta["default_allocation"]
    segments = [("text", text_tokens), ("video", frames, H, W), ("text", text_tokens)]
    pos, nxt = positions(layout, segments, **options)
    axes = frequency_axes(allocation, head_dim)
    zero = ALLOCATIONS[allocation].meta.get("zero_axes", ())

    fig = plt.figure(figsize=(12, 9), constrained_layout=True)
    spec = fig.add_gridspec(3, 4, height_ratios=[3, 2.2, 1])
    ax = fig.add_subplot(spec[0, :])
    per_frame = H * W
    for f in range(frames):
        start = text_tokens + f * per_frame
        ax.axvspan(start - 0.5, start + per_frame - 0.5, color="0.92" if f % 2 else "0.85", lw=0)
    for i, name in enumerate("thw"):
        ax.plot(pos[i].numpy(), ".", ms=4, color=AXIS_COLORS[name], label=f"{name} (axis {i})")
    ax.set_xlabel("token index  (text | video frames, shaded | text)")
    ax.set_ylabel("position id")
    opts = ", ".join(f"{k}={v}" for k, v in options.items())
    ax.set_title(f"layout {layout!r}{f' ({opts})' if opts else ''}: {frames} frames of {H}x{W}, next text at {nxt:g}")
    ax.legend(loc="upper left")

    video = pos[:, text_tokens : text_tokens + frames * per_frame].view(3, frames, H, W)
    for col, (frame, axis) in enumerate([(0, 1), (0, 2), (frames - 1, 1), (frames - 1, 2)]):
        sub = fig.add_subplot(spec[1, col])
        values = video[axis, frame]
        sub.imshow(values.numpy(), cmap="Blues" if axis == 1 else "Greens")
        for (r, c), v in zip(((r, c) for r in range(H) for c in range(W)), values.flatten().tolist(), strict=True):
            sub.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8)
        sub.set_title(f"frame {frame} ({'h' if axis == 1 else 'w'}), t={video[0, frame, 0, 0].item():g}", fontsize=9)
        sub.set_xticks([])
        sub.set_yticks([])

    bar = fig.add_subplot(spec[2, :])
    for i, a in enumerate(axes):
        bar.bar(i, 1, width=1, color=AXIS_COLORS[a], edgecolor="white", hatch="//" if a in zero else None)
        bar.text(i, 0.5, a, ha="center", va="center", color="white", fontsize=7 if len(axes) <= 64 else 5)
    bar.set_xlim(-0.5, len(axes) - 0.5)
    bar.set_yticks([])
    bar.set_xlabel("frequency index i  (0 = highest frequency, shortest wavelength)")
    bar.set_title(f"allocation {allocation!r} for head_dim {head_dim}" + (" (hatched: zero frequency)" if zero else ""))
    return fig


def plot_heatmap(
    values: Sequence[Sequence[float | None]],
    x_labels: Sequence[Any],
    y_labels: Sequence[Any],
    title: str,
    x_name: str = "frames",
    y_name: str = "depth",
) -> Figure:
    """Accuracy heatmap like the V-NIAH / NIAH figures: ``values[y][x]`` in [0, 1], ``None`` blank.

    Red is 0, green is 1; each cell is annotated with its percentage.
    """
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(x_labels) + 2), max(2.5, 0.45 * len(y_labels) + 1.5)))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (y, x), v in np.ndenumerate(grid):
        if not np.isnan(v):
            ax.text(x, y, f"{100 * v:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(x_labels)), [str(x) for x in x_labels], rotation=45 if len(x_labels) > 8 else 0)
    ax.set_yticks(range(len(y_labels)), [str(y) for y in y_labels])
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="accuracy")
    fig.tight_layout()
    return fig


def plot_lines(
    curves: dict[str, dict[Any, float]],
    title: str,
    x_name: str,
    y_name: str,
    train_length: int | None = None,
    log_x: bool = True,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """One line per name; ``curves[name][x] = y``. A dashed vertical line marks the training
    length when given; ``log_x`` puts x on a log2 scale with a tick at every x."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, points in curves.items():
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], marker="o", label=name)
    if train_length is not None:
        ax.axvline(train_length, color="0.5", linestyle="--", label="training length")
    if log_x:
        ax.set_xscale("log", base=2)
        ticks = sorted({x for p in curves.values() for x in p})
        ax.set_xticks(ticks, [str(x) for x in ticks])
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(
    curves: dict[str, dict[int, float]], title: str, x_name: str = "frames", train_length: int | None = None
) -> Figure:
    """Accuracy (in [0, 1], drawn as %) against length, one line per scheme."""
    percent = {name: {x: 100 * y for x, y in points.items()} for name, points in curves.items()}
    return plot_lines(percent, title, x_name, "accuracy (%)", train_length, ylim=(-2, 102))


def plot_matrix(
    values: Any,
    title: str,
    x_name: str,
    y_name: str,
    label: str,
    cmap: str = "viridis",
    center: bool = False,
    vline: float | None = None,
) -> Figure:
    """A real-valued matrix ``values[y][x]`` (e.g. layer x head) as an image with a colour bar;
    ``center`` makes the colour scale symmetric about 0; ``vline`` marks an x position."""
    import numpy as np

    grid = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(
        figsize=(min(14.0, max(5.0, 0.25 * grid.shape[1] + 3)), max(3.0, 0.18 * grid.shape[0] + 1.5))
    )
    limit = np.nanmax(np.abs(grid)) if center else None
    image = ax.imshow(grid, cmap=cmap, aspect="auto", interpolation="nearest",
                      vmin=-limit if center else None, vmax=limit)  # fmt: skip
    if vline is not None:
        ax.axvline(vline, color="white", linestyle="--")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=label)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix) atomically, then close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return Path(path)
