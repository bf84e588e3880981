"""rnnzoo's library: recurrent layer factories, model builders, registry and presets."""

__version__ = "0.1.0"

from zoo.errors import PresetError, RnnzooError, UnknownNameError  # noqa: E402
from zoo.registry import build, list_models, register  # noqa: E402

__all__ = [
    "__version__", "PresetError", "RnnzooError", "UnknownNameError",
    "build", "list_models", "register",
]
