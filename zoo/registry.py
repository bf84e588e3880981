"""Model registry (timm style) and presets (keras-hub style folders).

PART 1 (builders) is in place; presets (`list_presets`, `load`, `save`, `Preset`) are
being added.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import keras

from zoo.errors import UnknownNameError

# Modules whose import registers builders; imported on first use of the registry.
FAMILY_MODULES = ("zoo.adding",)


@dataclass(frozen=True)
class BuilderInfo:
    name: str
    fn: Callable[..., keras.Model]
    task: str | None
    doc: str


_BUILDERS: dict[str, BuilderInfo] = {}
_families_loaded = False


def register(name: str, *, task: str | None = None) -> Callable:
    """Decorator that registers a builder function under ``name``."""

    def decorate(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _BUILDERS and _BUILDERS[name].fn is not fn:
            raise ValueError(f"builder {name!r} is already registered by {_BUILDERS[name].fn.__module__}")
        _BUILDERS[name] = BuilderInfo(name, fn, task, inspect.getdoc(fn) or "")
        return fn

    return decorate


def _load_families() -> None:
    global _families_loaded
    if not _families_loaded:
        _families_loaded = True
        for module in FAMILY_MODULES:
            importlib.import_module(module)


def list_models(task: str | None = None) -> list[str]:
    """Registered builder names, sorted; only those of ``task`` if given."""
    _load_families()
    return sorted(n for n, info in _BUILDERS.items() if task is None or info.task == task)


def builder_info(name: str) -> BuilderInfo:
    """The registration record of builder ``name``."""
    _load_families()
    if name not in _BUILDERS:
        raise UnknownNameError("model builder", name, _BUILDERS)
    return _BUILDERS[name]


def build(name: str, **config: Any) -> keras.Model:
    """Build the model ``name`` with ``config``; records both on the model for `save`."""
    info = builder_info(name)
    signature = inspect.signature(info.fn)
    try:
        signature.bind(**config)
    except TypeError as error:
        raise ValueError(f"bad config for builder {name!r}: {error}; it takes {signature}") from None
    model = info.fn(**config)
    model.rnnzoo_builder = name
    model.rnnzoo_config = dict(config)
    return model
