"""Video actions: accuracy of the LRCN preset (Keras, float32 and int8 TFLite, clip and step
files), the ConvLSTM and the frame-average baseline beside it, latency per clip and per frame,
decode throughput and training throughput with the decoding pipeline.

* Data: the procedural video-actions dataset (`tasks.video.actions.generated_root`: training
  clips from seed 1, test clips from seed 1001, which no training or selection sees). Every
  figure is on the test clips; "pairs" is the accuracy on the clips of the motion-only pairs
  (`tasks.video.synthetic.MOTION_PAIRS`: walk/run, wave one/two hands, bend/sit).
* LRCN: the shipped ``video-actions-lrcn`` preset, exported here with `export.to_tflite`
  (int8 calibrated on 100 training clips); step files are fed frame by frame from zero states.
* ConvLSTM and frame average: trained here with ``rnnzoo train video-actions --model ...`` on
  the preset's data for `BASELINE_EPOCHS` epochs into ``bench-results/video-runs``; a
  finished run there is reused.
* Latency: median batch-1 milliseconds on one thread, per 16-frame clip (clip files and the
  Keras model) and per frame (step files).
* Decode: frames per second of `tasks.video.decode.read_clip` one clip after another, and of
  the parallel tf.data pipeline (`tasks.video.dataset.load`).
* Training throughput: LRCN training steps per second fed by the decoding pipeline (decoding
  every batch, as a first epoch does) over the same steps fed from frames preloaded in memory
  (target >= 0.8).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnzoo.bench import skipped

PRESET = "video-actions-lrcn"
BASELINES = ("convlstm", "frame-average")
# Epochs of the baselines trained here (the preset's card says its own): enough to rank them
# on this CPU in minutes; their figures are lower bounds of what longer training gives.
BASELINE_EPOCHS = 4
RUNS = Path("bench-results") / "video-runs"


def _data(preset, quick: bool) -> str:
    """The procedural dataset the preset was trained with (quick: a small one)."""
    from tasks.video.actions import generated_root

    if quick:
        return str(generated_root(clips_per_class=12, test_clips_per_class=6))
    options = preset.card.get("data_options", {})
    return str(generated_root(**{k: options[k] for k in ("clips_per_class",
                                                          "test_clips_per_class", "data_seed")
                                 if k in options}))


def _pair_classes(labels: list[str]) -> set[int]:
    from tasks.video.synthetic import MOTION_PAIRS

    return {labels.index(a) for pair in MOTION_PAIRS for a in pair if a in labels}


def _scores(model_fn, clips: np.ndarray, targets: np.ndarray, pairs: set[int],
            batch: int = 32) -> dict:
    predicted = np.concatenate([np.asarray(model_fn(clips[i:i + batch])).argmax(axis=-1)
                                for i in range(0, len(clips), batch)])
    in_pairs = np.isin(targets, sorted(pairs))
    return {"accuracy": float(np.mean(predicted == targets)),
            "pairs_accuracy": float(np.mean(predicted[in_pairs] == targets[in_pairs])),
            "clips": int(len(targets)), "pair_clips": int(in_pairs.sum())}


def _test_clips(source: str, size: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    from tasks.video.dataset import load

    items = list(load(source, "test", frames=frames, size=size).as_numpy_iterator())
    return (np.stack([x for x, _ in items]).astype(np.float32),
            np.array([y for _, y in items], np.int32))


def _tflite_rows(preset, source: str, clips, targets, pairs, folder: Path, quick: bool) -> dict:
    import export
    from tasks.video.actions import representative

    options = preset.card.get("data_options", {})
    calibration = representative(source, 16 if quick else 100,
                                 **{k: v for k, v in options.items()
                                    if k in ("frames", "size", "stride")})
    rows = {}
    for kind in ("sequence", "step"):
        for quantize in ("fp32", "int8"):
            path = folder / f"{kind}.{quantize}.tflite"
            try:
                export.to_tflite(preset.model, path, kind=kind, quantize=quantize,
                                 representative=calibration if quantize == "int8" else None)
            except Exception as error:  # noqa: BLE001 - reported, the rest still counts
                rows[f"{kind}.{quantize}"] = {"error": f"{type(error).__name__}: {error}"[:300]}
                continue
            runner = export.TFLiteRunner(path, num_threads=1)
            row = _scores(runner.predict, clips, targets, pairs, batch=1)
            row.update(bytes=path.stat().st_size,
                       latency_ms=runner.latency_ms(clips[:1], min_repeats=5 if quick else 20))
            row["latency_per"] = "frame" if kind == "step" else f"{clips.shape[1]}-frame clip"
            rows[f"{kind}.{quantize}"] = row
    return rows


def _keras_latency_ms(model, clip: np.ndarray) -> float:
    import tensorflow as tf

    from export.runner import median_ms

    call = tf.function(lambda x: model(x, training=False))
    return median_ms(lambda: call(clip).numpy(), min_repeats=10)


def _baseline(model: str, preset, quick: bool, clips, targets, pairs) -> dict:
    """Train (or reuse) a ``video-<model>`` run with the preset's epochs; its test scores."""
    import zoo

    out = RUNS / (f"{model}-quick" if quick else model)
    epochs = 2 if quick else BASELINE_EPOCHS
    command = [sys.executable, "-m", "rnnzoo", "train", "video-actions", "--model", model,
               "--out", str(out), "--epochs", str(epochs), "--patience", "0", "--quiet"]
    options = preset.card.get("data_options", {})
    if quick:
        command += ["--clips-per-class", "12", "--test-clips-per-class", "6"]
    else:
        for key in ("clips_per_class", "test_clips_per_class", "data_seed"):
            if key in options:
                command += [f"--{key.replace('_', '-')}", str(options[key])]
    if (out / "preset" / "config.json").is_file():
        command.append("--resume")
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    trained = zoo.load(out / "preset")
    row = _scores(trained.model.predict_on_batch, clips, targets, pairs)
    row.update(epochs=epochs, seconds=round(time.perf_counter() - start, 1),
               parameters=int(trained.model.count_params()), run=str(out))
    return row


def _decode_rates(source: str, frames: int, size: int, count: int) -> dict:
    from tasks.video.dataset import load
    from tasks.video.decode import read_clip
    from tasks.video.layout import find_clips

    paths = find_clips(source, "test")[0][:count]
    start = time.perf_counter()
    for path in paths:
        read_clip(path, frames=frames, size=size)
    sequential = time.perf_counter() - start
    data = load(source, "test", frames=frames, size=size).take(count).batch(16)
    start = time.perf_counter()
    seen = sum(int(x.shape[0]) for x, _ in data)
    parallel = time.perf_counter() - start
    return {"clips": len(paths), "frames_per_clip": frames,
            "sequential_frames_per_second": len(paths) * frames / sequential,
            "pipeline_frames_per_second": seen * frames / parallel}


def _training_throughput(source: str, preset, steps: int) -> dict:
    """LRCN steps/s fed by decoding (every batch decoded) and by frames in memory."""
    import keras
    import tensorflow as tf

    import zoo
    from tasks.video.dataset import load

    config = preset.config["config"]
    frames, size, batch = config.get("frames") or 16, config.get("size", 64), 16
    decoded = load(source, "train", frames=frames, size=size, shuffle=True, shuffle_seed=0)
    pipeline = decoded.repeat().batch(batch).prefetch(tf.data.AUTOTUNE)
    held = list(decoded.take(batch * 8).as_numpy_iterator())
    memory = tf.data.Dataset.from_tensor_slices(
        (np.stack([x for x, _ in held]), np.array([y for _, y in held]))).repeat().batch(batch)
    rates = {}
    for name, data in (("decoding_pipeline", pipeline), ("frames_in_memory", memory)):
        keras.utils.set_random_seed(0)
        model = zoo.build(preset.builder, **config)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        rates[name] = steps / (time.perf_counter() - start)
    return {"batch": batch, "steps": steps, "steps_per_second": rates,
            "pipeline_over_memory": rates["decoding_pipeline"] / rates["frames_in_memory"]}


def run(quick: bool = False) -> dict:
    import zoo

    try:
        preset = zoo.load(PRESET)
    except Exception as error:  # noqa: BLE001 - the preset may not be shipped yet
        return skipped(error, f"{PRESET}: ")
    source = _data(preset, quick)
    config = preset.config["config"]
    labels, size, frames = config["labels"], config.get("size", 64), config.get("frames") or 16
    pairs = _pair_classes(labels)
    clips, targets = _test_clips(source, size, frames)
    if quick:
        clips, targets = clips[:24], targets[:24]
    result = {"data": {"source": Path(source).name, "test_clips": int(len(targets)),
                       "frames": frames, "size": size},
              "lrcn": {"keras": _scores(preset.model.predict_on_batch, clips, targets, pairs)}}
    result["lrcn"]["keras"]["latency_ms"] = _keras_latency_ms(preset.model, clips[:1])
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-video-") as folder:
        result["lrcn"].update(_tflite_rows(preset, source, clips, targets, pairs, Path(folder),
                                           quick))
    for model in BASELINES:
        result[model.replace("-", "_")] = _baseline(model, preset, quick, clips, targets, pairs)
    result["decode"] = _decode_rates(source, frames, size, 24 if quick else 200)
    result["training"] = _training_throughput(source, preset, 5 if quick else 30)
    return result


def table(result: dict) -> str:
    if "skipped" in result:
        return f"video: skipped ({result['skipped']})"
    d = result["data"]
    lines = [f"video: {d['test_clips']} test clips of {d['source']} (another seed than "
             f"training), {d['frames']} frames of {d['size']}x{d['size']}; latency = median "
             "batch-1 ms, 1 thread"]

    def cells(row: dict) -> str:
        if "error" in row:
            return f"failed: {row['error'][:120]}"
        text = f"accuracy {row['accuracy']:.4f}, motion-only pairs {row['pairs_accuracy']:.4f}"
        if "bytes" in row:
            text += f", {row['bytes'] / 1024:.0f} KiB"
        if "latency_ms" in row:
            text += f", {row['latency_ms']:.2f} ms per {row.get('latency_per', 'clip')}"
        return text

    lines.append(f"lrcn keras: {cells(result['lrcn']['keras'])}")
    for key in ("sequence.fp32", "sequence.int8", "step.fp32", "step.int8"):
        if key in result["lrcn"]:
            lines.append(f"lrcn tflite {key}: {cells(result['lrcn'][key])}")
    for model in BASELINES:
        row = result[model.replace("-", "_")]
        extra = "" if "error" in row else (f" ({row['parameters']:,} parameters, "
                                           f"{row['epochs']} epochs)")
        lines.append(f"{model}{extra}: {cells(row)}")
    dec = result["decode"]
    lines.append(f"decode: {dec['sequential_frames_per_second']:.0f} frames/s one clip after "
                 f"another, {dec['pipeline_frames_per_second']:.0f} frames/s through the tf.data "
                 f"pipeline ({dec['clips']} clips)")
    t = result["training"]
    rates = t["steps_per_second"]
    lines.append(f"training lrcn, batch {t['batch']}: decoding pipeline "
                 f"{rates['decoding_pipeline']:.2f} steps/s, frames in memory "
                 f"{rates['frames_in_memory']:.2f} steps/s, ratio "
                 f"{t['pipeline_over_memory']:.3f} (target >= 0.8)")
    return "\n".join(lines)
