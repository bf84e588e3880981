"""Translation: BLEU of the shipped presets (Keras, float32 and int8 TFLite encoder/decoder
pairs; greedy and beam search), latency per sentence and training throughput.

* Data: each preset's own test split (its card): Multi30k test_2016_flickr for
  ``translate-en-de-multi30k``, the hash-held-out 10 % of the Tatoeba pairs for
  ``translate-en-fr-tatoeba``; a preset that is not shipped, or whose data is absent, is
  skipped with the reason.
* Keras greedy decodes through the whole model (the growing prefix); Keras beam search
  through its own parts (`tasks.translation.bleu.translate`); TFLite through the exported
  pair (`export.parts_bundle.runner_for_files`), int8 calibrated on 200 training pairs
  (`rnnzoo export`'s default).
  ``fp32_greedy_agreement``: the share of sentences whose float32-pair greedy output is
  token for token Keras's.
* Latency: a greedy translation of one sentence with the TFLite pair (encoder once, then
  decoder steps until ``<end>``), batch 1, one thread, median over sentences.
* Training throughput: target tokens (not padding) per second of training steps of the
  preset's builder and config at batch 64, after two warm-up steps.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from rnnzoo.bench import skipped
from rnnzoo.commands.export import CALIBRATION_EXAMPLES

PRESETS = ("translate-en-de-multi30k", "translate-en-fr-tatoeba")
QUICK_SENTENCES, LATENCY_SENTENCES = 40, 8


def _data(preset, quick: bool):
    import tasks
    from tasks.common.data_paths import resolve_data

    task = tasks.get_task("translation")
    source = resolve_data(None, preset.card, task)
    options = dict(preset.card.get("data_options", {}))
    items = list(task.load(source, "test", **options).as_numpy_iterator())
    return task, source, options, items[:QUICK_SENTENCES] if quick else items


def _latency(runner, sources: np.ndarray, max_length: int) -> float:
    from export.runner import median_ms
    from tasks.common.decoding import greedy
    from tasks.common.subwords import END_ID, START_ID

    def one(row):
        state = runner.encode({"source": row[None]})
        return greedy(runner.step_fn(), state, start=START_ID, end=END_ID, max_length=max_length)

    return float(np.median([median_ms(lambda row=row: one(row), min_seconds=0.05,
                                      min_repeats=3, max_repeats=10) for row in sources]))


def bench_preset(preset, items: list, calibration: list, *, beam: int | None = None) -> dict:
    """The figures of one translation preset on ``items`` (test examples)."""
    from export.parts import parts_of
    from export.parts_bundle import export_parts, runner_for_files
    from tasks.translation.bleu import ALPHA, BEAM, translate, translation_metric

    beam = beam or BEAM
    subwords = preset.config["config"]["subwords"]
    max_length = int(np.asarray(items[0][1]).shape[-1])
    sources = np.stack([x["source"] for x, _ in items])

    def scores(model_fn) -> dict:
        greedy = translation_metric(model_fn, items, subwords=subwords)
        beamed = translation_metric(model_fn, items, subwords=subwords, beam=beam, alpha=ALPHA)
        return {"bleu": greedy["bleu"], "chrf": greedy["chrf"], "beam_bleu": beamed["bleu"],
                "bleu_signature": greedy["bleu_signature"]}

    keras_row = scores(preset.model.predict_on_batch)
    rows = {"sentences": len(items), "beam": beam, "alpha": ALPHA,
            "bleu_signature": keras_row.pop("bleu_signature"), "keras": keras_row}
    keras_greedy = translate(preset.model.predict_on_batch, sources, max_length=max_length)
    picked = sources[:: max(1, len(sources) // LATENCY_SENTENCES)][:LATENCY_SENTENCES]
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-translation-") as folder:
        out = Path(folder) / "export"
        export_parts(preset.model, parts_of(preset.model), out, formats=["tflite"],
                     quantize=["fp32", "int8"], representative=calibration)
        for quantize in ("fp32", "int8"):
            encoder = out / f"encoder.{quantize}.tflite"
            decoder = out / f"decoder.{quantize}.tflite"
            runner = runner_for_files(encoder, decoder)
            row = scores(runner)
            row.pop("bleu_signature")
            outputs = translate(runner, sources, max_length=max_length)
            row["greedy_agreement"] = float(np.mean([a == b for a, b in zip(outputs,
                                                                            keras_greedy)]))
            row["bytes"] = {"encoder": encoder.stat().st_size, "decoder": decoder.stat().st_size}
            row["latency_ms_per_sentence"] = _latency(runner, picked, max_length)
            rows[f"tflite.{quantize}"] = row
    return rows


def training_throughput(builder: str, config: dict, items: list, *, steps: int,
                        batch: int = 64) -> dict:
    """Target tokens per second of ``steps`` training steps of ``builder(**config)``."""
    import keras

    import zoo

    inputs = {k: np.stack([x[k] for x, _ in items]) for k in items[0][0]}
    targets = np.stack([y for _, y in items])
    reps = -(-batch * (steps + 2) // len(targets))
    inputs = {k: np.concatenate([v] * reps)[:batch * (steps + 2)] for k, v in inputs.items()}
    targets = np.concatenate([targets] * reps)[:batch * (steps + 2)]
    keras.utils.set_random_seed(0)
    model = zoo.build(builder, **config)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(ignore_class=0))
    warm = 2 * batch
    model.fit({k: v[:warm] for k, v in inputs.items()}, targets[:warm], batch_size=batch,
              epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit({k: v[warm:] for k, v in inputs.items()}, targets[warm:], batch_size=batch,
              epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    tokens = int(np.count_nonzero(targets[warm:]))
    return {"batch": batch, "steps": steps, "seconds": seconds,
            "steps_per_second": steps / seconds, "target_tokens_per_second": tokens / seconds}


def run(quick: bool = False) -> dict:
    import zoo

    result = {}
    for name in PRESETS:
        try:
            preset = zoo.load(name)
            task, source, options, items = _data(preset, quick)
            calibration = task.representative(source, 20 if quick else CALIBRATION_EXAMPLES,
                                              **options)
            row = bench_preset(preset, items, calibration)
            train = list(task.load(source, "train", **options).take(64 * 12)
                         .as_numpy_iterator())
            row["training"] = training_throughput(preset.builder, preset.config["config"],
                                                  train, steps=3 if quick else 10)
            result[name] = row
        except Exception as error:  # noqa: BLE001 - a preset not shipped, data absent
            result[name] = skipped(error)
    return result


def table(result: dict) -> str:
    lines = ["translation: sacrebleu BLEU (0-100) of detokenized greedy and beam-search output "
             "on each preset's test split; latency = median batch-1 ms per greedy sentence "
             "(encoder + decoder steps), 1 thread"]
    for name in PRESETS:
        rows = result.get(name, {})
        if "skipped" in rows:
            lines.append(f"{name}: skipped ({rows['skipped']})")
            continue
        if not rows:
            continue
        lines.append(f"{name}: {rows['sentences']} sentences, beam {rows['beam']} alpha "
                     f"{rows['alpha']}; {rows['bleu_signature']}")
        for key in ("keras", "tflite.fp32", "tflite.int8"):
            row = rows.get(key)
            if not row:
                continue
            text = (f"  {key:<12} BLEU {row['bleu']:6.2f}  beam {row['beam_bleu']:6.2f}  "
                    f"chrF {row['chrf']:6.2f}")
            if "bytes" in row:
                b = row["bytes"]
                text += (f"  greedy = Keras on {100 * row['greedy_agreement']:.1f} %, encoder "
                         f"{b['encoder'] / 1024:.0f} KiB + decoder {b['decoder'] / 1024:.0f} "
                         f"KiB, {row['latency_ms_per_sentence']:.1f} ms per sentence")
            lines.append(text)
        t = rows.get("training")
        if t:
            lines.append(f"  training, batch {t['batch']}: {t['steps_per_second']:.2f} steps/s, "
                         f"{t['target_tokens_per_second']:.0f} target tokens/s")
    return "\n".join(lines)
