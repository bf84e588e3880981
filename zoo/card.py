"""Render a preset's ``card.json`` as ``card.md`` for people.

Card keys that get their own section (all optional; others are listed at the end):
``name``, ``builder``, ``summary`` (or ``description``), ``task``, ``dataset``, ``data``
(``{"name", "path"}`` relative to the data root, or ``{"name", "given"}``), ``split``,
``data_options``, ``metrics`` (``{metric: value}`` or ``{variant: {metric: value}}``, e.g.
variants ``keras``, ``tflite-int8``), ``training_command``, ``license`` (``{"data": ...,
"weights": ...}``; ``data_license`` / ``weights_license`` also work), ``files``
(``{relative path: sha256}``), ``external_weights`` (``{layer: source}`` of frozen parts the
weights file leaves out, `zoo.external_weights`).
"""

from __future__ import annotations

import json
from typing import Any

_SECTIONED = {
    "name", "builder", "summary", "description", "task", "dataset", "data", "split",
    "data_options",
    "metrics", "training_command", "license", "data_license", "weights_license", "files",
    "external_weights",
}


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, ensure_ascii=False) + "`"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _shortened_value(value: Any, keep: int, longest: int) -> Any:
    if isinstance(value, list) and len(value) > keep:
        return [*value[:keep], f"... ({len(value):,} items in all, see card.json)"]
    if isinstance(value, str) and len(value) > longest:
        return f"<{len(value):,} characters, see card.json>"
    return value


def _shortened(options: Any, keep: int = 12, longest: int = 200) -> Any:
    """Data options for card.md (card.json keeps them whole): lists longer than ``keep``
    items (a 10,000-word vocabulary) cut to their first items and a count, strings longer
    than ``longest`` (a tokenizer model as base64) shown by their length."""
    if not isinstance(options, dict):
        return options
    return {k: _shortened_value(v, keep, longest) for k, v in options.items()}


def _metrics_table(metrics: Any) -> list[str]:
    if not isinstance(metrics, dict) or not metrics:
        return [_text(metrics)]
    if all(isinstance(v, dict) for v in metrics.values()):
        columns: list[str] = []
        for figures in metrics.values():
            columns += [k for k in figures if k not in columns]
        lines = ["| model | " + " | ".join(columns) + " |",
                 "|---|" + "---|" * len(columns)]
        for variant, figures in metrics.items():
            cells = [_text(figures[c]) if c in figures else "" for c in columns]
            lines.append(f"| {_text(variant)} | " + " | ".join(cells) + " |")
        return lines
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {_text(k)} | {_text(v)} |" for k, v in metrics.items()]
    return lines


def _licenses(card: dict) -> list[str]:
    license_ = card.get("license")
    data = card.get("data_license")
    weights = card.get("weights_license")
    lines = []
    if isinstance(license_, dict):
        data = license_.get("data", data)
        weights = license_.get("weights", weights)
        lines += [f"- {_text(k)}: {_text(v)}" for k, v in license_.items()
                  if k not in ("data", "weights")]
    elif license_ is not None:
        lines.append(f"- {_text(license_)}")
    lines = [f"- data: {_text(data if data is not None else 'not stated')}",
             f"- weights: {_text(weights if weights is not None else 'not stated')}"] + lines
    return lines


def render_card_md(card: dict) -> str:
    """Markdown rendering of ``card``: title, task, data, metrics, command, licences, files."""
    name = card.get("name", "preset")
    out = [f"# {name}", ""]
    summary = card.get("summary", card.get("description"))
    if summary:
        out += [str(summary), ""]
    out += [f"- builder: `{card.get('builder', '?')}`",
            f"- task: {_text(card.get('task', 'not stated'))}",
            f"- dataset: {_text(card.get('dataset', 'not stated'))}"]
    data = card.get("data")
    if isinstance(data, dict):
        where = (f"`{data['path']}` in the data root ($RNNZOO_DATA, else ../shared/data)"
                 if data.get("path") else f"`{data['given']}`" if data.get("given")
                 else "location not recorded")
        out.append(f"- data: {_text(data.get('name', '?'))}, {where}")
    out.append(f"- split: {_text(card.get('split', 'not stated'))}")
    if "data_options" in card:
        out.append(f"- data options: {_text(_shortened(card['data_options']))}")
    out += ["", "## Metrics", ""] + (_metrics_table(card["metrics"]) if "metrics" in card
                                     else ["No metrics recorded."])
    out += ["", "## Training", ""]
    command = card.get("training_command")
    out += ["```", str(command), "```"] if command else ["No training command recorded."]
    external = card.get("external_weights")
    if isinstance(external, dict) and external:
        out += ["", "## Weights not in this preset", "",
                "These frozen pretrained parts are not in `model.weights.h5`: loading the "
                "preset builds them with these weights.", ""]
        out += [f"- `{_text(k)}`: {_text(v)}" for k, v in external.items()]
    out += ["", "## Licences", ""] + _licenses(card)
    others = {k: v for k, v in card.items() if k not in _SECTIONED}
    if others:
        out += ["", "## Other", ""] + [f"- {_text(k)}: {_text(v)}" for k, v in others.items()]
    files = card.get("files") or {}
    if files:
        out += ["", "## Files (sha256)", "", "| file | sha256 |", "|---|---|"]
        out += [f"| {_text(k)} | `{v}` |" for k, v in sorted(files.items())]
    return "\n".join(out) + "\n"
