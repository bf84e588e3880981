"""``report.json`` and its printed table.

The report (made by `export.verify`) has ``model``, ``metric`` (its name), ``keras`` (metric and
one-thread latencies of the Keras model: ``latency_ms`` for ``model(x)`` on one example,
``predict_latency_ms`` for ``predict_on_batch``), ``notes``, and ``artifacts``: one entry per
artifact (a SavedModel gives one for each signature) with ``format``, ``quantize``, ``kind``,
``path``, ``bytes``, ``size_ratio`` (over the float32 TFLite file of the same kind),
``io_dtype``, ``method``, ``metric`` (``name``, ``value``), ``metric_delta`` (minus Keras),
``max_abs_diff``, ``latency_ms`` (median, batch 1, one thread; per sequence or per step) and
``ops`` (TFLite: ``builtin`` counts, ``float``: the ops computing in float, ``flex``,
``custom``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write ``report`` as indented JSON at ``path``."""
    path = Path(path)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def _num(value, spec: str, empty: str = "-") -> str:
    return empty if value is None else format(value, spec)


def format_table(report: dict) -> str:
    """The report as a text table, one line per artifact, then the notes."""
    keras_entry = report["keras"]
    metric = report["metric"]
    lines = [
        f"{report['model']}: {metric} on the evaluation data; latency = median batch-1 ms, "
        f"{report['threads']} thread(s)",
        f"keras: {metric} {keras_entry['metric']['value']:.6g}, model(x) "
        f"{_num(keras_entry.get('latency_ms'), '.3f')} ms, predict_on_batch "
        f"{_num(keras_entry.get('predict_latency_ms'), '.3f')} ms",
        f"{'format':<11}{'kind':<9}{'quantize':<14}{'bytes':>10}{'ratio':>7}{metric:>11}"
        f"{'delta':>11}{'max|diff|':>11}{'ms':>9}  float ops",
    ]
    for e in report["artifacts"]:
        quantize = e["quantize"] + ("/int8io" if e.get("io_dtype") == "int8" else "")
        value = e["metric"]["value"] if e.get("metric") else None
        ops = e.get("ops") or {}
        float_ops = ",".join(ops.get("float", [])) if ops else ""
        if ops and not float_ops:
            float_ops = "none"
        if ops.get("flex"):
            float_ops += f" flex:{','.join(ops['flex'])}"
        lines.append(
            f"{e['format']:<11}{e['kind']:<9}{quantize:<14}{e['bytes']:>10,}"
            f"{_num(e.get('size_ratio'), '.3f'):>7}{_num(value, '.5g'):>11}"
            f"{_num(e.get('metric_delta'), '+.2e'):>11}{_num(e.get('max_abs_diff'), '.2e'):>11}"
            f"{_num(e.get('latency_ms'), '.3f'):>9}  {float_ops}")
    notes = list(report.get("notes", []))
    for e in report["artifacts"]:
        notes += [f"{e['path']}: {n}" for n in e.get("notes", [])]
    lines += [f"note: {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines)
