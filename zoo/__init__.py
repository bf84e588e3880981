"""rnnzoo's library: recurrent layer factories, model builders, registry and presets.

The registry names are imported on first use, so ``import zoo.errors`` (and ``rnnzoo
--version``) do not pay for importing Keras and TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from zoo.errors import PresetError, RnnzooError, UnknownNameError

_REGISTRY_NAMES = ("Preset", "build", "list_models", "list_presets", "load", "register",
                   "save", "update_card")

__all__ = ["__version__", "PresetError", "RnnzooError", "UnknownNameError", *_REGISTRY_NAMES]


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        value = getattr(importlib.import_module("zoo.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
