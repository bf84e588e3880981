"""Starting a model from another model's layers (``rnnzoo train TASK --from PRESET`` across
tasks: a classifier from a language model's embedding and encoder)."""

from __future__ import annotations

import sys

import keras

from tasks.common.finetune import PRETRAINED
from zoo.errors import RnnzooError


def transfer_weights(target: keras.Model, source: keras.Model, label: str = "the source",
                     ) -> keras.Model:
    """Copy into ``target`` the weights of every layer of ``source`` with the same name and
    the same weight shapes; print which layers were taken (and which same-named ones did not
    fit) on stderr. Returns ``target``, whose ``rnnzoo_pretrained`` attribute names the layers
    taken (for `tasks.common.finetune`); `RnnzooError` when no layer was taken."""
    by_name = {layer.name: layer for layer in source.layers}
    taken, skipped = [], []
    for layer in target.layers:
        other = by_name.get(layer.name)
        if other is None or not layer.weights:
            continue
        mine, theirs = layer.get_weights(), other.get_weights()
        if [w.shape for w in mine] != [w.shape for w in theirs]:
            skipped.append(layer.name)
            continue
        layer.set_weights(theirs)
        taken.append(layer.name)
    if not taken:
        raise RnnzooError(f"{label}: no layer of it matches the new model by name and weight "
                          f"shapes (same-named layers of other shapes: "
                          f"{', '.join(skipped) or 'none'})")
    setattr(target, PRETRAINED, tuple(taken))
    note = f"note: started from {label}: layers {', '.join(taken)}"
    if skipped:
        note += f" (not taken, other shapes: {', '.join(skipped)})"
    print(note, file=sys.stderr, flush=True)
    return target
