"""Piano-roll pictures of a primer and its generated continuation (matplotlib, PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tasks.common.figures import save_figure
from zoo.music import LOWEST_KEY

PRIMER_COLOR, NEW_COLOR = "#4c72b0", "#dd8452"


def _figure(width_seconds: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = float(np.clip(4 + width_seconds / 4, 6, 24))
    return plt, *plt.subplots(figsize=(width, 4.5), dpi=100)


def _finish(plt, fig, ax, boundary: float | None, title: str, path) -> Path:
    if boundary is not None:
        ax.axvline(boundary, color="black", linewidth=1, linestyle="--")
    ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=PRIMER_COLOR),
               plt.Rectangle((0, 0), 1, 1, color=NEW_COLOR)]
    ax.legend(handles, ["primer", "generated"], loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_notes(primer: np.ndarray | None, generated: np.ndarray, path: str | os.PathLike, *,
               title: str = "") -> Path:
    """Draw ``[N, 3]`` (pitch, step, duration) notes as bars: the primer, then the generated
    continuation (starting one step after the primer's last note), split by a dashed line."""
    primer = np.zeros((0, 3)) if primer is None else np.asarray(primer, np.float64)
    notes = np.concatenate([primer, np.asarray(generated, np.float64)])
    starts = np.cumsum(notes[:, 1])
    ends = starts + np.maximum(notes[:, 2], 0.05)
    plt, fig, ax = _figure(float(ends.max()) if len(ends) else 1.0)
    colors = [PRIMER_COLOR] * len(primer) + [NEW_COLOR] * (len(notes) - len(primer))
    ax.barh(notes[:, 0], ends - starts, left=starts, height=0.8, color=colors)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    boundary = float(starts[len(primer)]) if len(primer) and len(notes) > len(primer) else None
    return _finish(plt, fig, ax, boundary, title or "primer and continuation", path)


def plot_frames(primer: np.ndarray | None, generated: np.ndarray, path: str | os.PathLike, *,
                title: str = "") -> Path:
    """Draw ``[T, 88]`` piano-roll frames: the primer's, then the generated ones."""
    primer = np.zeros((0, generated.shape[1])) if primer is None else np.asarray(primer)
    plt, fig, ax = _figure(float(len(primer) + len(generated)) / 2)
    for frames, offset, color in ((primer, 0, PRIMER_COLOR), (generated, len(primer), NEW_COLOR)):
        steps, keys = np.nonzero(np.asarray(frames) > 0.5)
        ax.bar(steps + offset, 0.8, bottom=keys + LOWEST_KEY - 0.4, width=1.0, align="edge",
               color=color)
    ax.set_xlabel("time step")
    ax.set_ylabel("MIDI pitch")
    boundary = float(len(primer)) if len(primer) else None
    return _finish(plt, fig, ax, boundary, title or "primer and continuation", path)
