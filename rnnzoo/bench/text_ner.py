"""``rnnzoo bench text-ner``: named entities on CoNLL-2003.

1. Entity-level F1 (seqeval) on the test split of ../shared/data/conll2003_ner for the
   ``ner-conll2003`` preset in Keras and in its float32 and int8 TFLite files (the Viterbi
   decode runs inside the files), with file sizes and latency per sentence on one thread
   (batch 1, the preset's padded length). Where the preset is not shipped, a model trained
   here for a few epochs with its recipe stands in (the table says so).
2. Training throughput of the preset's model: optimizer steps, sentences and real tokens
   per second (the padded positions are computed too, and counted apart).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rnnzoo.commands.export import CALIBRATION_EXAMPLES
from rnnzoo.runtime import dash_formatter

PRESET = "ner-conll2003"
FOLDER = "conll2003_ner"
# the model options of the preset's training command (its card's training_command)
RECIPE = {"data": {"max_length": 64}, "model": {"word_dim": 80, "units": 100, "dropout": 0.5},
          "training": {"batch_size": 32, "learning_rate": 2e-3, "clipnorm": 5.0}}


def _folder() -> Path:
    from tasks.common.data_paths import data_root

    root = data_root()
    if root is None or not (root / FOLDER).is_dir():
        raise FileNotFoundError(f"the {FOLDER} folder of ../shared/data (or $RNNZOO_DATA) is "
                                "not there; the text-ner benchmark needs it")
    return root / FOLDER


def _model(quick: bool, folder: Path, work: Path):
    """The preset, or a model trained here with its recipe; its data options; the source."""
    import zoo

    try:
        preset = zoo.load(PRESET)
        return preset.model, preset.card.get("data_options", {}), f"preset {PRESET}"
    except Exception as error:  # noqa: BLE001 - not shipped yet: train with the recipe
        reason = f"{type(error).__name__}: {error}"
    import contextlib
    import io

    import tasks
    from tasks.common.fit import fit
    from tasks.ner.data import vocabularies

    task = tasks.get_task("ner")
    config = {**vocabularies(folder), **RECIPE["data"], **RECIPE["model"]}
    options = {k: config[k] for k in ("words", "characters", "tags", "max_length")}
    epochs = 1 if quick else 3
    train = task.load(folder, "train", **options)
    if quick:
        train = train.take(1024)
    with contextlib.redirect_stdout(io.StringIO()):
        result = fit(lambda: zoo.build("ner-bilstm-crf", **config), train,
                     task.load(folder, "validation", **options), out_dir=work / "train",
                     loss=task.loss, epochs=epochs, batch_size=RECIPE["training"]["batch_size"],
                     learning_rate=RECIPE["training"]["learning_rate"],
                     clipnorm=RECIPE["training"]["clipnorm"], verbose=0, tensorboard=False)
    model = result.model
    model.rnnzoo_builder, model.rnnzoo_config = "ner-bilstm-crf", config
    return model, options, (f"trained here with the recipe of {PRESET} ({epochs} epoch(s), "
                            f"{result.seconds:.0f} s; the preset: {reason})")


def scores(quick: bool, folder: Path, work: Path) -> tuple[dict, object, dict]:
    """Part 1: test F1 of Keras and of the float32 and int8 files; sizes and latency."""
    import export
    import tasks

    task = tasks.get_task("ner")
    model, options, source = _model(quick, folder, work)
    test = task.load(folder, "test", **options)
    if quick:
        test = test.take(200)
    metric = task.metric_with(options)
    keras_figures = metric(model.predict_on_batch, test)
    calibration = task.representative(folder, 50 if quick else CALIBRATION_EXAMPLES, **options)
    report = export.export_model(
        model, work / "export", formats=["tflite"], quantize=["fp32", "int8"],
        kinds=["sequence"], representative=calibration,
        dataset=test, metric=metric, metric_name="f1", name=PRESET, latency=True)
    rows = {"keras": {"f1": keras_figures["f1"], "precision": keras_figures["precision"],
                      "recall": keras_figures["recall"],
                      "latency_ms": (report.get("keras") or {}).get("predict_latency_ms")}}
    for entry in report["artifacts"]:
        rows[Path(entry["path"]).stem] = {
            "f1": (entry.get("metric") or {}).get("value"), "bytes": entry.get("bytes"),
            "latency_ms": entry.get("latency_ms"), "quantize": entry["quantize"],
            "method": entry.get("method")}
    return {"source": source, "split": "test", "sentences": keras_figures["sentences"],
            "entities": keras_figures["entities"],
            "subset": "first 200 test sentences (quick)" if quick else None,
            "per_type_f1": {k[3:]: v for k, v in keras_figures.items() if k.startswith("f1_")},
            "figures": rows, "notes": report.get("notes", [])}, model, options


def training_throughput(model, options: dict, folder: Path, quick: bool) -> dict:
    """Part 2: steps, sentences and real tokens per second of the model's training step."""
    import keras
    import numpy as np

    import zoo
    from tasks.common.optimizer import GlobalClipAdam
    from tasks.ner.data import encoder, sentences

    batch = RECIPE["training"]["batch_size"]
    steps = 5 if quick else 40
    coder = encoder(folder, **{k: options[k] for k in ("words", "characters", "tags",
                                                       "max_length") if k in options})
    picked = sentences(folder, "train")[: batch * steps]
    x, y = coder.encode(picked, "train")
    keras.utils.set_random_seed(0)
    fresh = zoo.build(model.rnnzoo_builder, **model.rnnzoo_config)
    fresh.compile(GlobalClipAdam(1e-3, global_clipnorm=5.0), loss="mse")
    fresh.fit(x, y, batch_size=batch, epochs=1, steps_per_epoch=2, verbose=0)  # compile
    start = time.perf_counter()
    fresh.fit(x, y, batch_size=batch, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    tokens = int(np.count_nonzero(x["words"][: batch * steps]))
    return {"builder": model.rnnzoo_builder, "batch": batch,
            "max_length": int(x["words"].shape[1]), "parameters": int(fresh.count_params()),
            "steps_per_second": steps / seconds, "sentences_per_second": steps * batch / seconds,
            "tokens_per_second": tokens / seconds,
            "padded_positions_per_second": steps * batch * x["words"].shape[1] / seconds}


def run(quick: bool = False) -> dict:
    folder = _folder()
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-ner-") as temp:
        part, model, options = scores(quick, folder, Path(temp))
        return {"settings": {"quick": quick, "tflite_threads": 1, "tflite_batch": 1},
                "ner": part, "training": training_throughput(model, options, folder, quick)}


_f = dash_formatter(".2f")  # a table cell: the value, or "-" when missing


def table(result: dict) -> str:
    p = result["ner"]
    lines = [f"text-ner: CoNLL-2003 {p['split']} ({p['sentences']:.0f} sentences, "
             f"{p['entities']:.0f} entities), entity-level F1 (seqeval); {p['source']}"]
    if p.get("subset"):
        lines.append(f"on the {p['subset']}: not the test figure")
    lines.append(f"{'model':<22}{'F1':>8}{'KiB':>9}{'ms/sentence':>13}")
    for name, row in p["figures"].items():
        size = row.get("bytes")
        kib = _f(size / 1024 if size else None, ".0f")
        lines.append(f"{name:<22}{_f(row.get('f1')):>8}{kib:>9}"
                     f"{_f(row.get('latency_ms'), '.3f'):>13}")
    lines.append("per type F1: " + ", ".join(f"{k.upper()} {v:.2f}"
                                             for k, v in p["per_type_f1"].items()))
    t = result["training"]
    lines += ["", f"training ({t['builder']}, batch {t['batch']}, {t['max_length']} positions, "
                  f"{t['parameters']:,} parameters): {t['steps_per_second']:.2f} steps/s, "
                  f"{t['sentences_per_second']:.0f} sentences/s, {t['tokens_per_second']:.0f} "
                  f"tokens/s ({t['padded_positions_per_second']:.0f} padded positions/s)"]
    return "\n".join(lines)
