"""Every preset shipped in zoo/presets loads offline, is within the size budget and works."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasks
import zoo
from zoo import registry

MAX_PRESET_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 40 * 1024 * 1024
PACKAGED = sorted(p.name for p in Path(registry.PRESETS_DIR).iterdir() if (p / "config.json").exists())


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_at_least_one_preset_is_shipped():
    assert "adding-lstm" in PACKAGED
    assert set(PACKAGED) <= set(zoo.list_presets())


def test_size_budget():
    sizes = {name: folder_bytes(Path(registry.PRESETS_DIR) / name) for name in PACKAGED}
    assert all(size <= MAX_PRESET_BYTES for size in sizes.values()), sizes
    assert sum(sizes.values()) <= MAX_TOTAL_BYTES, sizes


@pytest.mark.parametrize("name", PACKAGED)
def test_card_is_complete(name):
    card = zoo.load(name).card
    for key in ("task", "dataset", "split", "metrics", "training_command", "license", "files"):
        assert card.get(key), f"{name}: card lacks {key}"
    assert card["training_command"].startswith("rnnzoo train ")
    assert {"data", "weights"} <= set(card["license"])
    assert card["split"] == "test", f"{name}: card figures must be test figures from rnnzoo evaluate"


def test_adding_lstm_solves_the_adding_problem_at_t100():
    """The shipped LSTM must reach MSE < 0.01 (baseline 0.167) on 1,000 test sequences."""
    preset = zoo.load("adding-lstm")
    task = tasks.get_task(preset.card["task"])
    data = task.load(None, "test", size=1000, **preset.card["data_options"])
    figures = task.metric(preset.model.predict_on_batch, data)
    assert preset.card["data_options"]["length"] == 100
    assert figures["mse"] < 0.01, figures
