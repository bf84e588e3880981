"""What an export is made of, worked out once before anything is converted.

`ModelFacts` (`model_facts`): the facts about one model that every export step needs: its step
model (or why it has none), the layers int8 files keep in float, its time length. The
SavedModel, the TFLite conversions and the verification all take them from here, so the step
model is built once per export.

`TFLitePlan` (`plan_tflite`): for each requested TFLite `Variant`, the converter job that makes
it (which traced function, quantize mode, input/output dtype, calibration data) and the method
(`export.artifact.METHODS`): several variants can share one job (the int8 step file and the
int8 sequence file that loops over it). Representative data is checked here, before the
converter starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from export.artifact import CALIBRATED, LSTM_OPS, Variant
from export.calibration import check_representative
from export.float_layers import float_layers as default_float_layers, nested_layers
from export.fused_lstm import FusedLSTMError, fused_refusal
from export.loop_form import LoopForm, LoopFormError, loop_form
from export.step import StepModelError, StepSpec, recurrent_layers, step_model, step_spec

# Traced functions the converter runs on (`export.tflite` saves them in one SavedModel).
SEQUENCE, STEP, UNROLLED = "sequence", "step", "unrolled"
# The sequence function with every LSTM layer traced as the converter's fusable composite
# function (`export.fused_lstm`).
FUSED = "fused"
# The rest of a model whose recurrent layers loop (`export.loop_form`); each loop's step
# model is traced as its `Loop.signature`.
REST = "rest"


@dataclass
class ModelFacts:
    """What every export step needs to know about one model (see `model_facts`).

    Attributes:
        model: the Keras model.
        label: its name in errors, notes and the report.
        step: its single-step model (`export.step_model`), or None.
        step_error: why it has no step model (None when it has one).
        float_layers: the layers int8 files keep in float.
        length: the model's fixed time length (axis 1 of its inputs), or None when open.
        recurrent: whether the model has a recurrent layer; one without (an encoder, a
            decoder step holding only a cell) converts directly in every mode, int8 included,
            and its inputs need not be sequences.
        layer_data: ``{layer name: facts}`` from the layers that define ``app_metadata()``:
            what an app needs beside the graph (an autoregressive output layer's float
            parameters for the sampler's key loop); stored in every file's metadata.
        loops: for a model without a step form (bidirectional layers), its `LoopForm`: the
            recurrent layers cut out, each run as a loop over its step model; None when it
            has a step form or none (``loops_error`` says why).
    """

    model: keras.Model
    label: str
    step: keras.Model | None
    step_error: str | None
    float_layers: list[str]
    length: int | None
    recurrent: bool = True
    layer_data: dict = field(default_factory=dict)
    loops: LoopForm | None = None
    loops_error: str | None = None

    @property
    def spec(self) -> StepSpec | None:
        """The step model's `StepSpec` (None without a step model)."""
        return step_spec(self.step) if self.step is not None else None

    @property
    def steps(self) -> bool:
        """Whether a sequence file can loop over the step model (every input a sequence of
        one length, which a step model's inputs are)."""
        return self.step is not None


def _model_length(model: keras.Model) -> int | None:
    lengths = {tuple(t.shape)[1] for t in model.inputs if len(t.shape) > 1}
    return lengths.pop() if len(lengths) == 1 else None


def layer_data(model: keras.Model) -> dict[str, dict]:
    """``{layer name: layer.app_metadata()}`` for the layers of ``model`` that define it."""
    return {layer.name: layer.app_metadata()
            for layer in model._flatten_layers(include_self=False, recursive=True)
            if callable(getattr(layer, "app_metadata", None))}


def model_facts(model: keras.Model, *, name: str | None = None,
                float_layers: list[str] | None = None) -> ModelFacts:
    """Work out `ModelFacts` for ``model``.

    ``float_layers``: the layers int8 files keep in float (default:
    `export.float_layers.float_layers`, the audio front end and its normalization; ``[]``
    quantizes everything); a name that is not a layer of the model is refused (`ValueError`).
    """
    label = name or model.name
    keep_float = default_float_layers(model) if float_layers is None else list(float_layers)
    unknown = sorted(set(keep_float) - set(nested_layers(model)))
    if unknown:
        raise ValueError(f"model {label!r}: float_layers names no layer of the model: "
                         f"{', '.join(unknown)}")
    if not any(True for _ in recurrent_layers(model)):
        return ModelFacts(model=model, label=label, step=None,
                          step_error="it has no recurrent layer (nothing to step)",
                          float_layers=keep_float, length=_model_length(model),
                          recurrent=False, layer_data=layer_data(model))
    try:
        step, step_error = step_model(model), None
    except StepModelError as error:
        step, step_error = None, str(error)
    loops, loops_error = None, None
    if step is None:
        try:
            loops = loop_form(model)
        except LoopFormError as error:
            loops_error = str(error)
    return ModelFacts(model=model, label=label, step=step, step_error=step_error,
                      float_layers=keep_float, length=_model_length(model),
                      layer_data=layer_data(model), loops=loops, loops_error=loops_error)


@dataclass(frozen=True)
class Job:
    """One converter run: a traced function (`SEQUENCE`, `STEP`, `UNROLLED`), a quantize mode
    and the dtype of the converted file's input and output tensors."""

    signature: str
    quantize: str
    io_dtype: str

    @property
    def calibration(self) -> str | None:
        """Which representative data a full-integer (int8, int16x8) job is calibrated on: the
        sequences, the (input, state) samples the float step model reaches on them, or for the
        rest and the loops of a `LoopForm` their own inputs on them (named by the
        signature)."""
        if self.quantize not in CALIBRATED:
            return None
        return SEQUENCE if self.signature in (UNROLLED, FUSED) else self.signature


@dataclass
class PlannedFile:
    """One TFLite file: its variant, where it goes, the job that makes it and how
    (``parts``: the jobs of its loops' step models, for the ``loops`` method)."""

    variant: Variant
    path: Path
    job: Job
    method: str
    parts: tuple[Job, ...] = ()


@dataclass
class TFLitePlan:
    """Every TFLite file of one export and the jobs that make them (see `plan_tflite`).

    ``length``: the time length the sequence function is traced with (None: open).
    ``loop_length``: that of sequence files looping over the step model (None: any length).
    ``unrolled_length``: that of unrolled int8 files. ``sequences``: the checked
    representative sequences (full-integer modes only).
    """

    facts: ModelFacts
    files: list[PlannedFile]
    batch_size: int | None
    length: int | None
    loop_length: int | None
    unrolled_length: int | None
    sequences: dict[str, np.ndarray] | None
    allow_flex: bool = False
    per_channel: bool = False
    # int8 jobs keep each LSTM's cell-state update in float (`export.cell_state`)
    float_cell_state: bool = False
    # the LSTM layer calls traced as the fused op (filled in when the FUSED job is traced)
    fused_calls: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> list[Job]:
        """The distinct jobs, in the order of the files."""
        return list(dict.fromkeys(job for f in self.files for job in (f.job, *f.parts)))

    def file_length(self, planned: PlannedFile) -> int | None:
        """The time length of a file's input (None: open, or a step file)."""
        if planned.variant.kind == STEP:
            return None
        return {"step-loop": self.loop_length, "unrolled": self.unrolled_length}.get(
            planned.method, self.length)


def refuse_fused(facts: ModelFacts, variants: Iterable[Variant], batch_size: int | None,
                 method: str | None = None) -> None:
    """Raise `FusedLSTMError` (one line naming the layer) for a model, batch size or float
    layers the fused LSTM route cannot make ``variants`` with; checked before anything is
    traced."""
    label = facts.label
    why = fused_refusal(facts.model) if facts.recurrent else "it has no recurrent layer"
    if why:
        raise FusedLSTMError(f"model {label!r} has no fused-LSTM TFLite file: {why}")
    if batch_size is None:
        raise FusedLSTMError(f"model {label!r}: the fused LSTM op needs a fixed batch size "
                             "(not 'dynamic')")
    if method is not None:
        raise ValueError(f"model {label!r}: method={method!r} and lstm_op='fused' exclude "
                         "each other")
    if any(v.quantize == "int16x8" and v.kind != STEP for v in variants):
        raise FusedLSTMError(f"model {label!r}: TFLite's fused LSTM op has no 16-bit-activation "
                             "(int16x8) kernel; export int8 or a float variant with "
                             "--lstm-op fused, or int16x8 with the default loop")
    if facts.float_layers and any(v.quantize in CALIBRATED for v in variants):
        raise FusedLSTMError(
            f"model {label!r}: a fused-LSTM int8 file cannot keep layers in float "
            f"({', '.join(facts.float_layers)}): fused int8 uses TFLite's older quantizer, "
            "which takes no deny list; quantize them too (--float-layers none) or export "
            "the default loop")


def plan_tflite(facts: ModelFacts, targets: dict[Variant, Path], *,
                representative: Iterable | None = None, batch_size: int | None = 1,
                length: int | None = None, allow_flex: bool = False,
                per_channel: bool = False, method: str | None = None,
                lstm_op: str = "loop", float_cell_state: bool = False) -> TFLitePlan:
    """The jobs that make the files of ``targets`` (variant -> path); arguments as
    `export.to_tflite`. Raises before any conversion: `StepModelError` for a step file of a
    model without a step form, `ValueError` for bad representative data, an unrolled file
    without a length, or a ``method`` the model cannot have.

    Sequence files that loop (int8, or a dynamic batch) run the step model in a loop
    (``step-loop``); a model without a step form runs each recurrent layer in its own loop
    (``loops``, `export.loop_form`: bidirectional layers, the model's own length, float
    input/output tensors), else it is unrolled. ``method="loops"`` makes every sequence file
    that way (float ones included, e.g. to check the loops against Keras).

    ``lstm_op="fused"``: every sequence file is the converter on a trace whose LSTM layers
    become TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op (`export.fused_lstm`; int8
    included, no loop); `export.fused_lstm.FusedLSTMError` for a model, batch size or
    ``float_layers`` it cannot take. Step files are made as usual."""
    label = facts.label
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive or None, got {batch_size}")
    if lstm_op not in LSTM_OPS:
        raise ValueError(f"unknown lstm_op {lstm_op!r}; expected {' or '.join(LSTM_OPS)}")
    fused = lstm_op == "fused" and any(v.kind != STEP for v in targets)
    if fused:
        refuse_fused(facts, targets, batch_size, method)
    if any(v.kind == STEP for v in targets) and facts.step is None:
        raise StepModelError(f"model {label!r}: {facts.step_error}")
    if facts.float_layers and any(v.quantize == "int16x8" for v in targets):
        raise ValueError(f"model {label!r}: int16x8 cannot keep layers in float "
                         f"({', '.join(facts.float_layers)}): TFLite's 16-bit quantizer takes no "
                         "deny list; export int8 for this model, or quantize those layers too "
                         "(--float-layers none, float_layers=[])")
    length = length or facts.length
    sequences = None
    if any(v.quantize in CALIBRATED for v in targets):
        sequences = check_representative(representative, facts.model, length=length)
    unrolled_length = length or (next(iter(sequences.values())).shape[1] if sequences else None)
    if method not in (None, "loops"):
        raise ValueError(f"unknown method {method!r}; expected None or 'loops'")
    form = facts.loops
    if form is not None and length is not None and length != facts.length:
        form = None  # a loop form is made for the model's own shapes
    if method == "loops" and form is None:
        why = facts.loops_error or ("it has a step form" if facts.step is not None else
                                    "the loops are made for the model's own length")
        raise ValueError(f"model {label!r}: no loops: {why}")
    files = []
    for variant, path in targets.items():
        # a sequence file, or a part of a model exported in parts (a recurrent encoder)
        looped = variant.kind != STEP and (variant.quantize in CALIBRATED or batch_size is None
                                           or method == "loops")
        parts: tuple[Job, ...] = ()
        if variant.kind == STEP:
            job, how = Job(STEP, variant.quantize, variant.io_dtype), "converter"
        elif fused:
            job, how = Job(FUSED, variant.quantize, variant.io_dtype), "fused"
        elif not facts.recurrent:  # no loop to unroll or step over
            job, how = Job(SEQUENCE, variant.quantize, variant.io_dtype), "converter"
        elif looped and facts.steps:
            # the loop crosses float tensors at its boundary; int8 io is added around it
            # (the converter's own full-integer WHILE loops crash, int16x8 like int8)
            job, how = Job(STEP, variant.quantize, "float32"), "step-loop"
        elif (looped and form is not None and variant.io_dtype == "float32"
              and variant.quantize != "int16x8"):  # int16x8 loops: not tried yet
            job, how = Job(REST, variant.quantize, "float32"), "loops"
            parts = tuple(Job(loop.signature, variant.quantize, "float32")
                          for loop in form.loops)
        elif looped:
            if unrolled_length is None:
                raise ValueError(f"model {label!r}: without a step form, a {variant.quantize} "
                                 "or dynamic-batch sequence model is unrolled and needs a fixed "
                                 "length (length=...)")
            job, how = Job(UNROLLED, variant.quantize, variant.io_dtype), "unrolled"
        else:
            job, how = Job(SEQUENCE, variant.quantize, "float32"), "converter"
        files.append(PlannedFile(variant, Path(path).expanduser().absolute(), job, how, parts))
    return TFLitePlan(facts=facts, files=files, batch_size=batch_size, length=length,
                      loop_length=length, unrolled_length=unrolled_length, sequences=sequences,
                      allow_flex=allow_flex, per_channel=per_channel,
                      float_cell_state=float_cell_state)
