"""rnnzoo's library: recurrent layer factories, model builders, registry and presets."""

__version__ = "0.1.0"

from zoo.errors import PresetError, RnnzooError, UnknownNameError  # noqa: E402
from zoo.registry import (  # noqa: E402
    Preset, build, list_models, list_presets, load, register, save, update_card,
)

__all__ = [
    "__version__", "PresetError", "RnnzooError", "UnknownNameError",
    "Preset", "build", "list_models", "list_presets", "load", "register", "save",
    "update_card",
]
