"""``rnnzoo bench text-textgen``: the character model on tinyshakespeare, Keras against its
float32 and int8 TFLite step files.

1. Validation nats (and bits) per character of the ``textgen-shakespeare`` preset (the last
   10 % of tinyshakespeare, windows of the card's length from zero states) in Keras and in
   the float32 and int8 TFLite step files (one character and the states in, logits and the
   states out; `rnnzoo export`'s files), with their sizes. Target: <= 1.50 nats/char (Keras).
   Where the preset is not shipped, a small model trained here for one epoch stands in
   (labelled as such: its figures are not the preset's).
2. Generation speed: characters per second of sampling after the prompt ``ROMEO:`` on one
   thread, for Keras (`tasks.textgen.sampling.KerasStepper`, in a child process with one
   TensorFlow thread) and the float32 and int8 TFLite step files; whether float32 TFLite
   draws the same text as Keras from the same seed.
3. Training throughput: characters per second of optimizer steps (batch 64, the card's
   sequence length) of a fresh model of the preset's configuration.

``--quick``: 40 validation windows, 100 generated characters, 5 training steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnzoo.commands.export import (
    CALIBRATION_EXAMPLES,
    card_export_options,
    card_options_lines,
)
from rnnzoo.runtime import dash_formatter

PRESET = "textgen-shakespeare"
DATA = Path("tinyshakespeare") / "input.txt"
TARGET_NATS = 1.50
PROMPT = "ROMEO:"
STAND_IN = {"units": [128], "embedding": 32, "dropout": 0.0, "length": 100}


def _data_file() -> Path:
    from tasks.common.data_paths import data_root

    root = data_root()
    if root is None or not (root / DATA).is_file():
        raise FileNotFoundError(f"{DATA} of ../shared/data (or $RNNZOO_DATA) is not there; the "
                                "textgen benchmark needs it")
    return root / DATA


def _preset(folder: Path, path: Path):
    """The shipped preset, or a stand-in trained here for one epoch; and where it came from."""
    import keras

    import tasks
    import zoo

    try:
        return zoo.load(PRESET), f"preset {PRESET}"
    except Exception as error:  # noqa: BLE001 - not shipped: a small stand-in
        reason = f"{type(error).__name__}: {error}"
    task = tasks.get_task("textgen")
    from tasks.textgen.data import training_vocabulary

    chars = list(training_vocabulary(path).tokens)
    config = {"characters": chars, "units": STAND_IN["units"],
              "embedding": STAND_IN["embedding"], "dropout": STAND_IN["dropout"]}
    keras.utils.set_random_seed(0)
    model = zoo.build("textgen-char-lstm", **config)
    model.compile(keras.optimizers.Adam(3e-3, global_clipnorm=1.0), loss=task.loss)
    options = {"length": STAND_IN["length"], "characters": chars}
    model.fit(task.load(path, "train", **options).shuffle(20_000, seed=0).batch(64),
              epochs=1, verbose=0, shuffle=False)
    saved = zoo.save(model, folder / "stand-in", name="textgen-stand-in",
                     card={"task": "textgen", "data_options": options},
                     assets=task.preset_assets("textgen-char-lstm", config))
    return zoo.load(saved), f"a 1x128 LSTM trained here for one epoch ({PRESET}: {reason})"


def validation(preset, path: Path, quick: bool, folder: Path) -> tuple[dict, dict]:
    """Part 1: nats/char of Keras and of the TFLite step files; the files by quantize."""
    import export
    import tasks

    task = tasks.get_task("textgen")
    options = preset.card.get("data_options", {})
    data = task.load(path, "validation", **options)
    if quick:
        data = data.take(40)
    keras_figures = task.metric(preset.model.predict_on_batch, data)
    card_options = card_export_options(preset.card)  # as `rnnzoo export` exports the preset
    report = export.export_model(
        preset.model, folder / "export", formats=["tflite"], quantize=["fp32", "int8"],
        kinds=["step"],
        representative=task.representative(path, 50 if quick else CALIBRATION_EXAMPLES,
                                           **options),
        dataset=data, metric=task.metric, metric_name=task.primary_metric, name=preset.name,
        assets=preset.assets, **card_options)
    rows = {"keras": {"nats_per_char": keras_figures["nats_per_char"],
                      "bits_per_char": keras_figures["bits_per_char"],
                      "accuracy": keras_figures["accuracy"],
                      "parameters": int(preset.model.count_params())}}
    files = {}
    for entry in report["artifacts"]:
        nats = (entry.get("metric") or {}).get("value")
        rows[Path(entry["path"]).stem] = {
            "nats_per_char": nats, "bits_per_char": None if nats is None else nats / _LN2,
            "bytes": entry.get("bytes"), "latency_ms_per_step": entry.get("latency_ms")}
        files[entry["quantize"]] = folder / "export" / entry["path"]  # relative to it
    return {"characters": keras_figures["characters"], "figures": rows,
            "subset": "first 40 validation windows (quick)" if quick else None,
            "export_options": card_options,
            "target_nats_per_char": TARGET_NATS,
            "meets_target": keras_figures["nats_per_char"] <= TARGET_NATS,
            "int8_minus_float32": (rows.get("step.int8", {}).get("nats_per_char") or 0)
            - (rows.get("step.fp32", {}).get("nats_per_char") or 0)}, files


_LN2 = 0.6931471805599453


def _keras_speed(preset, length: int, folder: Path) -> dict:
    """Keras generation in a child process with one TensorFlow thread."""
    job = folder / "job.json"
    job.write_text(json.dumps({"preset": str(preset.path), "length": length,
                               "output": str(folder / "keras-speed.json")}), encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    process = subprocess.run([sys.executable, "-m", "rnnzoo.bench.text_textgen", str(job)],
                             capture_output=True, env=env, check=False, timeout=900)
    result = folder / "keras-speed.json"
    if not result.is_file():
        tail = process.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return {"error": f"the Keras speed process exited with {process.returncode} {tail}"}
    return json.loads(result.read_text(encoding="utf-8"))


def _timed_generation(stepper, vocabulary, length: int) -> dict:
    from tasks.textgen.sampling import generate_ids

    generate_ids(stepper, vocabulary.encode(PROMPT), length=4, seed=1)  # warm-up
    start = time.perf_counter()
    ids = generate_ids(stepper, vocabulary.encode(PROMPT), length=length, seed=0)
    seconds = time.perf_counter() - start
    return {"characters_per_second": length / seconds, "text": vocabulary.decode(ids)}


def generation(preset, files: dict, quick: bool, folder: Path) -> dict:
    """Part 2: characters per second on one thread; float32 TFLite draws Keras' text."""
    from tasks.textgen.predict import preset_vocabulary
    from tasks.textgen.tflite_sampler import TFLiteStepper

    length = 100 if quick else 1000
    vocabulary = preset_vocabulary(preset)
    rows = {"keras": _keras_speed(preset, length, folder)}
    for quantize, path in sorted(files.items()):
        rows[f"step.{quantize}"] = _timed_generation(TFLiteStepper(path, threads=1), vocabulary,
                                                     length)
    same = rows["keras"].get("text") == rows.get("step.fp32", {}).get("text")
    return {"prompt": PROMPT, "characters": length, "seed": 0, "temperature": 1.0,
            "threads": 1, "figures": rows, "float32_tflite_text_equals_keras": same}


def training_throughput(preset, quick: bool) -> dict:
    """Part 3: characters per second of optimizer steps of a fresh model like the preset."""
    import keras
    import numpy as np

    import tasks
    import zoo

    task = tasks.get_task("textgen")
    builder = preset.config["builder"]
    config = preset.config["config"]
    length = preset.card.get("data_options", {}).get("length", 128)
    batch, steps = 64, 5 if quick else 30
    keras.utils.set_random_seed(0)
    model = zoo.build(builder, **config)
    model.compile(keras.optimizers.Adam(2e-3, global_clipnorm=1.0), loss=task.loss)
    rng = np.random.default_rng(0)
    x = rng.integers(2, len(config["characters"]), (batch * 4, length + 1)).astype(np.int32)
    model.fit(x[:, :-1], x[:, 1:], batch_size=batch, epochs=1, steps_per_epoch=2, verbose=0)
    start = time.perf_counter()
    for i in range(steps):
        rows = slice((i % 4) * batch, (i % 4 + 1) * batch)
        model.train_on_batch(x[rows, :-1], x[rows, 1:])
    seconds = time.perf_counter() - start
    return {"builder": builder, "units": config["units"], "batch": batch, "length": length,
            "parameters": int(model.count_params()), "steps_per_second": steps / seconds,
            "characters_per_second": steps * batch * length / seconds}


def run(quick: bool = False) -> dict:
    path = _data_file()
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-textgen-") as temp:
        folder = Path(temp)
        preset, source = _preset(folder, path)
        scores, files = validation(preset, path, quick, folder)
        return {"settings": {"quick": quick, "tflite_threads": 1}, "source": source,
                "validation": scores, "generation": generation(preset, files, quick, folder),
                "training": training_throughput(preset, quick)}


_f = dash_formatter(".4f")  # a table cell: the value, or "-" when missing


def table(result: dict) -> str:
    v = result["validation"]
    lines = [f"textgen: tinyshakespeare validation (last 10 %), {v['characters']:,} characters; "
             f"{result['source']}"]
    if v.get("subset"):
        lines.append(f"on the {v['subset']}: not the validation figure")
    lines.append(f"{'model':<12}{'nats/char':>10}{'bits/char':>10}{'KiB':>8}{'ms/step':>9}")
    for name, row in v["figures"].items():
        size = row.get("bytes")
        lines.append(f"{name:<12}{_f(row['nats_per_char']):>10}{_f(row['bits_per_char']):>10}"
                     f"{_f(size / 1024 if size else None, '.0f'):>8}"
                     f"{_f(row.get('latency_ms_per_step'), '.3f'):>9}")
    lines += card_options_lines(v.get("export_options"))
    keras_nats = v["figures"]["keras"]["nats_per_char"]
    lines.append(f"Keras {keras_nats:.4f} nats/char {'meets' if v['meets_target'] else 'MISSES'} "
                 f"the target <= {v['target_nats_per_char']:.2f}; int8 - float32: "
                 f"{v['int8_minus_float32']:+.4f} nats/char")
    g = result["generation"]
    lines += ["", f"generation: {g['characters']} characters after {g['prompt']!r}, seed "
                  f"{g['seed']}, one thread"]
    for name, row in g["figures"].items():
        if "error" in row:
            lines.append(f"{name:<12}failed: {row['error'][:80]}")
        else:
            lines.append(f"{name:<12}{row['characters_per_second']:>10.0f} characters/s")
    lines.append("float32 TFLite draws " + ("the same text as" if
                 g["float32_tflite_text_equals_keras"] else "a DIFFERENT text from") + " Keras")
    sample = g["figures"].get("step.fp32", {}).get("text", "")[:200]
    lines += ["sample (float32 TFLite):", PROMPT + sample]
    t = result["training"]
    lines += ["", f"training ({t['builder']} {t['units']}, {t['parameters']:,} parameters, "
                  f"batch {t['batch']} x {t['length']}): {t['steps_per_second']:.2f} steps/s, "
                  f"{t['characters_per_second']:,.0f} characters/s"]
    return "\n".join(lines)


def _worker(job_path: str) -> int:
    """Child process: Keras generation speed on one TensorFlow thread (see `_keras_speed`)."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    try:
        import zoo
        from tasks.textgen.predict import preset_vocabulary
        from tasks.textgen.sampling import KerasStepper

        preset = zoo.load(job["preset"])
        result = _timed_generation(KerasStepper(preset.model), preset_vocabulary(preset),
                                   job["length"])
    except Exception as error:  # noqa: BLE001 - reported to the parent
        result = {"error": f"{type(error).__name__}: {error}"}
    Path(job["output"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
