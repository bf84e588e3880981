"""Every preset shipped in zoo/presets loads offline, is within the size budget and works."""

from __future__ import annotations

import socket
from pathlib import Path

import h5py
import numpy as np
import pytest

import tasks
import zoo
from zoo import registry

MAX_PRESET_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 40 * 1024 * 1024
# Every preset rnnzoo ships, by name: one that disappears (or stops loading) fails the suite.
# A new preset is added here too.
SHIPPED = (
    "adding-gru",
    "adding-lstm",
    "adding-simple",
    "captioning-coco-mini",
    "captioning-shapes",
    "forecast-pm25",
    "music-jsb-gru",
    "music-jsb-gru-ar",
    "music-jsb-lstm-ar",
    "music-jsb-lstm-rnn-nade",
    "music-melody-nottingham",
    "music-piano",
    "ner-conll2003",
    "sentiment-sst2",
    "speech-connected-digits",
    "speech-digits",
    "speech-yesno",
    "textgen-shakespeare",
    "translate-en-de-multi30k",
    "translate-en-fr-tatoeba",
    "video-actions-lrcn",
)
# Presets scored on validation because their benchmark's published split has no test part.
VALIDATION_ONLY = {
    "textgen-shakespeare": "tinyshakespeare's 90/10 split of char-rnn and nanoGPT",
}
PRESETS_DIR = Path(registry.PRESETS_DIR)
PACKAGED = sorted(p.name for p in PRESETS_DIR.iterdir() if (p / "config.json").exists())


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while loading a shipped preset: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_shipped_preset_is_there():
    missing = sorted(set(SHIPPED) - set(PACKAGED))
    assert not missing, f"shipped presets missing from {PRESETS_DIR}: {missing}"
    assert set(PACKAGED) <= set(zoo.list_presets())


def test_no_preset_is_shipped_without_being_named_here():
    unlisted = sorted(set(PACKAGED) - set(SHIPPED))
    assert not unlisted, f"presets in {PRESETS_DIR} not named in SHIPPED: {unlisted}"


def test_size_budget():
    sizes = {name: folder_bytes(PRESETS_DIR / name) for name in PACKAGED}
    assert all(size <= MAX_PRESET_BYTES for size in sizes.values()), sizes
    assert sum(sizes.values()) <= MAX_TOTAL_BYTES, sizes


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_offline_with_its_weights(name, offline):
    preset = zoo.load(name)
    assert preset.name == name
    assert preset.path == (PRESETS_DIR / name).resolve()  # the packaged folder, no download
    model = preset.model
    assert model.built and model.count_params() > 0
    assert preset.builder == preset.card["builder"] and preset.builder in zoo.list_models()
    stored = []
    with h5py.File(preset.path / "model.weights.h5", "r") as weights_file:
        weights_file.visititems(
            lambda key, item: stored.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    # frozen pretrained parts listed in config.json come from their converter, not the file
    external = {id(v) for layer in preset.config.get("external_weights", {})
                for v in model.get_layer(layer).weights}
    own = [v for v in model.weights if id(v) not in external]
    assert len(stored) == len(own), (len(stored), len(own))
    for variable in own:  # each variable holds one stored array, each array once
        value = np.asarray(variable)
        match = next((i for i, array in enumerate(stored)
                      if array.shape == value.shape and np.array_equal(array, value)), None)
        assert match is not None, f"{name}: {variable.path} does not hold the stored weights"
        stored.pop(match)


@pytest.mark.parametrize("name", SHIPPED)
def test_card_is_complete(name):
    card = zoo.load(name).card
    for key in ("task", "dataset", "split", "metrics", "training_command", "license", "files"):
        assert card.get(key), f"{name}: card lacks {key}"
    assert card["training_command"].startswith("rnnzoo train ")
    assert {"data", "weights"} <= set(card["license"])
    expected = "validation" if name in VALIDATION_ONLY else "test"
    assert card["split"] == expected, (
        f"{name}: card figures must be {expected} figures from rnnzoo evaluate")
    assert card["name"] == name
    assert tasks.get_task(card["task"]).name == card["task"]
    assert all(card["license"][key] for key in ("data", "weights")), card["license"]


def test_adding_lstm_solves_the_adding_problem_at_t100():
    """The shipped LSTM must reach MSE < 0.01 (baseline 0.167) on 1,000 test sequences."""
    preset = zoo.load("adding-lstm")
    task = tasks.get_task(preset.card["task"])
    data = task.load(None, "test", size=1000, **preset.card["data_options"])
    figures = task.metric(preset.model.predict_on_batch, data)
    assert preset.card["data_options"]["length"] == 100
    assert figures["mse"] < 0.01, figures
