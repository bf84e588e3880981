"""Writing matplotlib figures for the tasks' ``--plot`` options."""

from __future__ import annotations

import os
from pathlib import Path


def save_figure(fig, path: str | os.PathLike, *, dpi: float | None = None) -> Path:
    """Lay out ``fig``, write it to ``path`` (parent folders made), close it; the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
