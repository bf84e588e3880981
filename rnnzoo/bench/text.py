"""``rnnzoo bench text``: the three text tasks' benchmarks in one run and one JSON file.

Each section is its own benchmark module (``text-sentiment``, ``text-ner``,
``text-textgen``, runnable alone); this one runs them in turn and joins their results and
tables. A section whose preset is not shipped reports itself as skipped, as each does alone.
"""

from __future__ import annotations

import importlib

SECTIONS = {"sentiment": "rnnzoo.bench.text_sentiment",
            "ner": "rnnzoo.bench.text_ner",
            "textgen": "rnnzoo.bench.text_textgen"}


def _module(name: str):
    return importlib.import_module(SECTIONS[name])


def run(quick: bool = False) -> dict:
    """Every section's result under its name."""
    results = {}
    for name in SECTIONS:
        print(f"== text: {name}", flush=True)
        results[name] = _module(name).run(quick=quick)
    return results


def table(result: dict) -> str:
    """The sections' tables, each under a heading."""
    parts = []
    for name in SECTIONS:
        if name in result:
            parts.append(f"== {name}\n{_module(name).table(result[name])}")
    return "\n\n".join(parts)
