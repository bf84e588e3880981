"""The records that describe what an export wrote: `Variant` (what to convert) and `Artifact`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

QUANTIZE_MODES = ("none", "fp16", "dynamic", "int8")
KINDS = ("sequence", "step")
IO_DTYPES = ("float32", "int8")
# File name label of each quantize mode ("none" is float32).
FILE_LABELS = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


@dataclass(frozen=True)
class Variant:
    """One TFLite file to make: ``kind`` (sequence or step), ``quantize`` mode, and for int8
    the dtype of its input and output tensors (``io_dtype``)."""

    kind: str = "sequence"
    quantize: str = "none"
    io_dtype: str = "float32"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"unknown quantize mode {self.quantize!r}; expected one of "
                             f"{', '.join(QUANTIZE_MODES)}")
        if self.io_dtype not in IO_DTYPES:
            raise ValueError(f"unknown io dtype {self.io_dtype!r}; expected one of {', '.join(IO_DTYPES)}")
        if self.io_dtype == "int8" and self.quantize != "int8":
            raise ValueError("int8 input/output tensors need quantize='int8'")

    @property
    def label(self) -> str:
        io = ", int8 io" if self.io_dtype == "int8" else ""
        return f"{self.kind} {self.quantize}{io}"

    @property
    def filename(self) -> str:
        io = ".int8io" if self.io_dtype == "int8" else ""
        return f"{self.kind}.{FILE_LABELS[self.quantize]}{io}.tflite"


@dataclass
class Artifact:
    """One exported file or folder.

    ``format`` is ``tflite`` or ``savedmodel``; ``kind`` sequence or step (a SavedModel holds
    both signatures; its artifact has kind ``sequence``, and `export.verify` reports the step
    signature as a second entry); ``method`` says how the file was made: ``converter`` (the
    TFLite converter on the traced model), ``step-loop`` (int8 sequence assembled from the int8
    step model, see `export.step_loop`) or ``unrolled`` (int8 sequence converted from an
    unrolled graph, for models without a step form).
    """

    path: Path
    format: str
    kind: str = "sequence"
    quantize: str = "none"
    io_dtype: str = "float32"
    method: str = "converter"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": str(self.path), "format": self.format, "kind": self.kind,
                "quantize": self.quantize, "io_dtype": self.io_dtype, "method": self.method,
                "notes": list(self.notes)}
