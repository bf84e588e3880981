"""Process-level helpers for the command line: quiet TensorFlow start-up, output, errors."""

from __future__ import annotations

import json
import os
from typing import Any

_tf_ready = False


def start_tensorflow() -> None:
    """Import TensorFlow and Keras with their start-up chatter hidden.

    TensorFlow 2.21 prints CUDA and oneDNN notices on stderr before its logging is set up,
    which no environment variable silences; they are captured here and shown only if the
    import fails.
    """
    global _tf_ready
    if _tf_ready:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.quiet import quiet_stderr  # passes everything through when RNNZOO_DEBUG=1

    with quiet_stderr():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
    _tf_ready = True


def print_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (numpy scalars and paths become plain values)."""
    print(json.dumps(payload, indent=2, default=_plain, sort_keys=False))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def format_value(value: Any) -> str:
    """Format a metric value for a table: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def dash_formatter(default_spec: str):
    """A table-cell formatter: ``f(value, spec=default_spec)`` gives ``format(value, spec)``,
    or "-" for a missing (None) value."""

    def formatted(value, spec: str = default_spec) -> str:
        return "-" if value is None else format(value, spec)

    return formatted
