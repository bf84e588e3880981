"""Captioning: BLEU of the shipped presets (Keras, float32 and int8 TFLite encoder/decoder
pairs), latency per caption, encoder images per second and training throughput.

* Data: each preset's own (its card): ``captioning-shapes`` is scored on the procedural test
  split (another seed than training and validation), ``captioning-coco-mini`` on its test
  split, the second half of coco_captions_mini's val images by id (the first half chose the
  epoch; `tasks.captioning.coco.load_task_split`); skipped when ../shared/data is absent.
* TFLite: the preset exported in parts (`export.parts_bundle.export_parts`), int8 calibrated
  on 100 training captions; the pair runs through `export.parts.PartsRunner`.
* Latency: a greedy caption of one image with the TFLite pair (encoder once, then decoder
  steps until ``<end>``), batch 1, one thread, median over images; encoder images/s from
  the encoder file alone.
* Training throughput: training steps/s of the preset's builder fed by the image-decoding
  pipeline against the same examples preloaded in memory.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from rnnzoo.bench import skipped

PRESETS = ("captioning-shapes", "captioning-coco-mini")


def _data(preset, quick: bool):
    import tasks
    from tasks.common.data_paths import resolve_data

    task = tasks.get_task("captioning")
    source = resolve_data(None, preset.card, task)
    split = "test"  # shapes: another seed; COCO mini: the second half of val (never selected on)
    options = dict(preset.card.get("data_options", {}))
    data = task.load(source, split, **options)
    items = list(data.as_numpy_iterator())
    if quick:
        items = items[:40]
    return task, source, split, options, items


def _caption_latency(runner, images: np.ndarray, max_length: int) -> float:
    from export.runner import median_ms
    from tasks.common.decoding import greedy

    def caption(image):
        state = runner.encode({"image": image[None].astype(np.float32)})
        return greedy(runner.step_fn(), state, start=1, end=2, max_length=max_length)

    times = []
    for image in images:
        times.append(median_ms(lambda image=image: caption(image), min_seconds=0.05,
                               min_repeats=3, max_repeats=10))
    return float(np.median(times))


def _beam_metric(model_fn, items) -> dict:
    """BLEU of the captions `rnnzoo predict` shows: beam search of its default width and
    length penalty (chosen on the shapes validation split: BLEU-4 0.836 against 0.818 greedy)."""
    from tasks.captioning.bleu import caption_metric
    from tasks.captioning.predict import ALPHA, BEAM

    return {**caption_metric(model_fn, items, beam=BEAM, alpha=ALPHA), "beam": BEAM,
            "alpha": ALPHA}


def _bench_preset(name: str, quick: bool) -> dict:
    import zoo
    from export.parts import parts_of
    from export.parts_bundle import export_parts, runner_for_files
    from export.runner import TFLiteRunner, median_ms

    preset = zoo.load(name)
    task, source, split, options, items = _data(preset, quick)
    max_length = int(options.get("max_length") or 20)
    rows = {"split": split, "examples": len(items),
            "keras": task.metric(preset.model.predict_on_batch, items),
            "keras.beam": _beam_metric(preset.model.predict_on_batch, items)}
    calibration = task.representative(source, 20 if quick else 100, **options)
    images = np.stack([x["image"] for x, _ in items[:: max(1, len(items) // 8)][:8]])
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-captioning-") as folder:
        out = Path(folder) / "export"
        export_parts(preset.model, parts_of(preset.model), out, formats=["tflite"],
                     quantize=["fp32", "int8"], representative=calibration)
        for quantize in ("fp32", "int8"):
            encoder = out / f"encoder.{quantize}.tflite"
            decoder = out / f"decoder.{quantize}.tflite"
            runner = runner_for_files(encoder, decoder)
            row = task.metric(runner, items)
            rows[f"tflite.{quantize}.beam"] = _beam_metric(runner, items)
            row["bytes"] = {"encoder": encoder.stat().st_size, "decoder": decoder.stat().st_size}
            row["caption_latency_ms"] = _caption_latency(runner, images, max_length)
            alone = TFLiteRunner(encoder, num_threads=1)
            feed = {"image": images[:1].astype(np.float32)}
            encode_ms = median_ms(lambda alone=alone, feed=feed: alone.invoke(feed))
            row["encoder_images_per_second"] = 1000.0 / encode_ms
            rows[f"tflite.{quantize}"] = row
    return rows


def _training_throughput(steps: int) -> dict:
    """Steps/s of the shapes preset's builder fed by decoding images, against in memory."""
    import keras
    import tensorflow as tf

    import zoo

    preset = zoo.load(PRESETS[0])
    task, source, _, options, _ = _data(preset, quick=True)
    decoded = task.load(source, "train", **options)
    pipeline = decoded.repeat().batch(32).prefetch(tf.data.AUTOTUNE)
    held = list(decoded.take(32 * 8).as_numpy_iterator())
    memory = tf.data.Dataset.from_tensor_slices((
        {k: np.stack([x[k] for x, _ in held]) for k in held[0][0]},
        np.stack([y for _, y in held]))).repeat().batch(32)
    rates = {}
    for label, data in (("decoding_pipeline", pipeline), ("in_memory", memory)):
        keras.utils.set_random_seed(0)
        model = zoo.build(preset.builder, **preset.config["config"])
        model.compile(keras.optimizers.Adam(1e-3), task.loss)
        model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        rates[label] = steps / (time.perf_counter() - start)
    return {"batch": 32, "steps": steps, "steps_per_second": rates,
            "pipeline_over_memory": rates["decoding_pipeline"] / rates["in_memory"]}


def run(quick: bool = False) -> dict:
    result = {}
    for name in PRESETS:
        try:
            result[name] = _bench_preset(name, quick)
        except Exception as error:  # noqa: BLE001 - a preset not shipped, data absent
            result[name] = skipped(error)
    try:
        result["training"] = _training_throughput(5 if quick else 30)
    except Exception as error:  # noqa: BLE001 - reported
        result["training"] = skipped(error)
    return result


def table(result: dict) -> str:
    lines = ["captioning: BLEU (0-1) of greedy (or beam-search) captions against all "
             "references; latency = median batch-1 ms per greedy caption (encoder + decoder "
             "steps), 1 thread"]
    for name in PRESETS:
        rows = result.get(name, {})
        if "skipped" in rows:
            lines.append(f"{name}: skipped ({rows['skipped']})")
            continue
        lines.append(f"{name}: {rows['examples']} captions of the {rows['split']} split")
        for key in ("keras", "keras.beam", "tflite.fp32", "tflite.fp32.beam", "tflite.int8",
                    "tflite.int8.beam"):
            row = rows.get(key)
            if not row:
                continue
            label = key.replace(".beam", f" beam {row['beam']}") if "beam" in row else key
            text = (f"  {label:<19} BLEU-1 {row['bleu1']:.4f}  BLEU-4 {row['bleu4']:.4f}  "
                    f"({row['images']} images)")
            if "bytes" in row:
                b = row["bytes"]
                text += (f", encoder {b['encoder'] / 1024:.0f} KiB + decoder "
                         f"{b['decoder'] / 1024:.0f} KiB, {row['caption_latency_ms']:.1f} ms "
                         f"per caption, encoder {row['encoder_images_per_second']:.0f} images/s")
            lines.append(text)
    t = result.get("training", {})
    if "skipped" in t:
        lines.append(f"training: skipped ({t['skipped']})")
    elif t:
        r = t["steps_per_second"]
        lines.append(f"training captioning-shapes, batch {t['batch']}: decoding pipeline "
                     f"{r['decoding_pipeline']:.2f} steps/s, in memory {r['in_memory']:.2f} "
                     f"steps/s, ratio {t['pipeline_over_memory']:.3f}")
    return "\n".join(lines)
