"""Trace Keras ``Embedding`` lookups as one plain gather (`zoo.layers.gather_rows`).

Keras' lookup maps negative ids to ``id + vocabulary`` before the gather (LESS, ADD, SELECT on
the integer ids). The converter's 16x8 quantizer wants a calibrated range for every input of
those ops and refuses a model with a token input ("Max and min for dynamic tensors should be
recorded during calibration", tensorflow/model-optimization#1090); every other file carries
three needless ops per lookup. The exported models' ids are never negative.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from zoo.layers import gather_rows


def _plain(layer: keras.layers.Embedding) -> bool:
    return (type(layer).call is keras.layers.Embedding.call
            and not getattr(layer, "lora_enabled", False)
            and getattr(layer, "quantization_mode", None) is None)


def _lookup(layer: keras.layers.Embedding):
    def call(ids):
        return keras.ops.cast(gather_rows(layer.embeddings, ids), layer.compute_dtype)

    return call


@contextlib.contextmanager
def plain_embedding_lookups(*models: keras.Model) -> Iterator[list[str]]:
    """Within the block, every plain ``Embedding`` layer of ``models`` (nested ones too)
    traces as one gather of its table; yields the names of those layers."""
    layers = {id(layer): layer for model in models
              for layer in model._flatten_layers(include_self=False, recursive=True)
              if isinstance(layer, keras.layers.Embedding) and _plain(layer)}
    try:
        for layer in layers.values():
            vars(layer)["call"] = _lookup(layer)
        yield [layer.name for layer in layers.values()]
    finally:
        for layer in layers.values():
            vars(layer).pop("call", None)
