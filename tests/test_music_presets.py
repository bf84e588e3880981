"""The shipped music presets: cards with the data terms, and generation that writes MIDI."""

from __future__ import annotations

import numpy as np
import pytest

import tasks
import tasks.music
import zoo
from tasks.music.midi import read_midi

MUSIC = {"music-jsb-gru": "public domain", "music-melody-nottingham": "GPL-3.0",
         "music-piano": "study and research only"}


@pytest.mark.parametrize("name, terms", sorted(MUSIC.items()))
def test_cards_state_the_data_terms_and_test_figures(name, terms):
    card = zoo.load(name).card
    assert terms in card["license"]["data"]
    assert terms in card["license"]["weights"]
    assert card["split"] == "test"
    assert {"keras", "tflite-step.fp32", "tflite-step.int8"} <= set(card["metrics"])


@pytest.mark.parametrize("name", sorted(MUSIC))
def test_shipped_presets_generate_midi_from_scratch(name, tmp_path):
    result = tasks.music.generate(name, length=16, seed=0, temperature=0.9, out=tmp_path / "x.mid")
    notes = read_midi(result["midi"]).instruments[0].notes if result["generated"].any() else []
    assert len(result["generated"]) == 16
    if name != "music-jsb-gru":
        assert len(notes) == 16 and 40 <= np.mean([n.pitch for n in notes]) <= 90


def test_jsb_preset_beats_even_odds_on_a_few_test_chorales(shared_data):
    preset = zoo.load("music-jsb-gru")
    task = tasks.get_task("music-jsb")
    figures = task.metric(preset.model.predict_on_batch,
                          task.load(shared_data / "jsb_chorales", "test", limit=10))
    assert figures["nll"] < 12.0, figures  # even odds: 61; the full test figure is in the card
