"""Frozen pretrained sub-models whose weights a preset does not store.

A builder marks a frozen pretrained part (an ImageNet backbone) with `mark_external`, naming
where its weights come from (a converter's cache, say). `zoo.save` leaves such a part out of
``model.weights.h5`` when its weights are still exactly the ones a fresh build gets, so that a
preset holds only what training changed (a captioner over EfficientNet-Lite0 stores its
decoder, not 13 MB of ImageNet weights); the part's layer names and sources go into
``config.json`` (``external_weights``) and the card. `zoo.load` builds the model (the builder
loads the part's weights again) and loads the file without that part. A part that training
changed (unfrozen and fine-tuned) is stored like any other layer.

Keras's weights file keeps each layer's variables under its place in the model; leaving a
part out uses Keras's ``objects_to_skip`` of `keras.src.saving.saving_lib` (Keras >= 3.6),
which ``Model.save_weights``/``load_weights`` do not expose.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import keras
import numpy as np

SOURCE_ATTRIBUTE = "rnnzoo_weights_source"


def mark_external(layer: keras.layers.Layer, source: str) -> keras.layers.Layer:
    """Mark ``layer`` (a frozen pretrained part) as loading its own weights from ``source``
    (words for people: what the weights are and how they are made); returns ``layer``."""
    if not source:
        raise ValueError("an external weights source needs a description")
    setattr(layer, SOURCE_ATTRIBUTE, str(source))
    return layer


def marked_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The top-level layers of ``model`` marked with `mark_external`, by name."""
    return {layer.name: layer for layer in model.layers
            if getattr(layer, SOURCE_ATTRIBUTE, None)}


def unchanged_parts(model: keras.Model, fresh: keras.Model) -> dict[str, str]:
    """``{layer name: source}`` of the marked parts of ``model`` whose weights equal those
    of ``fresh`` (a new build of the same builder and config): the parts a preset can leave
    out."""
    fresh_layers = marked_layers(fresh)
    parts = {}
    for name, layer in marked_layers(model).items():
        twin = fresh_layers.get(name)
        if twin is None:
            continue
        mine, theirs = layer.get_weights(), twin.get_weights()
        if len(mine) == len(theirs) and all(a.shape == b.shape and np.array_equal(a, b)
                                            for a, b in zip(mine, theirs)):
            parts[name] = getattr(layer, SOURCE_ATTRIBUTE)
    return parts


def _skipped(model: keras.Model, names: Iterable[str]) -> list[keras.layers.Layer]:
    marked = marked_layers(model)
    missing = [n for n in names if n not in marked]
    if missing:
        raise ValueError(f"{model.name}: no external part named {', '.join(missing)} "
                         f"(marked parts: {', '.join(marked) or 'none'})")
    return [marked[n] for n in names]


def save_weights(model: keras.Model, path: str | os.PathLike,
                 skip: Iterable[str] = ()) -> None:
    """``model.save_weights(path)`` without the external parts named in ``skip``."""
    from keras.src.saving import saving_lib

    skip = list(skip)
    if not skip:
        model.save_weights(path)
        return
    saving_lib.save_weights_only(model, str(path), objects_to_skip=_skipped(model, skip))


def load_weights(model: keras.Model, path: str | os.PathLike,
                 skip: Iterable[str] | Mapping[str, str] = ()) -> None:
    """``model.load_weights(path)`` for a file written by `save_weights` with ``skip``; the
    skipped parts keep the weights the builder gave them."""
    from keras.src.saving import saving_lib

    skip = list(skip)
    if not skip:
        model.load_weights(path)
        return
    saving_lib.load_weights_only(model, str(path), objects_to_skip=_skipped(model, skip))
