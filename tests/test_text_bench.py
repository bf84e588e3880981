"""``rnnzoo bench text``: each of its sections is a registered benchmark of its own, and the
joined table shows every section's table under its name."""

from __future__ import annotations

import rnnzoo.bench as bench
from rnnzoo.bench import text


def test_every_section_is_a_registered_benchmark():
    registered = {module for module, _ in bench.BENCHMARKS.values()}
    assert set(text.SECTIONS.values()) <= registered
    assert bench.get_benchmark("text") is text


def test_table_joins_the_sections(monkeypatch):
    class Fake:
        def __init__(self, name):
            self.name = name

        def run(self, quick=False):
            return {"section": self.name, "quick": quick}

        def table(self, result):
            return f"table of {result['section']}"

    monkeypatch.setattr(text, "_module", Fake)
    result = text.run(quick=True)
    assert result == {name: {"section": name, "quick": True} for name in text.SECTIONS}
    shown = text.table(result)
    for name in text.SECTIONS:
        assert f"== {name}\ntable of {name}" in shown
    assert text.table({"ner": result["ner"]}) == "== ner\ntable of ner"
