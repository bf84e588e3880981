"""The export benchmark's preset section: every TFLite variant of a model, judged on targets.

For one model (a shipped preset, or the quick run's tiny LSTM) every TFLite variant is made
through `export.export_model` (fp32, fp16, dynamic and int8 first, as ``rnnzoo export``
makes them; then int16x8 alone, because a model that refuses it refuses the whole export)
and summarized per variant: bytes, ratio to the float32 file of the same kind, the task
metric on the evaluation data, one-thread batch-1 latency. Then:

* the recommended variant of each kind: the smallest file whose metric is within the task's
  tolerance of the Keras model (`TOLERANCES`; only a loss counts, a gain is within);
* the issue-14 targets: int8 bytes <= 0.30 of float32 (same kind) for models of 128 units or
  more, <= 0.40 for smaller ones; int8 metric within tolerance.

What the model cannot have (no step form; int16x8 with float front ends or ops without a
16-bit kernel) is listed as refused with the exporter's reason, not as a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

# metric name -> (how: "points" absolute or "relative", amount, words)
TOLERANCES: dict[str, tuple[str, float, str]] = {
    "accuracy": ("points", 0.01, "accuracy within 1 point"),
    "wer": ("points", 0.01, "WER within 1 point"),
    "f1": ("points", 1.0, "F1 (%) within 1 point"),
    "bleu": ("points", 1.5, "BLEU within 1.5"),
    "bleu4": ("points", 0.015, "BLEU within 1.5 (BLEU-4 as a fraction)"),
    "nll": ("relative", 0.01, "NLL within 1 %"),
    "pitch_nll": ("relative", 0.01, "pitch NLL within 1 %"),
    "nats_per_char": ("relative", 0.01, "nats/char within 1 %"),
    "mse": ("relative", 0.02, "MSE within 2 % (the export bench's target)"),
    "mae": ("relative", 0.02, "MAE within 2 % (as MSE)"),
    "mase": ("relative", 0.02, "MASE within 2 % (as MSE)"),
}
DEFAULT_TOLERANCE = ("relative", 0.01, "within 1 % (no tolerance stated for this metric)")
LARGE_UNITS, LARGE_TARGET, SMALL_TARGET = 128, 0.30, 0.40
FIRST_PASS = ("fp32", "fp16", "dynamic", "int8")
SECOND_PASS = ("int16x8",)
KINDS = ("sequence", "step")
SCORED_KINDS = ("sequence", "step", "parts")  # kinds whose entries carry the metric
SHORT = {"sequence": "seq", "step": "step", "parts": "pair"}
KIND_ORDER = {k: i for i, k in enumerate(("sequence", "step", "encoder", "decoder", "parts"))}

Exporter = Callable[[list[str], list[str], Path], dict]  # (quantize, kinds, out) -> report


def tolerance(metric: str) -> dict:
    """The task tolerance for ``metric``: ``how`` (points or relative), ``amount``, ``text``."""
    how, amount, text = TOLERANCES.get(metric, DEFAULT_TOLERANCE)
    return {"how": how, "amount": amount, "text": text}


def within(value: float | None, reference: float, lower_is_better: bool, rule: dict) -> bool | None:
    """Whether ``value`` loses no more than ``rule`` allows against ``reference`` (None: no
    value)."""
    if value is None:
        return None
    loss = value - reference if lower_is_better else reference - value
    allowed = rule["amount"] * (abs(reference) if rule["how"] == "relative" else 1.0)
    return loss <= allowed + 1e-12


def size_target(units: int | None) -> float:
    """The int8/float32 bytes target for a model whose widest recurrent layer has ``units``."""
    return LARGE_TARGET if units is not None and units >= LARGE_UNITS else SMALL_TARGET


def recurrent_units(model) -> int | None:
    """Units of the widest recurrent layer of ``model`` (None when it has none)."""
    import keras

    units = [layer.units for layer in model._flatten_layers(include_self=False, recursive=True)
             if isinstance(layer, keras.layers.RNN) and isinstance(getattr(layer, "units", None),
                                                                   int)]
    return max(units) if units else None


def _refusals(report: dict, modes: tuple[str, ...]) -> list[dict]:
    """Variants the export left out, from its notes ("no step model: ...", "no sequence.int8
    file: ...")."""
    refused = []
    for note in report.get("notes", []):
        if note.startswith("no step model:"):
            refused += [{"variant": f"step.{m}", "reason": note} for m in modes]
        elif note.startswith("no sequence.") and " file:" in note:
            refused.append({"variant": note.split()[1], "reason": note})
    return refused


def variants(reports: list[dict]) -> list[dict]:
    """One row per TFLite file (and per encoder+decoder pair) of ``reports``, float io only;
    ratios over the float32 file of the same kind, across the reports."""
    entries = [e for r in reports for e in r["artifacts"]
               if e["format"] == "tflite" and e.get("io_dtype", "float32") == "float32"]
    base = {e["kind"]: e["bytes"] for e in entries if e["quantize"] == "fp32"}
    order = {q: i for i, q in enumerate(FIRST_PASS + SECOND_PASS)}
    entries.sort(key=lambda e: (KIND_ORDER.get(e["kind"], 9), order.get(e["quantize"], 9)))
    rows = []
    for e in entries:
        notes = [n for n in e.get("notes", []) if "XNNPACK" in n or n.startswith(
            ("not run", "cannot load", "latency not measured"))]
        rows.append({"kind": e["kind"], "quantize": e["quantize"], "file": Path(e["path"]).name,
                     "bytes": e["bytes"], "method": e.get("method"),
                     "ratio": e["bytes"] / base[e["kind"]] if base.get(e["kind"]) else None,
                     "metric": e["metric"]["value"] if e.get("metric") else None,
                     "latency_ms": e.get("latency_ms"), "notes": notes})
    return rows


def summarize(name: str, reports: list[dict], refused: list[dict], *, units: int | None,
              lower_is_better: bool) -> dict:
    """The preset's row: variants, refusals, recommendation per kind and checks."""
    metric = reports[0]["metric"]
    reference = reports[0]["keras"]["metric"]["value"]
    rule = tolerance(metric)
    rows = variants(reports)
    for row in rows:
        row["delta"] = None if row["metric"] is None else row["metric"] - reference
        row["within"] = within(row["metric"], reference, lower_is_better, rule)
    target = size_target(units)
    recommended, checks = {}, []
    for kind in SCORED_KINDS:
        of_kind = [r for r in rows if r["kind"] == kind]
        if not of_kind:
            continue
        good = sorted((r for r in of_kind if r["within"]), key=lambda r: r["bytes"])
        recommended[kind] = good[0]["quantize"] if good else None
        int8 = next((r for r in of_kind if r["quantize"] == "int8"), None)
        if int8 is None:
            why = next((f["reason"] for f in refused if f["variant"] == f"{kind}.int8"),
                       "no int8 file")
            passed = False if why.startswith("export failed") else None
            checks.append(_check(f"int8 {kind} bytes / fp32", None, f"<= {target:.2f}", passed,
                                 why if passed is False else f"refused: {why}"))
            continue
        checks.append(_check(f"int8 {kind} bytes / fp32", int8["ratio"], f"<= {target:.2f}",
                             None if int8["ratio"] is None else int8["ratio"] <= target,
                             f"{units or 'no recurrent'} units"))
        checks.append(_check(f"int8 {kind} {metric}", int8["metric"], rule["text"],
                             int8["within"], "not scored: " + "; ".join(int8["notes"])
                             if int8["metric"] is None else f"Keras {reference:.5g}"))
    return {"preset": name, "metric": metric, "lower_is_better": lower_is_better,
            "keras": reports[0]["keras"], "tolerance": rule, "units": units,
            "size_target": target, "variants": rows, "refused": refused,
            "recommended": recommended, "checks": checks,
            "notes": list(dict.fromkeys(n for r in reports for n in r.get("notes", [])))}


def _check(name: str, value, target: str, passed: bool | None, note: str) -> dict:
    return {"check": name, "value": value, "target": target, "passed": passed, "note": note}


def bench_model(name: str, exporter: Exporter, work: Path, *, units: int | None,
                lower_is_better: bool, kinds: tuple[str, ...] = KINDS) -> tuple[dict, dict]:
    """Export ``name`` through ``exporter`` in two passes and summarize; returns the row and
    the first pass's full report (the adding section reads it)."""
    start = time.perf_counter()
    failed: list[dict] = []
    try:
        first = exporter(list(FIRST_PASS), list(kinds), work / f"{name}-a")
        reports = [first]
    except Exception:  # noqa: BLE001 - then mode by mode, to keep what works
        first = exporter(["fp32"], list(kinds), work / f"{name}-fp32")
        reports = [first]
        for mode in FIRST_PASS[1:]:
            try:
                reports.append(exporter([mode], list(kinds), work / f"{name}-{mode}"))
            except Exception as error:  # noqa: BLE001 - a failed variant is a result
                failed += [{"variant": f"{k}.{mode}", "reason": f"export failed: {error}"}
                           for k in kinds]
    refused = _refusals(first, FIRST_PASS + SECOND_PASS) + failed
    in_parts = any(e["kind"] in ("encoder", "decoder") for e in first["artifacts"])
    for mode in SECOND_PASS:
        if in_parts:  # one encoder+decoder pair, whatever the kinds
            refused += _second_pass(name, exporter, mode, [kinds[0]], work, reports,
                                    label="parts")
            continue
        wanted = [k for k in kinds if f"{k}.{mode}" not in {f["variant"] for f in refused}]
        refused += _second_pass(name, exporter, mode, wanted, work, reports)
    row = summarize(name, reports, refused, units=units, lower_is_better=lower_is_better)
    row["seconds"] = time.perf_counter() - start
    return row, first


def _second_pass(name: str, exporter: Exporter, mode: str, kinds: list[str], work: Path,
                 reports: list[dict], label: str | None = None) -> list[dict]:
    """Export ``mode`` for ``kinds`` together, else kind by kind; the refusals (named
    ``label`` instead of the kind, if given)."""
    if not kinds:
        return []
    try:
        reports.append(exporter([mode], kinds, work / f"{name}-{mode}-{'-'.join(kinds)}"))
        return []
    except Exception as error:  # noqa: BLE001 - a refusal is a result, with its reason
        if len(kinds) == 1:
            return [{"variant": f"{label or kinds[0]}.{mode}", "reason": f"{error}"}]
    refused = []
    for kind in kinds:
        refused += _second_pass(name, exporter, mode, [kind], work, reports)
    return refused


def format_rows(rows: list[dict]) -> list[str]:
    """The preset section of the table: one block per preset, then a summary line each."""
    lines = []
    for row in rows:
        lines.append("")
        if "error" in row:
            lines.append(f"{row['preset']}: FAILED: {row['error']}")
            continue
        keras_ms = row["keras"].get("latency_ms")
        lines.append(f"{row['preset']} ({row['units'] or 'no recurrent'} units; {row['metric']}"
                     f" {'lower' if row['lower_is_better'] else 'higher'} is better, "
                     f"{row['tolerance']['text']}; Keras {row['keras']['metric']['value']:.5g}"
                     f" on {row.get('split', 'validation')}"
                     f"{'' if keras_ms is None else f', model(x) {keras_ms:.1f} ms'}; "
                     f"{row.get('seconds', 0):.0f} s)")
        lines.append(f"  {'kind':<9}{'quantize':<9}{'bytes':>11}{'ratio':>7}{row['metric']:>14}"
                     f"{'delta':>11}{'ok':>4}{'ms':>10}  method")
        for v in row["variants"]:
            ok = {True: "yes", False: "NO", None: "-"}[v["within"]]
            lines.append(f"  {v['kind']:<9}{v['quantize']:<9}{v['bytes']:>11,}"
                         f"{_num(v['ratio'], '.3f'):>7}{_num(v['metric'], '.5g'):>14}"
                         f"{_num(v['delta'], '+.2e'):>11}{ok:>4}"
                         f"{_num(v['latency_ms'], '.3f'):>10}  {v['method'] or ''}")
            lines += [f"      note: {n}" for n in v["notes"]]
        by_reason: dict[str, list[str]] = {}
        for f in row["refused"]:
            by_reason.setdefault(f["reason"], []).append(f["variant"])
        for reason, names in by_reason.items():
            lines.append(f"  refused {', '.join(names)}: {reason}")
        shown = ", ".join(f"{k} {q or 'none within tolerance'}"
                          for k, q in row["recommended"].items())
        lines.append(f"  recommended: {shown}")
        for c in row["checks"]:
            mark = {True: "PASS", False: "MISS", None: "----"}[c["passed"]]
            value = "-" if c["value"] is None else f"{c['value']:.4g}"
            lines.append(f"  [{mark}] {c['check']}: {value} (target {c['target']}; {c['note']})")
    return lines


def summary_lines(rows: list[dict]) -> list[str]:
    """One line per preset: int8 ratio and metric verdict per kind, recommendation."""
    lines = ["", f"{'preset':<26}{'units':>6}  {'int8 bytes/fp32 (target)':<42}"
                 f"{'int8 metric':<20}recommended"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['preset']:<26}{'':>6}  FAILED")
            continue
        sizes, metrics = [], []
        for c in row["checks"]:
            kind = c["check"].split()[1]
            mark = {True: "ok", False: "MISS", None: "-"}[c["passed"]]
            if "bytes" in c["check"]:
                sizes.append(f"{SHORT[kind]} {_num(c['value'], '.2f')} {mark}")
            else:
                metrics.append(f"{SHORT[kind]} {mark}")
        shown = ", ".join(f"{SHORT[k]} {q or '-'}" for k, q in row["recommended"].items())
        size = "; ".join(sizes) + f" (<={row['size_target']:.2f})"
        lines.append(f"{row['preset']:<26}{row['units'] or '-':>6}  {size:<42}"
                     f"{'; '.join(metrics):<20}{shown}")
    return lines


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
