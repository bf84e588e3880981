"""Tiny synthetic series in the CSV layout of ``../shared/data/timeseries``, for tests.

`write_series` writes a monthly (``1990-01``) or hourly (``year,month,day,hour`` columns, as
the Beijing PM2.5 file) series: a seasonal wave, a trend and noise, optionally with a covariate
that leads the target, a text category column and missing values.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np


def series_values(n: int, *, season: int = 12, trend: float = 0.0, noise: float = 0.1,
                  seed: int = 0, multiplicative: bool = False) -> np.ndarray:
    """``n`` values: ``10 + sin(2 pi t / season) + trend t + noise``; ``multiplicative``:
    ``(10 + trend t) (1 + 0.1 (sin(2 pi t / season) + noise))``, a wave (and noise) that
    grows with the level."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    wave, shocks = np.sin(2 * np.pi * t / season), noise * rng.normal(size=n)
    if multiplicative:
        return (10.0 + trend * t) * (1.0 + 0.1 * (wave + shocks))
    return 10.0 + wave + trend * t + shocks


def write_series(path: str | os.PathLike, n: int = 120, *, season: int = 12,
                 trend: float = 0.0, noise: float = 0.1, hourly: bool = False,
                 covariate: bool = False, category: bool = False,
                 missing: tuple[int, ...] = (), seed: int = 0,
                 multiplicative: bool = False) -> Path:
    """Write the series to ``path`` and return it. ``missing``: rows (0-based) whose target
    is written as ``NA``."""
    values = series_values(n, season=season, trend=trend, noise=noise, seed=seed,
                           multiplicative=multiplicative)
    header = (["No", "year", "month", "day", "hour"] if hourly else ["Month"]) + ["value"]
    if covariate:
        header.append("lead")
    if category:
        header.append("wind")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(n):
            if hourly:
                day, hour = divmod(i, 24)
                row = [i + 1, 2010 + day // 336, 1 + day // 28 % 12, 1 + day % 28, hour]
            else:
                row = [f"{1990 + i // 12}-{1 + i % 12:02d}"]
            row.append("NA" if i in missing else f"{values[i]:.4f}")
            if covariate:
                row.append(f"{values[min(i + 1, n - 1)]:.4f}")
            if category:
                row.append(("NE", "NW", "SE")[i % 3])
            writer.writerow(row)
    return path


def rewrite_after(path: str | os.PathLike, other: str | os.PathLike, end: int) -> Path:
    """Copy an hourly series written by `write_series` (``covariate`` and ``category`` on) to
    ``other`` with every observation from ``end`` on rewritten wildly (huge targets, missing
    values, a flipped covariate, an unseen category): what a leakage test feeds a pipeline
    that must never read past ``end``. Returns ``other``."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    changed = lines[:1 + end]
    for i, line in enumerate(lines[1 + end:]):
        fields = line.split(",")
        fields[5] = "NA" if i % 7 == 0 else str(1e6 * (i + 1))
        fields[6] = str(-1e6 * (i + 1))
        fields[7] = "WEIRD" if i % 2 else "NE"
        changed.append(",".join(fields))
    other = Path(other)
    other.write_text("\n".join(changed) + "\n", encoding="utf-8")
    return other
