"""TFLite export: float32, fp16, dynamic-range, full-int8 and int16x8 files, sequence and step
models.

How each file is made (tensorflow 2.21 / keras 3.15):

* The model (or its step model, `export.step`) is traced here into a temporary SavedModel with
  fixed batch (1 by default) and stable names (`export.signatures`); the converter runs on it in
  a child process (`export.convert_worker`, `export.child`), so that a converter crash becomes a
  `ConversionError` naming the model and the variant instead of killing the caller.
* float32, fp16 and dynamic-range: the converter on the traced graph. Keras 3 recurrent layers
  become a TFLite WHILE loop (not the fused LSTM op), unless ``lstm_op="fused"``: then every
  sequence file (int8 included) is the converter on a trace whose LSTM layers are TFLite's
  fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op (`export.fused_lstm`), and the bullets below on
  int8 sequence files do not apply.
* full int8, sequence: the converter crashes on those WHILE loops (all three kinds), so for
  models with a step form the calibrated int8 *step* model is wrapped in a builtin WHILE loop
  (`export.step_loop`): the file holds the int8 weights once, like the step model, and takes
  any sequence length when the model's time axis is open. Models
  without a step form (bidirectional layers, time-mixing front ends) have each recurrent layer
  cut out (`export.loop_form`): the rest of the model is converted directly (no loop left in
  it), each layer's step model (both directions of a bidirectional one) is converted as a
  step model is, and `export.loop_graph` runs each in its own WHILE loop between the rest's
  ops (the backward cell over reversed time): weights stored once, nothing grows with the
  length (the model's own length, float input/output tensors). What has no loop form either
  (initial states, recurrent layers inside other layers, int8 input/output tensors) is
  converted from an *unrolled* graph (weights shared, but every time step adds its own
  tensors and ops, so that file grows with the sequence length; the report says so and why).
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
* int16x8 (16-bit activations, 8-bit weights, 64-bit biases: the converter's
  ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``) takes the routes of full int8
  (the converter crashes on its WHILE loops too, SIGSEGV measured), calibrated on the same data;
  its files keep float input and output tensors, and its weights are quantized per output
  channel: per tensor, the adding-lstm preset's int16x8 MSE was 0.0074 (48x float32, int8
  0.030) at 0.33 of float32 bytes, per channel 0.00018 (1.2x) at 0.46; one input kernel
  ([256, 2], the gates' weights on the two input features, sharing one scale) made nearly all
  of that difference. TFLite's 16-bit quantizer takes no deny list
  (the MLIR quantizer's int16 mode writes FULLY_CONNECTED outputs with a non-zero zero point,
  which the interpreter refuses), so models with ``float_layers`` are refused in int16x8, and
  an op without a 16-bit kernel (e.g. NEG in layer normalization) is one line naming it.

Builtin ops only unless ``allow_flex``; a model that needs another op fails with one line
naming the op and the layer. Batch size: 1 by default (phones); ``batch_size=None`` exports a
dynamic batch axis (resize the input with ``interpreter.resize_tensor_input`` before
``allocate_tensors``). The converter cannot lower Keras' sequence loop (a TensorList whose
element shape holds the batch) without Flex ops when the batch is dynamic, so dynamic-batch
sequence files loop over the step model (or over each layer's) like int8 ones. Every file
gets the ``rnnzoo`` metadata entry (`export.tflite_file`) with its input spec, states and
the caller's ``metadata``; intermediate tensor names, subgraph names and the description are
dropped unless ``keep_tensor_names``. The WHILE loops rnnzoo writes are tidied
(`export.loop_passes`: integer states carried as integers, last-step heads run once after the
loop), and tensors without data share one empty buffer.

The work is split in three: `export.plan.plan_tflite` (which job makes which file, checked
before anything runs), `convert` (trace, then one converter child for every job) and
`finish` (loop, names, signature key and metadata of each file); `convert_variants` runs the
three and writes the files.
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
from export.artifact import CALIBRATED, Artifact, Variant
from export.calibration import step_calibration
from export.cell_state import TENSORS_PER_CELL
from export.child import ConversionError, run_jobs
from export.files import write_file_atomic
from export.float_layers import nested_layers, training_only
from export.fused_lstm import FUSED_OP, check_fused, fused_lstms
from export.loop_graph import splice_loops
from export.loop_passes import tidy_loops
from export.plain_lookups import plain_embedding_lookups
from export.plan import (
    FUSED,
    REST,
    SEQUENCE,
    STEP,
    UNROLLED,
    Job,
    ModelFacts,
    PlannedFile,
    TFLitePlan,
    model_facts,
    plan_tflite,
)
from export.signatures import SEQUENCE_SIGNATURE, STEP_SIGNATURE, sequence_function, step_function
from export.step import input_names, output_names, unrolled
from export.step_loop import loop_over_steps
from export.tied_tables import share_tied_tables
from zoo.array_codec import compact

WORKER = "export.convert_worker"


def to_tflite(model: keras.Model, path: str | os.PathLike, *, quantize: str = "fp32",
              kind: str = "sequence", representative: Iterable | None = None,
              io_dtype: str = "float32", allow_flex: bool = False, batch_size: int | None = 1,
              length: int | None = None, metadata: dict | None = None,
              keep_tensor_names: bool = False, name: str | None = None,
              per_channel: bool = False, float_layers: list[str] | None = None,
              method: str | None = None, lstm_op: str = "loop",
              float_cell_state: bool = False) -> Artifact:
    """Convert ``model`` to one TFLite file at ``path`` and return its `Artifact`.

    Args:
        model: a functional Keras model (zoo models are).
        path: the ``.tflite`` file to write (replaced atomically).
        quantize: ``fp32`` (or ``none``), ``fp16``, ``dynamic`` (int8 weights, float
            activations), ``int8`` (full integer; needs ``representative``) or ``int16x8``
            (16-bit activations, int8 weights; needs ``representative``).
        kind: ``sequence`` (the whole sequence) or ``step`` (one time step with explicit
            state inputs and outputs, `export.step_model`; unidirectional models only).
        representative: int8 / int16x8 calibration samples of the model's inputs, each with
            a batch axis (e.g. ``task.representative(path, 200)``).
        io_dtype: ``int8`` gives int8 input and output tensors (int8 only).
        allow_flex: let TensorFlow (Flex) ops in; otherwise builtin ops only.
        batch_size: the file's batch size (1 for phones), or None for a dynamic batch axis.
        length: fixes an open time axis (default: the model's; an int8 sequence file of a model
            with an open time axis then takes any length).
        metadata: JSON-able facts stored inside the file (task, data options, ...).
        keep_tensor_names: keep the converter's intermediate tensor names, subgraph names and
            the model description (debugging).
        name: the model's name in errors (default: ``model.name``).
        per_channel: quantize int8 weights per output channel instead of per tensor
            (int16x8 weights always are).
        float_layers: layers int8 files keep in float (default: the audio front end and its
            normalization, `export.float_layers`; ``[]`` quantizes everything).
        method: ``"loops"`` makes a sequence file of a model without a step form
            (bidirectional layers) with each recurrent layer in its own WHILE loop even in
            float (`export.loop_form`); None: the default choice (see `export.plan`).
        lstm_op: ``"loop"`` (Keras 3's LSTM as a TFLite WHILE loop, or the int8 step loop)
            or ``"fused"``: each LSTM layer becomes TFLite's builtin
            ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op (`export.fused_lstm`; sequence files only,
            LSTM layers only, a fixed batch size). The fused op keeps its state in TFLite
            variables: call ``interpreter.reset_all_variables()`` before each sequence.
        float_cell_state: int8 files keep each LSTM's cell-state update (``f * c + i * g``
            and its tanh) in float, the matmuls int8 (`export.cell_state`): the long-range
            memory is not rounded to 8 bits at every step; the file is no longer
            integer-only. Not for fused-LSTM files, whose op keeps a 16-bit cell state.

    Returns:
        The file's `Artifact` (path, kind, quantize, method, notes, metadata).

    Raises:
        ConversionError: the converter failed or crashed (the message names the model, the
            variant, and the op and layer it stopped at).
        StepModelError: ``kind="step"`` for a model without a step form.
        ValueError: bad arguments or representative data (before anything is converted).

    Example::

        model = zoo.build("adding-lstm", length=100, units=64)
        export.to_tflite(model, "adding.int8.tflite", quantize="int8",
                         representative=tasks.get_task("adding").representative(None, 100))
    """
    variant = Variant(kind=kind, quantize=quantize, io_dtype=io_dtype)
    return convert_variants(model, {variant: Path(path)}, representative=representative,
                            allow_flex=allow_flex, batch_size=batch_size, length=length,
                            metadata=metadata, keep_tensor_names=keep_tensor_names, name=name,
                            per_channel=per_channel, float_layers=float_layers,
                            method=method, lstm_op=lstm_op,
                            float_cell_state=float_cell_state)[0]


def convert_variants(model: keras.Model, targets: dict[Variant, Path], *,
                     representative: Iterable | None = None, allow_flex: bool = False,
                     batch_size: int | None = 1, length: int | None = None,
                     metadata: dict | None = None, keep_tensor_names: bool = False,
                     name: str | None = None, timeout: float | None = None,
                     per_channel: bool = False, float_layers: list[str] | None = None,
                     facts: ModelFacts | None = None, method: str | None = None,
                     lstm_op: str = "loop", float_cell_state: bool = False) -> list[Artifact]:
    """Make every ``Variant`` of ``targets`` (variant -> output path) in one converter child
    process; return their artifacts in the same order. Arguments as `to_tflite`; ``facts``:
    the model's `ModelFacts` when the caller has them already (else worked out here, with
    ``name`` and ``float_layers``).

    Nothing is written unless every conversion succeeds (files are renamed into place at the
    end). Representative data is checked before the converter starts.
    """
    facts = facts or model_facts(model, name=name, float_layers=float_layers)
    plan = plan_tflite(facts, targets, representative=representative, batch_size=batch_size,
                       length=length, allow_flex=allow_flex, per_channel=per_channel,
                       method=method, lstm_op=lstm_op, float_cell_state=float_cell_state)
    with tempfile.TemporaryDirectory(prefix="rnnzoo-tflite-") as work:
        outputs = convert(plan, Path(work), timeout=timeout)
    finished = [finish(plan, planned, *outputs[planned.job][:2],
                       sum(outputs[job][2] for job in (planned.job, *planned.parts)),
                       metadata=metadata, keep_tensor_names=keep_tensor_names,
                       parts=[outputs[job][0] for job in planned.parts])
                for planned in plan.files]
    for artifact, data in finished:
        write_file_atomic(artifact.path, data)
    return [artifact for artifact, _ in finished]


def _calibration_key(job) -> str | None:
    """The calibration data a job is fed: its source, the step samples apart for int16x8
    (whose state ranges are not clipped, see `step_calibration`)."""
    if job.calibration == STEP and job.quantize == "int16x8":
        return f"{STEP}-int16x8"
    return job.calibration


def convert(plan: TFLitePlan, work: Path, *,
            timeout: float | None = None) -> dict[Job, tuple[bytes, int, int]]:
    """Run every job of ``plan`` in one converter child (`export.convert_worker`) and return,
    per job, the converted bytes and the numbers of tensors left in float for ``float_layers``
    and for the LSTM cell states (``plan.float_cell_state``).

    The functions the jobs need are traced into one SavedModel in ``work``, with the
    representative data (sequences, or the step model's calibration samples) beside it.
    """
    facts = plan.facts
    calibration: dict[str, Path] = {}
    loop_data: dict[str, dict] = {}
    for job in plan.jobs:
        source = _calibration_key(job)
        if source is not None and source not in calibration:
            if job.calibration == STEP:  # int8 clips the states the model declares a range of
                arrays = step_calibration(facts.step, plan.sequences,
                                          clip_states=job.quantize == "int8")
            elif source == SEQUENCE:
                arrays = plan.sequences
            else:  # the rest or a loop of the model's loop form
                loop_data = loop_data or facts.loops.calibration(plan.sequences)
                arrays = loop_data[source]
            calibration[source] = work / f"representative-{source}.npz"
            np.savez(calibration[source], **arrays)
    specs = []
    for index, job in enumerate(plan.jobs):
        spec = {"signature": job.signature, "quantize": job.quantize, "io_dtype": job.io_dtype,
                "allow_flex": plan.allow_flex,
                "per_channel": plan.per_channel or job.quantize == "int16x8",
                "output": str(work / f"job{index}.tflite")}
        if job.calibration is not None:
            spec["representative"] = str(calibration[_calibration_key(job)])
            spec["float_layers"] = facts.float_layers
            # fused LSTM: the older quantizer; the MLIR one made an untrained LSTM's int8
            # output constant (same MSE on adding-lstm; docs/design-notes.md)
            spec["legacy_quantizer"] = job.signature == FUSED
            spec["float_cell_state"] = (plan.float_cell_state and job.quantize == "int8"
                                        and job.signature != FUSED)
        specs.append(spec)
    _trace(plan, work / "traced")
    labels = [f"model {facts.label!r} "
              f"[{' / '.join(f.variant.label for f in plan.files if f.job == job)}]"
              for job in plan.jobs]
    results = run_jobs(WORKER, {"savedmodel": str(work / "traced")}, specs, work / "child",
                       labels=labels, timeout=timeout)
    outputs = {}
    for job, spec, result, label in zip(plan.jobs, specs, results, labels):
        if not result.get("ok"):
            raise _failure(result, label, facts.model, plan.allow_flex)
        outputs[job] = (Path(spec["output"]).read_bytes(), result.get("float_tensors", 0),
                        result.get("cell_state_tensors", 0))
    return outputs


def finish(plan: TFLitePlan, planned: PlannedFile, data: bytes, float_tensors: int,
           cell_state_tensors: int = 0, *,
           metadata: dict | None = None, keep_tensor_names: bool = False,
           parts: list[bytes] = ()) -> tuple[Artifact, bytes]:
    """The file ``planned`` from its job's converted bytes: looped over the steps for the
    ``step-loop`` method, its loops' step models (``parts``) spliced in for the ``loops``
    method, tensor names dropped, its signature key set and its metadata (the
    caller's ``metadata``, the model's ``layer_data`` from `export.plan.layer_data`, and its
    ``file`` entry) stored inside. Returns its `Artifact` and bytes."""
    facts, variant = plan.facts, planned.variant
    spec = facts.spec
    notes = []
    if planned.method == "step-loop":
        data = loop_over_steps(data, length=plan.loop_length, input_name=spec.inputs,
                               state_names=list(spec.states),
                               sequence_outputs=spec.sequence_outputs,
                               int8_io=variant.io_dtype == "int8")
        why = (f"the converter's own {variant.quantize} WHILE loops crash"
               if variant.quantize in CALIBRATED
               else "the converter cannot lower Keras' loop with a dynamic batch")
        notes.append(f"{variant.quantize} step model run by a TFLite WHILE loop ({why})")
    elif planned.method == "loops":
        data = splice_loops(data, list(parts), facts.loops.loops)
        names = ", ".join(loop.name for loop in facts.loops.loops)
        notes.append(f"no step form ({facts.step_error}); each recurrent layer ({names}) runs "
                     f"as a TFLite WHILE loop over its {variant.quantize} step model (a "
                     "bidirectional layer's backward cell over reversed time), the rest of "
                     f"the model around them; loops of {facts.loops.steps} steps")
    elif planned.method == "fused":
        check_fused(tflite_file.op_summary(data), plan.fused_calls,
                    f"model {facts.label!r} [{variant.label}]")
        notes.append(f"each LSTM layer is TFLite's {FUSED_OP} op (no WHILE loop); it keeps its "
                     "state in TFLite variables across invoke() calls: call "
                     "interpreter.reset_all_variables() before each sequence")
    elif planned.method == "unrolled":
        why = f"; no loops: {facts.loops_error}" if facts.loops_error else ""
        notes.append(f"no step form ({facts.step_error}); {variant.quantize} from an unrolled "
                     "graph, which holds the ops of every time step (its size grows with the "
                     f"sequence length; fixed at {plan.unrolled_length} steps){why}")
    if variant.quantize in CALIBRATED and float_tensors:
        layers = nested_layers(facts.model)
        shown = [n for n in facts.float_layers if not training_only(layers[n])]
        notes.append(f"kept in float: {', '.join(shown)} (front ends, normalization and "
                     "output scaling that do not fit 8 bits)")
    if cell_state_tensors:
        cells = cell_state_tensors // TENSORS_PER_CELL
        notes.append(f"LSTM cell state kept in float ({cells} cell "
                     "update(s): f * c + i * g and its tanh); the matmuls are int8, the file "
                     "is not integer-only")
    obj = tflite_file.read(data)
    if planned.method in ("step-loop", "loops"):
        changes = tidy_loops(obj, integer=variant.quantize in CALIBRATED)
        if changes:
            notes.append(changes.describe(variant.quantize))
    if not keep_tensor_names:
        tflite_file.strip_debug_strings(obj)
    saved = share_tied_tables(obj)
    if saved:
        notes.append(f"a tied embedding table is stored once in int8 (GATHER and "
                     f"FULLY_CONNECTED share it; {saved:,} bytes fewer)")
    tflite_file.drop_empty_buffers(obj)
    tflite_file.set_signature_key(
        obj, STEP_SIGNATURE if variant.kind == STEP else SEQUENCE_SIGNATURE)
    info = {"kind": variant.kind, "quantize": variant.quantize, "io_dtype": variant.io_dtype,
            "method": planned.method, "batch_size": plan.batch_size,
            "length": plan.file_length(planned), "model_inputs": input_names(facts.model),
            "model_outputs": output_names(facts.model), **_io_spec(obj)}
    if planned.method == "fused":
        info["variable_state"] = True  # reset_all_variables() before each sequence
    if cell_state_tensors:
        info["float_cell_state"] = True  # not integer-only: the LSTM cell states are float
    if variant.kind == STEP:
        info["states"] = dict(spec.states)
        info["sequence_outputs"] = list(spec.sequence_outputs)
    # the layers' arrays (a key model's parameters) at the file's precision (zoo.array_codec)
    layers = ({"layer_data": compact(facts.layer_data, variant.quantize)}
              if facts.layer_data else {})
    # the calibration record describes the calibrated files only (a float file was not)
    shared = {key: value for key, value in (metadata or {}).items()
              if key != "calibration" or variant.quantize in CALIBRATED}
    tflite_file.add_metadata(obj, {**shared, **layers, "file": info})
    artifact = Artifact(path=planned.path, format="tflite", kind=variant.kind,
                        quantize=variant.quantize, io_dtype=variant.io_dtype,
                        method=planned.method, notes=notes, metadata=info)
    return artifact, tflite_file.write(obj)


def _trace(plan: TFLitePlan, folder: Path) -> None:
    """Save the functions the jobs of ``plan`` need into one SavedModel at ``folder``."""
    with plain_embedding_lookups(*_traced_models(plan)):
        _trace_functions(plan, folder)


def _traced_models(plan: TFLitePlan) -> list[keras.Model]:
    models = [plan.facts.model]
    if plan.facts.step is not None:
        models.append(plan.facts.step)
    if plan.facts.loops is not None:
        models += [plan.facts.loops.rest, *(loop.step for loop in plan.facts.loops.loops)]
    return models


def _trace_functions(plan: TFLitePlan, folder: Path) -> None:
    model, signatures = plan.facts.model, {job.signature for job in plan.jobs}
    module = tf.Module()
    module.model = model
    functions = {}
    if SEQUENCE in signatures:
        functions[SEQUENCE] = sequence_function(
            model, batch_size=plan.batch_size, length=plan.length).get_concrete_function()
    if STEP in signatures:
        module.step_model = plan.facts.step
        functions[STEP] = step_function(
            plan.facts.step, batch_size=plan.batch_size).get_concrete_function()
    if REST in signatures:
        form = plan.facts.loops
        module.rest = form.rest
        functions[REST] = sequence_function(
            form.rest, batch_size=plan.batch_size).get_concrete_function()
        for index, loop in enumerate(form.loops):
            setattr(module, f"loop_{index}", loop.step)
            functions[loop.signature] = loop.step_function(
                batch_size=plan.batch_size).get_concrete_function()
    if FUSED in signatures:
        with fused_lstms(model) as calls:
            functions[FUSED] = sequence_function(
                model, batch_size=plan.batch_size, length=plan.length).get_concrete_function()
        plan.fused_calls = list(calls)
    if UNROLLED in signatures:
        with unrolled(model):
            functions[UNROLLED] = sequence_function(
                model, batch_size=plan.batch_size,
                length=plan.unrolled_length).get_concrete_function()
    tf.saved_model.save(module, str(folder), signatures=functions)


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
    message = result.get("message") or ""
    no_int16 = re.search(r"16x8-bit not yet supported for op: '(\w+)'", message)
    if no_int16:
        return ConversionError(f"{label}: op {no_int16.group(1)} has no 16-bit-activation "
                               "kernel in TFLite, so this model has no int16x8 file; export "
                               "int8 or a float variant instead")
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
                "dtype": tflite_file.type_name(t.type).lower()}
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            spec["quantization"] = {"scale": [float(s) for s in q.scale],
                                    "zero_point": [int(z) for z in q.zeroPoint]}
        return spec

    return {"signature": tflite_file.as_text(sig.signatureKey),
            "inputs": [entry(m) for m in sig.inputs], "outputs": [entry(m) for m in sig.outputs]}
