"""Export benchmark: every shipped preset through `export.export_model`, and the adding section.

Preset section (`rnnzoo.bench.export_presets`): each shipped preset (``--presets a,b`` for
some) is exported as ``rnnzoo export`` does (its task's calibration and evaluation data and
metric) to float32, fp16, dynamic, int8 and int16x8 TFLite, sequence and step files where it
has them; per variant bytes, ratio to float32 (same kind), metric, one-thread latency; the
recommended variant and pass/miss against issue 14's size and metric targets. A preset trained
on its validation split too (a refit: ner-conll2003, sentiment-sst2, speech-digits,
speech-yesno) is scored on its test split, as ``rnnzoo export`` does
(`rnnzoo.commands.common.scoring_split`).

Adding section (the figures below, kept from before): the adding-problem LSTM, GRU and
vanilla RNN, also with their SavedModel.

The full run exports the shipped, trained presets ``adding-lstm``, ``adding-gru`` and
``adding-simple`` (T=100, 64 units): quantization error only shows on models that learned the
task (a model near the baseline predicts about 1.0 whatever its weights). ``--quick`` trains a
tiny LSTM briefly instead (plain ``keras.Model.fit``, the adding task's optimizer settings),
benched in both sections; ``--presets a,b`` benches only those presets (the adding section
holds the adding presets among them), with ``--quick`` on 100 evaluation and 20 calibration
examples. Each model is exported to SavedModel and fp32/fp16/dynamic/int8 TFLite (sequence and
step models), and verified on validation data. Per model and variant: bytes, MSE, latency
(median batch-1, one thread), and the Keras and SavedModel latencies; then the issue's targets
are checked and printed (a missed target is reported, never loosened):

* int8 file <= 0.30 of the float32 file of the same kind (step vs step, sequence vs sequence);
* int8 MSE within 2 % (relative) of the float32 TFLite MSE;
* float32 TFLite outputs within 1e-4 of Keras;
* int8 sequence latency <= 1/4 of the SavedModel ``serving_default`` latency;
* step latency, reported with its real-time factor at 100 steps/s (10 ms frames).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rnnzoo.bench.export_presets import (
    FIRST_PASS,
    SECOND_PASS,
    bench_model,
    format_rows,
    recurrent_units,
    summary_lines,
)

KINDS = ("lstm", "gru", "simple")
SIZE_TARGET, METRIC_TARGET, FLOAT_TARGET, LATENCY_TARGET = 0.30, 0.02, 1e-4, 0.25
FRAME_MS = 10.0  # real-time factor reference: one step per 10 ms frame (100 steps/s)


def _settings(quick: bool, presets: list[str] | None) -> dict:
    if quick and not presets:
        return {"kinds": ["lstm"], "length": 20, "units": 16, "train_examples": 512,
                "epochs": 1, "eval_examples": 100, "representative": 20}
    return {"length": 100, "presets": presets or _shipped_presets(),
            "eval_examples": 100 if quick else 1000, "representative": 20 if quick else 200}


def _shipped_presets() -> list[str]:
    import zoo

    return zoo.list_presets()


def parse_presets(text: str | None) -> list[str] | None:
    """``--presets a,b``: shipped preset names, checked (`UnknownNameError`)."""
    if text is None:
        return None
    from zoo.errors import UnknownNameError

    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    known = _shipped_presets()
    for name in names or [text]:
        if name not in known:
            raise UnknownNameError("preset", name, known)
    return names


def _train(kind: str, s: dict):
    import keras

    import tasks
    import zoo

    task = tasks.get_task("adding")
    keras.utils.set_random_seed(0)
    model = zoo.build(f"adding-{kind}", length=s["length"], units=s["units"])
    defaults = task.train_defaults
    model.compile(keras.optimizers.Adam(defaults.get("learning_rate", 1e-3), global_clipnorm=1.0),
                  loss=task.loss)
    train = (task.load(None, "train", length=s["length"], size=s["train_examples"])
             .shuffle(s["train_examples"], seed=0).batch(defaults.get("batch_size", 64)))
    start = time.perf_counter()
    history = model.fit(train, epochs=s["epochs"], verbose=0, shuffle=False)  # shuffled above
    return model, time.perf_counter() - start, float(history.history["loss"][-1])


def _find(report: dict, fmt: str, kind: str, quantize: str) -> dict | None:
    return next((e for e in report["artifacts"] if e["format"] == fmt and e["kind"] == kind
                 and e["quantize"] == quantize and e.get("io_dtype", "float32") == "float32"), None)


def _checks(report: dict) -> list[dict]:
    checks = []

    def add(name: str, value, target: str, passed: bool | None, why: str = "") -> None:
        checks.append({"check": name, "value": value, "target": target, "passed": passed,
                       "note": why})

    for kind in ("sequence", "step"):
        fp32, int8 = _find(report, "tflite", kind, "fp32"), _find(report, "tflite", kind, "int8")
        if fp32 and fp32["max_abs_diff"] is not None:
            add(f"fp32 {kind} max|diff| vs Keras", fp32["max_abs_diff"], f"<= {FLOAT_TARGET:g}",
                fp32["max_abs_diff"] <= FLOAT_TARGET)
        if int8 and int8.get("size_ratio") is not None:
            why = "" if int8["size_ratio"] <= SIZE_TARGET else _size_note(int8)
            add(f"int8 {kind} bytes / fp32 {kind} bytes", int8["size_ratio"],
                f"<= {SIZE_TARGET:.2f}", int8["size_ratio"] <= SIZE_TARGET, why)
        if fp32 and int8 and fp32.get("metric") and int8.get("metric"):
            base = fp32["metric"]["value"]
            relative = abs(int8["metric"]["value"] - base) / abs(base) if base else None
            add(f"int8 {kind} MSE vs fp32 (relative)", relative, f"<= {METRIC_TARGET:.0%}",
                None if relative is None else relative <= METRIC_TARGET)
    saved = _find(report, "savedmodel", "sequence", "fp32")
    int8 = _find(report, "tflite", "sequence", "int8")
    if saved and int8 and saved.get("latency_ms") and int8.get("latency_ms"):
        ratio = int8["latency_ms"] / saved["latency_ms"]
        add("int8 sequence ms / SavedModel ms", ratio, f"<= {LATENCY_TARGET:.2f}",
            ratio <= LATENCY_TARGET)
    for fmt, quantize in (("tflite", "int8"), ("tflite", "fp32"), ("savedmodel", "fp32")):
        step = _find(report, fmt, "step", quantize)
        if step and step.get("latency_ms"):
            ms = step["latency_ms"]
            add(f"{fmt} {quantize} step latency", ms, "report", None,
                f"{1000 / ms:,.0f} steps/s; real-time factor {ms / FRAME_MS:.4f} at "
                f"{1000 / FRAME_MS:.0f} steps/s")
    return checks


def _size_note(entry: dict) -> str:
    ops = entry.get("ops") or {}
    return (f"{entry['bytes']:,} bytes, made by {entry.get('method')}; builtin ops "
            f"{sum(ops.get('builtin', {}).values())}: the per-op tensors and quantization "
            "parameters are a fixed cost next to int8 weights this small")


def run(quick: bool = False, presets: list[str] | None = None) -> dict:
    s = _settings(quick, presets)
    results, rows = _tiny(s) if "presets" not in s else _presets(s)
    return {"settings": {**s, "threads": 1, "statistic": "median batch-1 latency",
                         "frame_ms": FRAME_MS, "quantize": [*FIRST_PASS, *SECOND_PASS]},
            "results": results, "presets": rows}


def _tiny(s: dict) -> tuple[list[dict], list[dict]]:
    """--quick: a tiny LSTM trained briefly, in both sections."""
    import export
    import tasks

    task = tasks.get_task("adding")
    model, seconds, loss = _train("lstm", s)

    def exporter(quantize: list[str], kinds: list[str], out: Path) -> dict:
        return export.export_model(
            model, out, formats=["savedmodel", "tflite"] if "fp32" in quantize else ["tflite"],
            quantize=quantize, kinds=kinds,
            representative=task.representative(None, s["representative"], length=s["length"]),
            dataset=task.load(None, "validation", length=s["length"]).take(s["eval_examples"]),
            metric=task.metric, metric_name=task.primary_metric, name="adding-lstm",
            metadata={"task": "adding", "data_options": {"length": s["length"]}})

    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-export-") as work:
        row, report = bench_model("adding-lstm", exporter, Path(work), units=s["units"],
                                  lower_is_better=task.lower_is_better)
    return ([{"model": "adding-lstm", "train_seconds": seconds, "train_loss": loss,
              "report": report, "checks": _checks(report)}], [row])


def _presets(s: dict) -> tuple[list[dict], list[dict]]:
    """Every preset of ``s["presets"]``; the adding presets also in the adding section."""
    import zoo
    from rnnzoo.commands.common import scoring_split, task_of
    from rnnzoo.commands.export import export_preset

    results, rows = [], []
    for number, name in enumerate(s["presets"], 1):
        print(f"bench export: [{number}/{len(s['presets'])}] {name} ...", file=sys.stderr,
              flush=True)
        try:
            preset = zoo.load(name)
            task = task_of(preset)
            adding = task.name == "adding"
            split = scoring_split(task, preset.card.get("data_options"), None)[0]

            def exporter(quantize: list[str], kinds: list[str], out: Path,
                         name: str = name, adding: bool = adding, split: str = split) -> dict:
                formats = ["savedmodel", "tflite"] if adding and "fp32" in quantize else ["tflite"]
                return export_preset(name, str(out), formats=formats, quantize=quantize,
                                     kinds=kinds, split=split, eval_examples=s["eval_examples"],
                                     representative=s["representative"])[0]

            with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-export-") as work:
                row, report = bench_model(name, exporter, Path(work),
                                          units=recurrent_units(preset.model),
                                          lower_is_better=task.lower_is_better)
        except Exception as error:  # noqa: BLE001 - one preset's failure is a result
            rows.append({"preset": name, "error": f"{type(error).__name__}: {error}"})
            print(f"bench export: {name} failed: {error}", file=sys.stderr, flush=True)
            continue
        row["split"] = split
        rows.append(row)
        print("\n".join([f"bench export: {name} done in {row['seconds']:.0f} s",
                         *format_rows([row])[1:]]), file=sys.stderr, flush=True)
        if adding:
            test_mse = preset.card.get("metrics", {}).get("keras", {}).get("mse")
            results.append({"model": name, "train_seconds": None, "train_loss": test_mse,
                            "report": report, "checks": _checks(report)})
    return results, rows


def table(result: dict) -> str:
    s = result["settings"]
    lines = [f"export: {len(result.get('presets', []))} model(s), TFLite "
             f"{', '.join(s.get('quantize', []))}; metric on {s['eval_examples']} validation "
             f"examples (test for presets trained on validation too); latency median batch-1 "
             f"ms, 1 thread (sequence: per sequence; step: per step; encoder: per input; "
             f"decoder: per step)"]
    lines += format_rows(result.get("presets", []))
    lines += summary_lines(result.get("presets", []))
    if result["results"]:
        lines += ["", *_adding_table(result)]
    return "\n".join(lines)


def _adding_table(result: dict) -> list[str]:
    s = result["settings"]
    source = (
        f"shipped presets {', '.join(r['model'] for r in result['results'])}"
        if "presets" in s
        else f"{s['units']} units trained {s['epochs']} epoch(s) on {s['train_examples']} examples"
    )
    lines = [f"adding section: T={s['length']}, {source}; MSE on "
             f"{s['eval_examples']} validation examples; latency median batch-1 ms, 1 thread"]
    for row in result["results"]:
        report = row["report"]
        keras_entry = report["keras"]
        lines.append("")
        origin = ("shipped preset, card test MSE " + f"{row['train_loss']:.3g}"
                  if row["train_seconds"] is None else
                  f"trained {row['train_seconds']:.0f} s, train loss {row['train_loss']:.4f}")
        lines.append(f"{row['model']} ({origin})  Keras: MSE {keras_entry['metric']['value']:.5f}, "
                     f"model(x) {_ms(keras_entry.get('latency_ms'))} ms, predict_on_batch "
                     f"{_ms(keras_entry.get('predict_latency_ms'))} ms")
        lines.append(f"  {'format':<11}{'kind':<9}{'quantize':<9}{'bytes':>10}{'ratio':>7}"
                     f"{'MSE':>10}{'max|diff|':>11}{'ms':>9}")
        for e in report["artifacts"]:
            value = e["metric"]["value"] if e.get("metric") else None
            ratio = "-" if e.get("size_ratio") is None else f"{e['size_ratio']:.3f}"
            diff = "-" if e.get("max_abs_diff") is None else f"{e['max_abs_diff']:.1e}"
            lines.append(f"  {e['format']:<11}{e['kind']:<9}{e['quantize']:<9}{e['bytes']:>10,}"
                         f"{ratio:>7}{'-' if value is None else f'{value:.5f}':>10}{diff:>11}"
                         f"{_ms(e.get('latency_ms')):>9}")
        for c in row["checks"]:
            mark = {True: "PASS", False: "MISS", None: "info"}[c["passed"]]
            value = c["value"]
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            if c["passed"] is None and c["target"] == "report":
                lines.append(f"  [info] {c['check']}: {shown} ms ({c['note']})")
                continue
            note = f"  ({c['note']})" if c["note"] else ""
            lines.append(f"  [{mark}] {c['check']}: {shown} (target {c['target']}){note}")
    return lines


def _ms(value) -> str:
    return "-" if value is None else f"{value:.3f}"
