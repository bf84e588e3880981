"""Child process timing TensorFlow calls on one thread: ``python -m export.latency_worker JOB``.

The TFLite figures are single-threaded, so the SavedModel and Keras figures they are compared
with must be too; TensorFlow's thread pools can only be sized before its runtime starts, which
in the caller has long happened, hence a fresh process. Jobs: ``savedmodel`` (a signature called
with one example) and ``keras`` (a ``.keras`` file: ``model(x)`` and ``predict_on_batch``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _inputs(path: str) -> dict:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _savedmodel(job: dict) -> dict:
    import tensorflow as tf

    from export.runner import median_ms

    function = tf.saved_model.load(job["path"]).signatures[job["signature"]]
    specs = function.structured_input_signature[1]  # e.g. uint8 video frames -> float32
    feed = {n: tf.constant(v, dtype=specs[n].dtype) for n, v in _inputs(job["inputs"]).items()}
    return {"ok": True, "latency_ms": median_ms(lambda: function(**feed))}


def _keras(job: dict) -> dict:
    import importlib

    import keras

    from export.runner import median_ms
    from export.signatures import input_packer

    for module in job.get("modules", ["zoo.layers"]):  # they register the model's layers
        importlib.import_module(module)

    model = keras.saving.load_model(job["path"], safe_mode=True, compile=False)
    arrays = _inputs(job["inputs"])
    # the values in the order of model.inputs, packed as the model takes them (one, a list,
    # or the dict of a model built with a dict of inputs)
    x = input_packer(model)([arrays[n] for n in job["order"]])
    call = median_ms(lambda: model(x, training=False))
    predict = median_ms(lambda: model.predict_on_batch(x), min_repeats=10)
    return {"ok": True, "latency_ms": call, "predict_latency_ms": predict}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec.get("threads", 1))
    tf.config.threading.set_inter_op_parallelism_threads(spec.get("threads", 1))
    for job in spec["jobs"]:
        try:
            result = _savedmodel(job) if job["type"] == "savedmodel" else _keras(job)
        except Exception as error:  # noqa: BLE001 - reported to the parent as a note
            result = {"ok": False, "message": f"{type(error).__name__}: {error}"}
        Path(job["output"] + ".json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
