"""Presets leave frozen pretrained parts out of their weights file (`zoo.external_weights`):
a captioner over a keras.applications backbone, whose weights file is written here."""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest

import zoo
from zoo.captioning import SPECIAL_TOKENS
from zoo.errors import PresetError
from zoo.external_weights import marked_layers, unchanged_parts

SIZE = 64  # a 2x2 grid: MobileNetV3 pools by 32
WORDS = [*SPECIAL_TOKENS, "a", "red", "circle"]


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory):
    backbone = keras.applications.MobileNetV3Small(include_top=False, weights=None,
                                                   input_shape=(SIZE, SIZE, 3))
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v3_small.weights.h5"
    backbone.save_weights(path)
    return path


def _captioner(backbone_file):
    return zoo.build("captioning-attention", vocabulary=WORDS, image_size=SIZE,
                     encoder="keras:MobileNetV3Small", encoder_weights=str(backbone_file),
                     units=8, embedding_dim=4, attention_units=8)


def _inputs():
    rng = np.random.default_rng(0)
    return {"image": rng.uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32),
            "tokens": np.array([[1, 4, 5, 6], [1, 4, 0, 0]], np.int32)}


def _stored_variables(path) -> int:
    with h5py.File(path, "r") as f:
        count = []
        f.visititems(lambda name, obj: count.append(name) if isinstance(obj, h5py.Dataset)
                     else None)
    return len(count)


def test_a_frozen_backbone_is_left_out_of_the_preset_and_built_again_on_load(
        backbone_file, tmp_path):
    model = _captioner(backbone_file)
    decoder = model.get_layer("next_word")
    decoder.set_weights([w + 0.5 for w in decoder.get_weights()])  # "trained"
    folder = zoo.save(model, tmp_path / "preset", card={"task": "captioning"})

    config = json.loads((folder / "config.json").read_text())
    [part] = config["external_weights"]
    assert "MobileNetV3Small" in config["external_weights"][part]
    assert "Weights not in this preset" in (folder / "card.md").read_text()
    backbone_variables = len(model.get_layer(part).weights)
    assert _stored_variables(folder / "model.weights.h5") == (
        len(model.weights) - backbone_variables)

    loaded = zoo.load(folder).model
    x = _inputs()
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x),
                               atol=1e-6)


def test_a_changed_backbone_is_stored_in_full(backbone_file, tmp_path):
    model = _captioner(backbone_file)
    [part] = marked_layers(model)
    backbone = model.get_layer(part)
    backbone.set_weights([w * 0.9 for w in backbone.get_weights()])  # fine-tuned
    assert unchanged_parts(model, _captioner(backbone_file)) == {}
    folder = zoo.save(model, tmp_path / "preset", card={"task": "captioning"})
    assert "external_weights" not in json.loads((folder / "config.json").read_text())
    assert _stored_variables(folder / "model.weights.h5") == len(model.weights)
    x = _inputs()
    np.testing.assert_allclose(zoo.load(folder).model.predict_on_batch(x),
                               model.predict_on_batch(x), atol=1e-6)


def test_an_external_part_the_model_does_not_mark_is_a_preset_error(backbone_file, tmp_path):
    folder = zoo.save(_captioner(backbone_file), tmp_path / "preset",
                      card={"task": "captioning"})
    config = json.loads((folder / "config.json").read_text())
    config["external_weights"] = {"next_word": "somewhere"}
    (folder / "config.json").write_text(json.dumps(config))
    card = json.loads((folder / "card.json").read_text())
    card["files"]["config.json"] = zoo.preset_io.sha256_file(folder / "config.json")
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(PresetError, match="no external part named next_word"):
        zoo.load(folder)
    config["external_weights"] = ["not", "a", "mapping"]
    (folder / "config.json").write_text(json.dumps(config))
    card["files"]["config.json"] = zoo.preset_io.sha256_file(folder / "config.json")
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(PresetError, match="'external_weights' is not a JSON object"):
        zoo.load(folder)


def test_keras_encoders_need_their_weights_file():
    with pytest.raises(ValueError, match="needs encoder_weights"):
        zoo.build("captioning-attention", vocabulary=WORDS, image_size=SIZE,
                  encoder="keras:MobileNetV3Small")
    with pytest.raises(ValueError, match="encoder_weights is for keras:"):
        zoo.build("captioning-attention", vocabulary=WORDS, encoder="small-cnn",
                  encoder_weights="x.weights.h5")
