"""Writes that never leave a truncated file behind: write aside, then rename into place."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np


@contextlib.contextmanager
def _aside(path: Path) -> Iterator[Path]:
    """Yields the temporary file next to ``path`` (same suffix) to write; renames it to
    ``path`` when the block ends without an error."""
    temporary = path.with_name(".partial-" + path.name)
    yield temporary
    os.replace(temporary, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (fsynced before the rename)."""
    with _aside(path) as temporary, temporary.open("w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def save_weights_atomic(model: keras.Model, path: Path) -> None:
    """``model.save_weights`` to ``path`` atomically."""
    with _aside(path) as temporary:  # keeps the .weights.h5 suffix
        model.save_weights(str(temporary), overwrite=True)


def savez_atomic(path: Path, arrays: Sequence[np.ndarray]) -> None:
    """``np.savez`` of ``arrays`` to ``path`` atomically."""
    with _aside(path) as temporary, temporary.open("wb") as handle:
        np.savez(handle, *arrays)


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` of ``array`` to ``path`` atomically."""
    with _aside(path) as temporary, temporary.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
