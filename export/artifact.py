"""The vocabulary of an export, defined once, and the records of what it makes.

`FORMATS`, `QUANTIZE` and `ARTIFACT_KINDS` are the words of ``rnnzoo export --format``,
``--quantize`` and ``--kinds``, of `export.export_model`'s arguments and of the report
(`DEFAULT_QUANTIZE`: the modes made when none are named; `CALIBRATED`: the full-integer
modes, which need representative data and loop over the step model). A
TFLite file is named after its kind and quantize mode, ``<kind>.<quantize>[.int8io].tflite``
(``sequence.fp32.tflite``, ``step.int8.tflite``), so the word in the file name and in the report
is the same. ``none`` (DESIGN.md's word for "no quantization") is accepted as ``fp32``.

`Variant` says what to convert; `Artifact` records what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("savedmodel", "tflite")
QUANTIZE = ("fp32", "fp16", "dynamic", "int8", "int16x8")
# int16x8 (16-bit activations, 8-bit weights) is made only when asked for
DEFAULT_QUANTIZE = ("fp32", "fp16", "dynamic", "int8")
# full-integer modes: calibrated on representative data, sequence files loop over the step
CALIBRATED = ("int8", "int16x8")
QUANTIZE_ALIASES = {"none": "fp32"}
ARTIFACT_KINDS = ("sequence", "step")
# The files of a model exported in two parts (`export.parts`): each converted whole.
PART_KINDS = ("encoder", "decoder")
IO_DTYPES = ("float32", "int8")
# How a TFLite file was made: the converter on the traced model, the int8 (or dynamic-batch)
# step model run by a TFLite WHILE loop (`export.step_loop`), each recurrent layer of a
# model without a step form run by its own WHILE loop (`export.loop_form`), or an unrolled
# graph, or the converter on a trace whose LSTM layers become TFLite's fused
# UNIDIRECTIONAL_SEQUENCE_LSTM op (`export.fused_lstm`, ``lstm_op="fused"``).
METHODS = ("converter", "step-loop", "loops", "unrolled", "fused")


# How LSTM layers appear in TFLite sequence files: Keras 3's WHILE loop (or the int8 step
# loop), or TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM op (`export.fused_lstm`).
LSTM_OPS = ("loop", "fused")


def quantize_mode(name: str) -> str:
    """The `QUANTIZE` word for ``name`` (aliases resolved); `ValueError` for an unknown one."""
    mode = QUANTIZE_ALIASES.get(name, name)
    if mode not in QUANTIZE:
        raise ValueError(f"unknown quantize mode {name!r}; expected one of "
                         f"{', '.join(QUANTIZE)} ('none' = fp32)")
    return mode


@dataclass(frozen=True)
class Variant:
    """One TFLite file to make: ``kind`` (sequence or step, or a part: encoder or decoder),
    ``quantize`` mode, and for int8
    the dtype of its input and output tensors (``io_dtype``; int16x8 files keep float
    input and output tensors)."""

    kind: str = "sequence"
    quantize: str = "fp32"
    io_dtype: str = "float32"

    def __post_init__(self):
        if self.kind not in ARTIFACT_KINDS + PART_KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of "
                             f"{', '.join(ARTIFACT_KINDS + PART_KINDS)}")
        object.__setattr__(self, "quantize", quantize_mode(self.quantize))
        if self.io_dtype not in IO_DTYPES:
            raise ValueError(f"unknown io dtype {self.io_dtype!r}; expected one of "
                             f"{', '.join(IO_DTYPES)}")
        if self.io_dtype == "int8" and self.quantize != "int8":
            raise ValueError("int8 input/output tensors need quantize='int8'")

    @property
    def label(self) -> str:
        io = ", int8 io" if self.io_dtype == "int8" else ""
        return f"{self.kind} {self.quantize}{io}"

    @property
    def filename(self) -> str:
        io = ".int8io" if self.io_dtype == "int8" else ""
        return f"{self.kind}.{self.quantize}{io}.tflite"


@dataclass
class Artifact:
    """One exported file or folder.

    ``format`` is ``tflite`` or ``savedmodel``; ``kind`` sequence or step (a SavedModel holds
    both signatures; its artifact has kind ``sequence``, and `export.verify` reports the step
    signature as a second entry); ``method`` says how the file was made (`METHODS`).
    ``metadata``: what an app needs to run the file (input spec, states, length, batch size;
    for TFLite the ``file`` entry of the metadata stored inside it).
    """

    path: Path
    format: str
    kind: str = "sequence"
    quantize: str = "fp32"
    io_dtype: str = "float32"
    method: str = "converter"
    notes: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"path": str(self.path), "format": self.format, "kind": self.kind,
                "quantize": self.quantize, "io_dtype": self.io_dtype, "method": self.method,
                "notes": list(self.notes)}
