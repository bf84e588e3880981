"""The traced functions every export is made from, with stable input and output names.

``serving_default`` (sequence): inputs named after the model's Input layers, outputs after its
output layers (`export.step.input_names`, `export.step.output_names`), e.g. ``sequence`` ->
``sum`` for the adding problem. ``step``: the step model's inputs (one time step of each model
input plus the states ``state_h_<i>``/``state_c_<i>``) -> the model outputs plus the next
states under the same state names.

Batch size: ``None`` (dynamic) for SavedModel; TFLite exports fix it (1 by default, for
phones). The time length is the model's unless ``length`` overrides it.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from export.step import input_names, output_names, step_spec

SEQUENCE_SIGNATURE = "serving_default"
STEP_SIGNATURE = "step"


def _as_dict(outputs: Any, names: list[str]) -> dict:
    if isinstance(outputs, dict):
        return dict(outputs)
    return dict(zip(names, keras.tree.flatten(outputs)))


def input_specs(model: keras.Model, *, batch_size: int | None = None,
                length: int | None = None) -> list[tf.TensorSpec]:
    """TensorSpecs of the model's inputs: batch ``batch_size``; ``length`` fills in a time axis
    (axis 1) that the model leaves open."""
    specs = []
    for name, tensor in zip(input_names(model), model.inputs):
        shape = [batch_size, *tensor.shape[1:]]
        if length is not None and len(shape) > 1 and shape[1] is None:
            shape[1] = length
        specs.append(tf.TensorSpec(shape, tf.as_dtype(tensor.dtype), name=name))
    return specs


def input_packer(model: keras.Model):
    """A function of the model's inputs as positional values (in the order of
    ``model.inputs``) to what the model is called with: the one value, a list, or, for a model
    built with a dict of inputs, the dict."""
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        key_of = {id(tensor): key for key, tensor in struct.items()}
        keys = [key_of[id(tensor)] for tensor in model.inputs]
        return lambda args: dict(zip(keys, args))
    return lambda args: args[0] if len(args) == 1 else list(args)


def sequence_function(model: keras.Model, *, batch_size: int | None = None,
                      length: int | None = None) -> tf.types.experimental.GenericFunction:
    """``tf.function`` of the whole-sequence model: named inputs -> dict of named outputs."""
    specs = input_specs(model, batch_size=batch_size, length=length)
    names = output_names(model)

    pack = input_packer(model)

    def serve(*args):
        return _as_dict(model(pack(args), training=False), names)

    return tf.function(serve, input_signature=specs, autograph=False)


def step_input_specs(step: keras.Model, *, batch_size: int | None = None) -> list[tf.TensorSpec]:
    """TensorSpecs of a step model's inputs: the per-step inputs, then the states."""
    spec = step_spec(step)
    by_name = dict(zip(input_names(step), step.inputs))
    specs = []
    for name in [*spec.inputs, *spec.states]:
        tensor = by_name[name]
        specs.append(tf.TensorSpec([batch_size, *tensor.shape[1:]], tf.as_dtype(tensor.dtype),
                                   name=name))
    return specs


def step_function(step: keras.Model, *,
                  batch_size: int | None = None) -> tf.types.experimental.GenericFunction:
    """``tf.function`` of a step model (from `export.step_model`): named inputs and states ->
    dict of named outputs and next states."""
    specs = step_input_specs(step, batch_size=batch_size)
    names = [s.name for s in specs]

    def run_step(*args):
        return dict(step(dict(zip(names, args)), training=False))

    return tf.function(run_step, input_signature=specs, autograph=False)
