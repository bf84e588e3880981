"""Speech presets: accuracy/WER for Keras, float and int8 TFLite; real-time factor; training
throughput with the in-model front end vs precomputed features; peak training memory.

* Accuracy: each shipped speech preset on its test split (the dataset its card records,
  found under the data root: `tasks.common.data_paths`), through the task metric, for the
  Keras model and for float32, dynamic-range and full-int8 TFLite files made by
  `export.to_tflite` (int8 calibrated on ``task.representative``).
* RTF: median batch-1 latency of the int8 TFLite file on one thread over the seconds of audio
  one call covers (digits: the 1 s input; connected digits: the 100 ms streaming chunk model
  and the 6 s sequence model).
* Throughput: training clips/s of the speech-digits model with its front end in the model
  (raw waveforms in) and of the same layers after the front end on precomputed log-mels;
  measured in a child process, which also reports its peak resident memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESETS = ("speech-digits", "speech-connected-digits", "speech-yesno")


def _data_path(preset, task) -> str | None:
    """The preset's dataset, or None when it is not on this machine (the row is skipped)."""
    from rnnzoo.commands.common import preset_data

    try:
        return preset_data(preset, task, None)
    except FileNotFoundError:
        return None


def _subset(dataset, n: int | None):
    return dataset if n is None else dataset.take(n)


def _tflite_figures(preset, task, test, data: str, folder: Path, quick: bool) -> dict:

    import export

    figures = {}
    rate = preset.config["config"].get("sample_rate", 8000)
    seconds = preset.model.inputs[0].shape[1] / rate
    representative = task.representative(data, n=8 if quick else 100,
                                         **preset.card.get("data_options", {}))
    for quantize in ("fp32", "dynamic", "int8"):
        path = folder / f"{preset.name}-{quantize}.tflite"
        try:
            export.to_tflite(preset.model, path, quantize=quantize,
                             representative=representative if quantize == "int8" else None)
        except Exception as error:  # noqa: BLE001 - reported, the other figures still count
            figures[quantize] = {"error": f"{type(error).__name__}: {error}"[:500]}
            continue
        runner = export.TFLiteRunner(path, num_threads=1)
        row = task.metric(runner.predict, test)
        latency = runner.latency_ms(next(iter(test.batch(1).as_numpy_iterator()))[0],
                                    min_repeats=5 if quick else 20)
        row.update(bytes=path.stat().st_size, latency_ms=latency,
                   rtf=latency / 1000 / seconds, audio_seconds_per_call=seconds)
        figures[quantize] = row
    if preset.builder == "speech-ctc" and not preset.config["config"].get("bidirectional"):
        figures["int8_stream_chunk"] = _chunk_rtf(preset, representative, folder, quick)
    return figures


def _chunk_rtf(preset, representative, folder: Path, quick: bool) -> dict:
    """int8 TFLite of the 100 ms chunk model: RTF on one thread (calibrated on real states)."""
    import numpy as np

    import export
    from tasks.speech.streaming import Streamer

    streamer = Streamer(preset, chunk_ms=100)
    chunk = streamer.chunk
    samples = []
    for utterance in representative[: 4 if quick else 20]:
        streamer.reset()
        original = streamer._run

        def recording(piece, original=original):
            samples.append([piece[None].astype(np.float32), *[c.copy() for c in streamer._carried]])
            return original(piece)

        streamer._run = recording
        streamer.push(utterance[0])
        streamer._run = original
    path = folder / f"{preset.name}-chunk-int8.tflite"
    try:
        export.to_tflite(chunk, path, quantize="int8", representative=samples)
    except Exception as error:  # noqa: BLE001
        return {"error": f"{type(error).__name__}: {error}"[:500]}
    runner = export.TFLiteRunner(path, num_threads=1)
    latency = runner.latency_ms(samples[0], min_repeats=5 if quick else 50)
    seconds = streamer.frames_per_chunk * streamer.hop / preset.config["config"]["sample_rate"]
    return {"bytes": path.stat().st_size, "latency_ms": latency, "chunk_seconds": seconds,
            "rtf": latency / 1000 / seconds}


def _preset_rows(quick: bool) -> dict:
    import tasks
    import zoo

    rows = {}
    available = set(zoo.list_presets())
    for name in PRESETS:
        if name not in available:
            continue
        preset = zoo.load(name)
        task = tasks.get_task(preset.card["task"])
        data = _data_path(preset, task)
        if data is None:
            rows[name] = {"skipped": "dataset not found"}
            continue
        test = _subset(task.load(data, "test", **preset.card.get("data_options", {})),
                       16 if quick else None)
        row = {"task": task.name, "metric": task.primary_metric,
               "keras": task.metric(preset.model.predict_on_batch, test)}
        with tempfile.TemporaryDirectory() as folder:
            try:
                row.update(_tflite_figures(preset, task, test, data, Path(folder), quick))
            except ImportError as error:
                row["tflite"] = f"export not available ({error})"
        rows[name] = row
    return rows


def throughput(quick: bool) -> dict:
    """Training clips/s with the front end in the model and on precomputed features."""
    import keras
    import numpy as np
    import tensorflow as tf

    import zoo
    from tasks.speech.synthetic import word

    batch, steps = 32, (5 if quick else 40)
    rng = np.random.default_rng(0)
    waves = np.zeros((batch * 4, 8000), np.float32)
    for i in range(len(waves)):
        w = word(i % 10, i % 3, seconds=rng.uniform(0.3, 0.7), seed=i)
        waves[i, : w.size] = w
    labels = np.arange(len(waves)) % 10
    keras.utils.set_random_seed(0)
    model = zoo.build("speech-crnn", spec_augment={}, wave_augment={"max_shift": 1600})
    features = keras.Model(model.inputs, model.get_layer("utterance_norm").output)([waves]).numpy()
    start = model.get_layer("spec_augment")
    backbone = keras.Model(start.input, model.output)
    results = {}
    for name, net, x in (("in_model_front_end", model, waves),
                         ("precomputed_features", backbone, features)):
        optimizer = keras.optimizers.Adam(1e-3)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        @tf.function
        def step(inputs, targets, net=net, optimizer=optimizer, loss_fn=loss_fn):
            with tf.GradientTape() as tape:
                loss = loss_fn(targets, net(inputs, training=True))
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply(grads, net.trainable_variables)
            return loss

        data = tf.data.Dataset.from_tensor_slices((x, labels)).repeat().batch(batch).prefetch(2)
        iterator = iter(data)
        for _ in range(3):
            step(*next(iterator))
        began = time.perf_counter()
        for _ in range(steps):
            loss = step(*next(iterator))
        float(loss)
        results[name] = {"clips_per_second": steps * batch / (time.perf_counter() - began)}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"batch": batch, "steps": steps, **results,
            "front_end_over_precomputed": results["in_model_front_end"]["clips_per_second"]
            / results["precomputed_features"]["clips_per_second"],
            "peak_rss_mib": peak_kib / 1024}


def run(quick: bool = False) -> dict:
    child = subprocess.run([sys.executable, "-m", "rnnzoo.bench.speech", "throughput",
                            "quick" if quick else "full"], capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"throughput child failed: {child.stderr.strip()[-1500:]}")
    return {"presets": _preset_rows(quick), "training": json.loads(child.stdout.splitlines()[-1])}


def table(result: dict) -> str:
    lines = ["speech: test figures per preset (keras / float32 / dynamic-range / full-int8 TFLite)"]
    for name, row in result["presets"].items():
        if "skipped" in row:
            lines.append(f"{name}: skipped ({row['skipped']})")
            continue
        key = row["metric"]
        cells = [f"keras {row['keras'][key]:.4f}"]
        for variant in ("fp32", "dynamic", "int8"):
            entry = row.get(variant, {})
            label = {"fp32": "float", "dynamic": "dynamic-range int8"}.get(variant, variant)
            if "error" in entry:
                cells.append(f"{label} failed: {entry['error'][:80]}")
            elif entry:
                cells.append(f"{label} {entry[key]:.4f} ({entry['bytes'] / 1024:.0f} KiB, "
                             f"RTF {entry['rtf']:.4f})")
        lines.append(f"{name} [{key}]: " + "; ".join(cells))
        chunk = row.get("int8_stream_chunk")
        if chunk and "error" not in chunk:
            lines.append(f"  int8 100 ms chunk model: {chunk['latency_ms']:.2f} ms per chunk, "
                         f"RTF {chunk['rtf']:.4f}, {chunk['bytes'] / 1024:.0f} KiB")
        elif chunk:
            lines.append(f"  int8 chunk model failed: {chunk['error'][:120]}")
        if "tflite" in row:
            lines.append(f"  {row['tflite']}")
    t = result["training"]
    lines.append(f"training speech-crnn, batch {t['batch']}: front end in model "
                 f"{t['in_model_front_end']['clips_per_second']:.0f} clips/s, precomputed "
                 f"features {t['precomputed_features']['clips_per_second']:.0f} clips/s, ratio "
                 f"{t['front_end_over_precomputed']:.3f}; peak RSS {t['peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["throughput"]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        print(json.dumps(throughput(sys.argv[2:3] == ["quick"])))
