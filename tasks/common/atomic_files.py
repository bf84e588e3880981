"""Writes that never leave a truncated file behind: write aside, then rename into place."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (fsynced before the rename)."""
    temporary = path.with_name(".partial-" + path.name)
    with temporary.open("w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def save_weights_atomic(model: keras.Model, path: Path) -> None:
    """``model.save_weights`` to ``path`` atomically."""
    temporary = path.with_name(".partial-" + path.name)  # keeps the .weights.h5 suffix
    model.save_weights(str(temporary), overwrite=True)
    os.replace(temporary, path)


def savez_atomic(path: Path, arrays: Sequence[np.ndarray]) -> None:
    """``np.savez`` of ``arrays`` to ``path`` atomically."""
    temporary = path.with_name(".partial-" + path.name)
    with temporary.open("wb") as handle:
        np.savez(handle, *arrays)
    os.replace(temporary, path)


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` of ``array`` to ``path`` atomically."""
    temporary = path.with_name(".partial-" + path.name)
    with temporary.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
    os.replace(temporary, path)
