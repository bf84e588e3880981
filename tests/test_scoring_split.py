"""Which split a model is scored on: a refit (trained on validation too) is verified on test,
and a split the model trained on is named as such."""

from __future__ import annotations

import dataclasses
import json

import pytest

import tasks
import zoo
from rnnzoo.commands import export as export_command
from rnnzoo.commands.common import scoring_split

REFITS = {"ner-conll2003", "sentiment-sst2", "speech-digits", "speech-yesno"}


def test_a_refit_scores_on_test_and_a_plain_model_on_validation():
    ner = tasks.get_task("ner")
    assert scoring_split(ner, {"with_validation": False}, None) == ("validation", None)
    split, note = scoring_split(ner, {"with_validation": True}, None)
    assert split == "test" and "trained on the validation split too" in note
    assert scoring_split(ner, {"with_validation": True}, "test") == ("test", None)


@pytest.mark.parametrize("options, split, trained", [
    ({}, "train", True), ({}, "train+validation", True), ({}, "validation", False),
    ({"with_validation": True}, "validation", True), ({"with_validation": True}, "test", False)])
def test_a_named_split_the_model_trained_on_gets_a_note(options, split, trained):
    assert tasks.get_task("ner").trained_on(split, options) is trained
    kept, note = scoring_split(tasks.get_task("ner"), options, split)
    assert kept == split and (note is not None) is trained
    if trained:
        assert f"trained on the {split} split" in note


def test_the_shipped_refits_are_recognized_from_their_cards():
    found = set()
    for name in zoo.list_presets():
        card = json.loads((zoo.registry.PRESETS_DIR / name / "card.json").read_text())
        if tasks.get_task(card["task"]).trained_on("validation", card.get("data_options")):
            found.add(name)
    assert found == REFITS


def test_export_verifies_a_refit_on_test_and_says_so(tmp_path, monkeypatch, capsys):
    model = zoo.build("adding-lstm", length=10, units=4)
    zoo.save(model, tmp_path / "preset", card={"task": "adding", "metrics": {},
                                               "data_options": {"length": 10}})
    refit = dataclasses.replace(tasks.get_task("adding"), refit_options=("length",))
    monkeypatch.setattr(export_command, "task_of", lambda preset: refit)
    export_command.export_preset(str(tmp_path / "preset"), str(tmp_path / "out"),
                                 formats=["tflite"], quantize=["fp32"], kinds=["sequence"],
                                 eval_examples=4, latency=False)
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["split"] == "test"
    assert "scored on the test split instead" in capsys.readouterr().err
