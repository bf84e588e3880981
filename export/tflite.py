"""TFLite export: float32, fp16, dynamic-range and full-int8 files, sequence and step models.

How each file is made (tensorflow 2.21 / keras 3.15):

* The model (or its step model, `export.step`) is traced here into a temporary SavedModel with
  fixed batch (1 by default) and stable names (`export.signatures`); the converter runs on it in
  a child process (`export.convert_worker`, `export.child`), so that a converter crash becomes a
  `ConversionError` naming the model and the variant instead of killing the caller.
* float32, fp16 and dynamic-range: the converter on the traced graph. Keras 3 recurrent layers
  become a TFLite WHILE loop (not the fused LSTM op).
* full int8, sequence: the converter crashes on those WHILE loops (all three kinds), so for
  models with a step form the calibrated int8 *step* model is wrapped in a builtin WHILE loop
  (`export.step_loop`): the file holds the int8 weights once, like the step model. Models
  without a step form (bidirectional, time-mixing layers) are converted from an *unrolled*
  graph instead (weights shared, but every time step adds its own tensors and ops, so that
  file grows with the sequence length; the report says so).
* full int8, step: the converter on the step model, calibrated with the (input, state) pairs
  that the float step model reaches on the representative sequences (`export.calibration`).
* full int8 keeps the layers of ``float_layers`` in float (by default the audio front end and
  the normalization after it, `export.float_layers`): the converter calibrates, then the
  quantizer runs with their ops on its deny list (`export.convert_worker`).
* int8 weights are quantized per tensor by default, not per output channel: a per-channel
  weight stores a float32 scale and an int64 zero point for each output channel (12 bytes),
  about 25 % on top of an int8 recurrent kernel of 128 units, which put 128-unit LSTM, GRU and
  vanilla RNN int8 files at 0.31-0.33 of float32 (0.27-0.29 per tensor); on a trained
  128-unit adding LSTM the per-tensor int8 MSE was within 0.3 % of float32 (per channel 3.9 %).
  ``per_channel=True`` restores the converter's default.

Builtin ops only unless ``allow_flex``; a model that needs another op fails with one line
naming the op and the layer. Batch size: 1 by default (phones); ``batch_size=None`` exports a
dynamic batch axis (resize the input with ``interpreter.resize_tensor_input`` before
``allocate_tensors``). The converter cannot lower Keras' sequence loop (a TensorList whose
element shape holds the batch) without Flex ops when the batch is dynamic, so dynamic-batch
sequence files loop over the step model like int8 ones (and need a fixed length). Every file gets the ``rnnzoo`` metadata entry (`export.tflite_file`) with its
input spec, states and the caller's ``metadata``; intermediate tensor names are dropped unless
``keep_tensor_names``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from export import tflite_file
from export.artifact import Artifact, Variant
from export.calibration import check_representative, step_calibration
from export.child import ConversionError, run_jobs
from export.files import write_file_atomic
from export.float_layers import float_layers as default_float_layers, training_only
from export.signatures import SEQUENCE_SIGNATURE, STEP_SIGNATURE, sequence_function, step_function
from export.step import (
    StepModelError,
    StepSpec,
    input_names,
    output_names,
    step_model,
    step_spec,
    unrolled,
)
from export.step_loop import loop_over_steps

WORKER = "export.convert_worker"
_TRACED = {"sequence": "sequence", "step": "step", "unrolled": "unrolled"}


def to_tflite(model: keras.Model, path: str | os.PathLike, *, quantize: str = "none",
              kind: str = "sequence", representative: Iterable | None = None,
              io_dtype: str = "float32", allow_flex: bool = False, batch_size: int | None = 1,
              length: int | None = None, metadata: dict | None = None,
              keep_tensor_names: bool = False, name: str | None = None,
              per_channel: bool = False, float_layers: list[str] | None = None) -> Artifact:
    """Convert ``model`` to one TFLite file at ``path`` and return its `Artifact`.

    ``quantize``: ``none`` (float32), ``fp16``, ``dynamic`` (int8 weights, float activations)
    or ``int8`` (full integer; needs ``representative``: samples of the model's inputs, each
    with a batch axis, e.g. ``task.representative(...)``). ``io_dtype="int8"`` gives int8
    input and output tensors (int8 only). ``kind="step"`` exports the single-step model
    (`export.step_model`). ``length`` fixes the time axis (default: the model's). ``name``
    names the model in errors (default: ``model.name``). ``per_channel`` quantizes int8
    weights per output channel instead of per tensor. ``float_layers`` names the layers that
    int8 files keep in float (default: `export.float_layers.float_layers`, the audio front end
    and its normalization; ``[]`` quantizes everything). See the module docstring for how each
    variant is made, for ``batch_size`` and for the per-tensor default.
    """
    variant = Variant(kind=kind, quantize=quantize, io_dtype=io_dtype)
    return convert_variants(model, {variant: Path(path)}, representative=representative,
                            allow_flex=allow_flex, batch_size=batch_size, length=length,
                            metadata=metadata, keep_tensor_names=keep_tensor_names, name=name,
                            per_channel=per_channel, float_layers=float_layers)[0]


def _model_length(model: keras.Model) -> int | None:
    lengths = {tuple(t.shape)[1] for t in model.inputs if len(t.shape) > 1}
    return lengths.pop() if len(lengths) == 1 else None


def _layer_of(location: str, model: keras.Model) -> str | None:
    """The model layer named in a converter location like ``model_1/layer_1/op@fn``."""
    names = {layer.name for layer in model._flatten_layers(include_self=False, recursive=True)}
    parts = location.split("@", 1)[0].split("/")
    for part in parts[1:] + parts[:1]:
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in names:
                return candidate
    return None


def _failure(result: dict, label: str, model: keras.Model, allow_flex: bool) -> ConversionError:
    """One line naming the op and the layer the converter stopped at."""
    ops = [o for o in result.get("ops") or [] if o["location"]]
    missing = [o for o in ops if o["code"] in ("ERROR_NEEDS_FLEX_OPS", "ERROR_NEEDS_CUSTOM_OPS")]
    if not ops:
        return ConversionError(f"{label}: the TFLite converter failed: {result.get('message')}")
    op = (missing or ops)[0]
    layer = _layer_of(op["location"], model)
    where = f" in layer {layer!r}" if layer else f" at {op['location']}"
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        if allow_flex:
            return ConversionError(f"{label}: op {op['op']}{where}{more} has neither a TFLite "
                                   "builtin nor a Flex kernel")
        return ConversionError(f"{label}: op {op['op']}{where}{more} is not a TFLite builtin "
                               "op; --allow-flex (allow_flex=True) lets Flex ops in")
    return ConversionError(f"{label}: the TFLite converter cannot convert op {op['op']}{where}: "
                           f"{op.get('message') or result.get('message')}")


def _io_spec(model: tflite_file.fb.ModelT) -> dict:
    sig = model.signatureDefs[0]
    tensors = model.subgraphs[sig.subgraphIndex].tensors

    def entry(m) -> dict:
        t = tensors[m.tensorIndex]
        shape = [int(d) for d in (t.shapeSignature if t.shapeSignature is not None else t.shape)]
        spec = {"name": tflite_file.as_text(m.name), "shape": shape,
                "dtype": tflite_file._TYPE_NAMES.get(t.type, str(t.type)).lower()}
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            spec["quantization"] = {"scale": [float(s) for s in q.scale],
                                    "zero_point": [int(z) for z in q.zeroPoint]}
        return spec

    return {"signature": tflite_file.as_text(sig.signatureKey),
            "inputs": [entry(m) for m in sig.inputs], "outputs": [entry(m) for m in sig.outputs]}


def _trace(model: keras.Model, folder: Path, signatures: set[str], *, batch_size: int | None,
           length: int | None, unrolled_length: int | None, step: keras.Model | None) -> None:
    """Save the functions the conversions need into one SavedModel at ``folder``."""
    module = tf.Module()
    module.model = model
    functions = {}
    if "sequence" in signatures:
        functions["sequence"] = sequence_function(
            model, batch_size=batch_size, length=length).get_concrete_function()
    if "step" in signatures:
        module.step_model = step
        functions["step"] = step_function(step, batch_size=batch_size).get_concrete_function()
    if "unrolled" in signatures:
        with unrolled(model):
            functions["unrolled"] = sequence_function(
                model, batch_size=batch_size, length=unrolled_length).get_concrete_function()
    tf.saved_model.save(module, str(folder), signatures=functions)


def convert_variants(model: keras.Model, targets: dict[Variant, Path], *,
                     representative: Iterable | None = None, allow_flex: bool = False,
                     batch_size: int | None = 1, length: int | None = None,
                     metadata: dict | None = None, keep_tensor_names: bool = False,
                     name: str | None = None, timeout: float | None = None,
                     per_channel: bool = False,
                     float_layers: list[str] | None = None) -> list[Artifact]:
    """Make every ``Variant`` of ``targets`` (variant -> output path) in one converter child
    process; return their artifacts in the same order. Arguments as `to_tflite`.

    Nothing is written unless every conversion succeeds (files are renamed into place at the
    end). Representative data is checked before the converter starts.
    """
    label = name or model.name
    variants = list(targets)
    keep_float = default_float_layers(model) if float_layers is None else list(float_layers)
    unknown = sorted(set(keep_float) - {layer.name for layer in model.layers})
    if unknown:
        raise ValueError(f"model {label!r}: float_layers names no layer of the model: "
                         f"{', '.join(unknown)}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive or None, got {batch_size}")
    wants_step = any(v.kind == "step" for v in variants)
    looped = any(v.kind == "sequence" and (v.quantize == "int8" or batch_size is None)
                 for v in variants)
    step, step_error = None, None
    if wants_step or looped:
        try:
            step = step_model(model)
        except StepModelError as error:
            if wants_step:
                raise StepModelError(f"model {label!r}: {error}") from None
            step_error = error
    spec: StepSpec | None = step_spec(step) if step is not None else None
    loop = spec is not None and len(spec.inputs) == 1

    length = length or _model_length(model)
    sequences = None
    if any(v.quantize == "int8" for v in variants):
        sequences = check_representative(representative, model, length=length)
    int8_length = length or (next(iter(sequences.values())).shape[1] if sequences else None)
    if batch_size is None and loop and int8_length is None:
        raise ValueError(f"model {label!r}: a dynamic-batch sequence model loops over the step "
                         "model for a fixed number of steps; pass length=... (the model's time "
                         "axis is open)")

    with tempfile.TemporaryDirectory(prefix="rnnzoo-tflite-") as work:
        work = Path(work)
        jobs: dict[tuple, dict] = {}
        plan: list[tuple[Variant, tuple, str]] = []
        calibration: dict[str, Path] = {}

        def representative_file(source: str) -> Path:
            if source not in calibration:
                arrays = step_calibration(step, sequences) if source == "step" else sequences
                calibration[source] = work / f"representative-{source}.npz"
                np.savez(calibration[source], **arrays)
            return calibration[source]

        for variant in variants:
            method = "converter"
            if variant.kind == "step":
                signature, io = "step", variant.io_dtype
            elif (variant.quantize == "int8" or batch_size is None) and loop:
                signature, io, method = "step", "float32", "step-loop"
            elif variant.quantize == "int8" or batch_size is None:
                if int8_length is None:
                    raise ValueError(f"model {label!r}: without a step form, an int8 or dynamic-"
                                     "batch sequence model is unrolled and needs a fixed length "
                                     "(length=...)")
                signature, io, method = "unrolled", variant.io_dtype, "unrolled"
            else:
                signature, io = "sequence", "float32"
            key = (signature, variant.quantize, io)
            if key not in jobs:
                job = {"signature": signature, "quantize": variant.quantize, "io_dtype": io,
                       "allow_flex": bool(allow_flex), "per_channel": per_channel, "output": str(work / f"job{len(jobs)}.tflite")}
                if variant.quantize == "int8":
                    job["representative"] = str(representative_file(
                        "step" if signature == "step" else "sequence"))
                    job["float_layers"] = keep_float
                jobs[key] = job
            plan.append((variant, key, method))

        traced = work / "traced"
        _trace(model, traced, {k[0] for k in jobs}, batch_size=batch_size, length=length,
               unrolled_length=int8_length, step=step)
        job_list = list(jobs.values())
        labels = [f"model {label!r} [{' / '.join(v.label for v, k, _ in plan if jobs[k] is job)}]"
                  for job in job_list]
        results = run_jobs(WORKER, {"savedmodel": str(traced)}, job_list, work / "child",
                           labels=labels, timeout=timeout)
        for job, result, job_label in zip(job_list, results, labels):
            if not result.get("ok"):
                raise _failure(result, job_label, model, allow_flex)
            job["float_tensors"] = result.get("float_tensors", 0)

        finished: list[tuple[Path, bytes, Artifact]] = []
        for variant, key, method in plan:
            data = Path(jobs[key]["output"]).read_bytes()
            notes = []
            if method == "step-loop":
                data = loop_over_steps(data, length=int8_length, input_name=spec.inputs[0],
                                       state_names=list(spec.states),
                                       sequence_outputs=spec.sequence_outputs,
                                       int8_io=variant.io_dtype == "int8")
                why = ("the converter's own int8 WHILE loops crash" if variant.quantize == "int8"
                       else "the converter cannot lower Keras' loop with a dynamic batch")
                notes.append(f"{variant.quantize} step model run by a TFLite WHILE loop ({why})")
            elif method == "unrolled":
                notes.append(f"no step form ({step_error}); int8 from an unrolled graph, "
                             "which holds the ops of every time step (its size grows with the "
                             "sequence length)")
            if variant.quantize == "int8" and jobs[key]["float_tensors"]:
                shown = [n for n in keep_float if not training_only(model.get_layer(n))]
                notes.append(f"kept in float: {', '.join(shown)} (a signal front end does not "
                             "fit 8 bits)")
            obj = tflite_file.read(data)
            if not keep_tensor_names:
                tflite_file.strip_tensor_names(obj)
            tflite_file.set_signature_key(
                obj, STEP_SIGNATURE if variant.kind == "step" else SEQUENCE_SIGNATURE)
            payload = {
                **(metadata or {}),
                "file": {"kind": variant.kind, "quantize": variant.quantize,
                         "io_dtype": variant.io_dtype, "method": method,
                         "batch_size": batch_size,
                         "length": int8_length if variant.quantize == "int8" and variant.kind == "sequence" else length,
                         "model_inputs": input_names(model), "model_outputs": output_names(model),
                         **_io_spec(obj)},
            }
            if spec is not None and variant.kind == "step":
                payload["file"]["states"] = dict(spec.states)
                payload["file"]["sequence_outputs"] = list(spec.sequence_outputs)
            tflite_file.add_metadata(obj, payload)
            artifact = Artifact(path=Path(targets[variant]).expanduser().absolute(),
                                format="tflite", kind=variant.kind, quantize=variant.quantize,
                                io_dtype=variant.io_dtype, method=method, notes=notes)
            finished.append((artifact.path, tflite_file.write(obj), artifact))
    for path, data, _ in finished:
        write_file_atomic(path, data)
    return [artifact for _, _, artifact in finished]
