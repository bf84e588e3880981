"""``rnnzoo bench text-sentiment``: the ``sentiment-sst2`` preset on the SST-2 test split.

1. Accuracy of Keras and of the float32 and int8 TFLite files (the default export: the int8
   file comes from an unrolled graph, bidirectional layers having no step form), and the
   latency per example (batch 1, one thread; the Keras figure is ``predict_on_batch``).
2. Training throughput of the preset's model: optimizer steps, examples and tokens per second
   (tokens: the real, non-padding ones, and all time steps with the padding).
3. The gain from language-model pretraining: validation (SST-2 dev) accuracy of the
   classifier fine-tuned from the word language model and of the same recipe from scratch,
   from the two runs' recorded figures (the card's ``pretraining`` entry).

``--quick`` scores the first 200 test sentences (not the test figure) and times fewer steps.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rnnzoo.commands.export import CALIBRATION_EXAMPLES
from rnnzoo.runtime import dash_formatter

PRESET = "sentiment-sst2"
TARGET_ACCURACY = 0.85
INT8_TOLERANCE = 0.01


def _data() -> Path:
    from tasks.common.data_paths import data_root

    root = data_root()
    if root is None or not (root / "sentiment" / "sst2").is_dir():
        raise FileNotFoundError("the sentiment/sst2 folder of ../shared/data (or $RNNZOO_DATA) "
                                "is not there; the text-sentiment benchmark needs it")
    return root / "sentiment" / "sst2"


def accuracy(preset, quick: bool, folder: Path) -> dict:
    """Part 1: test accuracy of Keras and the float32 and int8 TFLite files; latency."""
    import export
    import tasks

    task = tasks.get_task("sentiment")
    options = preset.card.get("data_options", {})
    test = task.load(_data(), "test", **options)
    if quick:
        test = test.take(200)
    report = export.export_model(
        preset.model, folder / "export", formats=["tflite"], quantize=["fp32", "int8"],
        kinds=["sequence"],
        representative=task.representative(_data(), CALIBRATION_EXAMPLES, **options),
        dataset=test, metric=task.metric, metric_name="accuracy", name=PRESET, latency=True)
    keras_figures = task.metric(preset.model.predict_on_batch, test)
    rows = {"keras": {"accuracy": keras_figures["accuracy"],
                      "latency_ms": (report.get("keras") or {}).get("predict_latency_ms")}}
    for entry in report["artifacts"]:
        rows[Path(entry["path"]).stem] = {
            "accuracy": (entry.get("metric") or {}).get("value"), "bytes": entry.get("bytes"),
            "latency_ms": entry.get("latency_ms"), "method": entry.get("method"),
            "max_abs_diff": entry.get("max_abs_diff")}
    int8 = rows.get("sequence.int8", {}).get("accuracy")
    return {"examples": keras_figures["examples"],
            "subset": "first 200 test sentences (quick)" if quick else None,
            "figures": rows, "target_accuracy": TARGET_ACCURACY,
            "meets_target": keras_figures["accuracy"] >= TARGET_ACCURACY,
            "int8_within_1_point": (None if int8 is None else
                                    abs(int8 - keras_figures["accuracy"]) <= INT8_TOLERANCE),
            "notes": report.get("notes", [])}


def training_throughput(preset, quick: bool) -> dict:
    """Part 2: steps, examples and tokens per second of the preset's model on SST-2 train."""
    import keras

    import tasks
    import zoo

    task = tasks.get_task("sentiment")
    from tasks.sentiment import encoded

    options = preset.card.get("data_options", {})
    ids, labels = encoded(_data(), "train", **options)
    batch = 32
    keras.utils.set_random_seed(0)
    model = zoo.build(preset.builder, **preset.config["config"])
    model.compile(keras.optimizers.Adam(1e-3, global_clipnorm=1.0), loss=task.loss)
    steps = 10 if quick else 100
    x, y = ids[:batch * steps], labels[:batch * steps]
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    done = len(x) // batch
    return {"builder": preset.builder, "batch": batch, "max_length": int(ids.shape[1]),
            "parameters": int(model.count_params()), "steps_per_second": done / seconds,
            "examples_per_second": done * batch / seconds,
            "tokens_per_second": float((x[:done * batch] != 0).sum()) / seconds,
            "positions_per_second": done * batch * ids.shape[1] / seconds}


def pretraining(preset) -> dict:
    """Part 3: dev accuracy with and without language-model pretraining (recorded)."""
    recorded = preset.card.get("pretraining")
    if not isinstance(recorded, dict):
        return {"recorded": False,
                "note": f"the {PRESET} card has no 'pretraining' entry (the two runs' figures)"}
    with_lm = recorded.get("with_lm", {}).get("dev_accuracy")
    without = recorded.get("without_lm", {}).get("dev_accuracy")
    gain = None if with_lm is None or without is None else with_lm - without
    distilled = recorded.get("distillation", {}).get("dev_accuracy")
    distillation_gain = None if distilled is None or with_lm is None else distilled - with_lm
    return {"recorded": True, **recorded, "gain_dev_accuracy": gain,
            "distillation_gain_dev_accuracy": distillation_gain}


def run(quick: bool = False) -> dict:
    import zoo

    preset = zoo.load(PRESET)
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-sentiment-") as temp:
        return {"settings": {"quick": quick, "tflite_threads": 1, "preset": PRESET},
                "accuracy": accuracy(preset, quick, Path(temp)),
                "training": training_throughput(preset, quick),
                "pretraining": pretraining(preset)}


_f = dash_formatter(".3f")  # a table cell: the value, or "-" when missing


def table(result: dict) -> str:
    a = result["accuracy"]
    lines = [f"text-sentiment: {result['settings']['preset']} on SST-2 test "
             f"({a['examples']} sentences); target accuracy >= {a['target_accuracy']:.2f}, "
             "int8 within 1 point"]
    if a.get("subset"):
        lines.append(f"on the {a['subset']}: not the test figure")
    lines.append(f"{'model':<18}{'accuracy':>9}{'KiB':>8}{'ms/example':>12}")
    for name, row in a["figures"].items():
        size = row.get("bytes")
        lines.append(f"{name:<18}{_f(row.get('accuracy'), '.4f'):>9}"
                     f"{_f(size / 1024 if size else None, '.0f'):>8}"
                     f"{_f(row.get('latency_ms'), '.3f'):>12}")
    lines.append(f"Keras {'meets' if a['meets_target'] else 'MISSES'} the accuracy target; "
                 f"int8 within 1 point: {a['int8_within_1_point']}")
    t = result["training"]
    lines += ["", f"training ({t['builder']}, batch {t['batch']}, {t['max_length']} steps, "
                  f"{t['parameters']:,} parameters): {t['steps_per_second']:.1f} steps/s, "
                  f"{t['examples_per_second']:.0f} sentences/s, {t['tokens_per_second']:.0f} "
                  f"tokens/s ({t['positions_per_second']:.0f} time steps/s with padding)"]
    p = result["pretraining"]
    if p.get("recorded"):
        with_lm = _f(p["with_lm"].get("dev_accuracy"), ".4f")
        without = _f(p["without_lm"].get("dev_accuracy"), ".4f")
        seeds = len(p["with_lm"].get("dev_accuracy_per_seed") or []) or "?"
        lines.append(f"LM pretraining (the card's recorded runs, mean of {seeds} seeds): dev "
                     f"accuracy {with_lm} fine-tuned from the word LM, {without} from scratch: "
                     f"gain {_f(p['gain_dev_accuracy'], '+.4f')}")
        if p.get("distillation_gain_dev_accuracy") is not None:
            lines.append(f"distillation: dev accuracy "
                         f"{_f(p['distillation']['dev_accuracy'], '.4f')} distilled from the "
                         f"teachers, gain over the word LM alone "
                         f"{_f(p['distillation_gain_dev_accuracy'], '+.4f')}")
    else:
        lines.append(f"LM pretraining: {p['note']}")
    return "\n".join(lines)
