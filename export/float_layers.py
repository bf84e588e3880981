"""Which layers a full-int8 file keeps in float.

Full-int8 quantization gives every op with an int8 kernel 8-bit activations. That is wrong for
a signal-processing front end: a power spectrum spans many orders of magnitude, so its sum and
mel projection lose nearly everything at 8 bits (a speech-digits file made that way scored 0.34
instead of 0.98). The TFLite quantizer can leave chosen ops in float (``denylisted_nodes``);
`float_layers` picks the layers whose ops it leaves:

* layers whose class sets ``keep_float_in_int8 = True`` (the audio front end in
  `zoo.audio_frontend`), and
* normalization layers (``BatchNormalization``, ``LayerNormalization``, and layers that set the
  flag) and layers that act only in training, when every input they take comes from a layer
  already kept in float: the feature normalization right after the front end.

The rest of the model (convolutions, recurrent layers, dense heads) is int8; a QUANTIZE op
sits where the float part meets it. `export.convert_worker` turns the layer names into the
converter's tensor names.
"""

from __future__ import annotations

import keras

FOLLOWERS = ("BatchNormalization", "LayerNormalization")


def _keeps_float(layer) -> bool:
    return bool(getattr(layer, "keep_float_in_int8", False))


def training_only(layer) -> bool:
    """Whether ``layer`` acts only in training (its class sets ``training_only = True``, as the
    augmentation layers of `zoo.audio_frontend` do): the identity in an exported model."""
    return bool(getattr(layer, "training_only", False))


def _parents(layer) -> list:
    parents = []
    for node in getattr(layer, "_inbound_nodes", []):
        for tensor in node.arguments.keras_tensors:
            history = getattr(tensor, "_keras_history", None)
            if history is not None and history.operation is not None:
                parents.append(history.operation)
    return parents


def nested_layers(model) -> dict[str, keras.layers.Layer]:
    """Every layer of ``model`` by name, nested ones too (inside a sub-model or a wrapper
    such as ``TimeDistributed``, whose inner layers the step model replays by their own
    names); a top-level layer wins over a nested one of the same name."""
    nested = model._flatten_layers(include_self=False, recursive=True)
    return {**{layer.name: layer for layer in nested},
            **{layer.name: layer for layer in model.layers}}


def float_layers(model: keras.Model) -> list[str]:
    """Names of the layers of ``model`` that full-int8 files keep in float (may be empty):
    nested layers that set the flag too (a frame normalization inside the
    ``TimeDistributed`` CNN of a video model)."""
    kept: set[str] = set()
    names: list[str] = []
    for layer in getattr(model, "layers", []):
        parents = _parents(layer)
        follows = bool(parents) and all(p.name in kept for p in parents)
        if _keeps_float(layer) or (follows and (type(layer).__name__ in FOLLOWERS
                                                or training_only(layer))):
            kept.add(layer.name)
            names.append(layer.name)
    top = {layer.name for layer in getattr(model, "layers", [])}
    names += [name for name, layer in nested_layers(model).items()
              if name not in top and _keeps_float(layer)]
    return names
