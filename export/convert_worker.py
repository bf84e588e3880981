"""Child process that runs the TFLite converter: ``python -m export.convert_worker JOB.json``.

The converter can crash the whole process (segmentation faults in full-int8 quantization of
WHILE loops, see `export.step_loop`), so it never runs in the caller's process: `export.child`
starts this module, and a crash becomes an error naming the model and the variant. The job
file names a SavedModel (traced by the parent, see `export.tflite`) and a list of conversions;
for each, this writes the ``.tflite`` file and a ``<output>.json`` result, then goes on to the
next, so the parent knows which conversion was running if the process dies. Imports only
TensorFlow, numpy and `export.tflite_file` (no Keras model code runs here).
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from pathlib import Path


def _representative(path: str, batch: int):
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    count = min(len(a) for a in arrays.values())

    def generate():
        for start in range(0, count - batch + 1, batch):
            yield {name: a[start:start + batch] for name, a in arrays.items()}

    return generate


def _converter(loaded, job: dict):
    import tensorflow as tf

    function = loaded.signatures[job["signature"]]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], loaded)
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    quantize = job["quantize"]
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize in ("int8", "int16x8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        batch = next(iter(function.structured_input_signature[1].values())).shape[0] or 1
        converter.representative_dataset = _representative(job["representative"], batch)
        builtins = (tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else
                    tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
        if not job.get("per_channel", True):
            converter._experimental_disable_per_channel = True
        if job.get("legacy_quantizer"):
            converter.experimental_new_quantizer = False
        if job.get("io_dtype") == "int8" and quantize == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    elif quantize != "fp32":
        raise ValueError(f"unknown quantize mode {quantize!r}")
    ops = [builtins]
    if job.get("allow_flex"):
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    return converter


def layer_tensors(names: list[str], layers: list[str]) -> list[str]:
    """The tensor names (op outputs) that belong to one of ``layers``.

    The converter names a tensor after its op's location, ``model_1/layer_1/op`` (Keras adds
    ``_<n>`` to names in a trace); fused ops join several locations with ``;`` and are matched
    on the first, the op that produced the tensor.
    """
    if not layers:
        return []
    alternatives = "|".join(re.escape(layer) for layer in sorted(layers, key=len, reverse=True))
    pattern = re.compile(rf"(^|/)({alternatives})(_\d+)?/")
    return sorted({n for n in names if pattern.search(n.split(";", 1)[0])})


def _quantize_keeping_float(converter, job: dict) -> tuple[bytes, list[str], list[str]]:
    """Full int8 with the ops of ``job["float_layers"]`` left in float (see export.float_layers),
    and with ``job["float_cell_state"]`` each LSTM's cell-state update too
    (`export.cell_state`).

    The converter only calibrates; the quantizer then runs with those ops on its deny list,
    with the same per-channel and input/output settings as the converter's own int8 path.
    Returns the file and the tensors denied for the layers and for the cell state.
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as lite_convert

    from export import tflite_file
    from export.cell_state import cell_state_tensors

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    denied = layer_tensors(tflite_file.tensor_names(calibrated), job.get("float_layers") or [])
    cells = cell_state_tensors(calibrated) if job.get("float_cell_state") else []
    io = tf.int8 if job.get("io_dtype") == "int8" else tf.float32
    model = lite_convert.mlir_quantize(
        calibrated, disable_per_channel=not job.get("per_channel", True),
        input_data_type=io, output_data_type=io,
        denylisted_nodes=sorted(set(denied) | set(cells)))
    return model, denied, cells


def _unsupported_ops(error: Exception) -> list[dict]:
    """The ops a ConverterError names, with the innermost location of each."""
    found = []
    for data in getattr(error, "errors", None) or []:
        name = data.operator.name if data.HasField("operator") else ""
        locations = []
        if data.HasField("location"):
            locations = [c.name for c in data.location.call if c.name]
        if name:
            message = data.error_message.strip().splitlines()
            found.append({"op": name.removeprefix("tf."),
                          "location": locations[0] if locations else "",
                          "code": data.ErrorCode.Name(data.error_code),
                          "message": message[0] if message else ""})
    return found


def convert(loaded, job: dict) -> dict:
    """Run one conversion; write the file; return the result record."""
    try:
        converter = _converter(loaded, job)
        denied: list[str] = []
        cells: list[str] = []
        if job["quantize"] == "int8" and (job.get("float_layers")
                                          or job.get("float_cell_state")):
            model, denied, cells = _quantize_keeping_float(converter, job)
        else:
            model = converter.convert()
    except Exception as error:  # noqa: BLE001 - every converter failure becomes a result
        ops = _unsupported_ops(error)
        message = str(error).strip().splitlines()
        return {"ok": False, "type": type(error).__name__, "ops": ops,
                "message": message[0] if message else type(error).__name__,
                "detail": traceback.format_exc(limit=3)[-4000:]}
    Path(job["output"]).write_bytes(model)
    return {"ok": True, "bytes": len(model), "float_tensors": len(denied),
            "cell_state_tensors": len(cells)}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    import tensorflow as tf

    loaded = tf.saved_model.load(spec["savedmodel"])
    for job in spec["jobs"]:
        result = convert(loaded, job)
        Path(job["output"] + ".json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
