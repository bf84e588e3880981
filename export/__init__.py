"""Export: SavedModel and TFLite (fp32, fp16, dynamic-range, int8, int16x8), streaming step
models, verification and reports. Takes data and metrics as arguments; never imports `tasks`.

Public names (imported on first use, so ``import export`` does not start TensorFlow):
`to_savedmodel`, `to_tflite`, `step_model`, `verify`, `export_model`, `format_table`,
`write_report`, `TFLiteRunner`, `Artifact`, `Variant`, `ConversionError`, `StepModelError`.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "to_savedmodel": "export.savedmodel",
    "to_tflite": "export.tflite",
    "convert_variants": "export.tflite",
    "step_model": "export.step",
    "step_spec": "export.step",
    "StepModelError": "export.step",
    "verify": "export.verification",
    "export_model": "export.bundle",
    "format_table": "export.report",
    "write_report": "export.report",
    "TFLiteRunner": "export.runner",
    "Artifact": "export.artifact",
    "Variant": "export.artifact",
    "ConversionError": "export.child",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'export' has no attribute {name!r}")
