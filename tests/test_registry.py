"""Registry: builders (register, list_models, build) and preset name resolution."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.errors import PresetError, UnknownNameError

X = np.random.default_rng(0).random((3, 6, 2), dtype=np.float32)
CARD = {"task": "adding", "metrics": {"keras": {"mse": 0.01}}}


def tiny() -> keras.Model:
    keras.utils.set_random_seed(1)
    return zoo.build("adding-lstm", length=6, units=3)


@pytest.fixture
def presets_dir(tmp_path, monkeypatch) -> Path:
    """An empty packaged-presets folder in place of zoo/presets."""
    folder = tmp_path / "packaged"
    folder.mkdir()
    monkeypatch.setattr(registry, "PRESETS_DIR", folder)
    return folder


# --- builders -------------------------------------------------------------------------------

def test_list_models_and_task_filter():
    names = zoo.list_models()
    assert {"adding-lstm", "adding-gru", "adding-simple"} <= set(names)
    assert names == sorted(names)
    assert zoo.list_models(task="adding") == ["adding-gru", "adding-lstm", "adding-simple"]
    assert zoo.list_models(task="no-such-task") == []


def test_build_records_builder_and_config():
    model = tiny()
    assert model.rnnzoo_builder == "adding-lstm"
    assert model.rnnzoo_config == {"length": 6, "units": 3}
    assert model(X).shape == (3, 1)


def test_build_bad_config_and_unknown_name():
    with pytest.raises(ValueError, match="bad config for builder 'adding-lstm'"):
        zoo.build("adding-lstm", nonsense=1)
    with pytest.raises(UnknownNameError, match="did you mean adding-lstm"):
        zoo.build("adding-lstn")


def test_register_rejects_a_second_function_under_one_name(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))

    @zoo.register("test-tiny", task="test")
    def test_tiny(units: int = 2) -> keras.Model:
        """A tiny test model."""
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(units)(inputs))

    assert zoo.list_models(task="test") == ["test-tiny"]
    assert registry.builder_info("test-tiny").doc == "A tiny test model."
    assert zoo.build("test-tiny", units=3).rnnzoo_config == {"units": 3}
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("test-tiny")(lambda: None)


def test_built_model_saves_as_keras_and_reloads_in_safe_mode(tmp_path):
    model = tiny()
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0))


# --- preset names ---------------------------------------------------------------------------

def test_list_presets_merges_packaged_folders_and_index(presets_dir):
    zoo.save(tiny(), presets_dir / "adding-tiny", card=CARD)
    (presets_dir / "not-a-preset").mkdir()
    (presets_dir / "index.json").write_text(json.dumps(
        {"remote-one": {"url": "https://example.invalid/r.tar.gz", "sha256": "0" * 64}}))
    assert zoo.list_presets() == ["adding-tiny", "remote-one"]


def test_load_packaged_preset_by_name(presets_dir, tmp_path):
    model = tiny()
    zoo.save(model, presets_dir / "adding-tiny", card=CARD)
    preset = zoo.load("adding-tiny")
    assert preset.name == "adding-tiny"
    assert preset.path == (presets_dir / "adding-tiny").resolve()
    assert preset.builder == "adding-lstm"
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))
    with pytest.raises(ValueError, match="sha256 checks archives"):
        zoo.load("adding-tiny", sha256="0" * 64)


def test_unknown_preset_name_suggests_close_names(presets_dir):
    zoo.save(tiny(), presets_dir / "adding-lstm", card=CARD)
    with pytest.raises(UnknownNameError, match="unknown preset 'adding-lstn'; did you mean "
                                               "adding-lstm") as caught:
        zoo.load("adding-lstn")
    assert caught.value.suggestions == ["adding-lstm"]


def test_run_folder_loads_its_preset(tmp_path):
    run = tmp_path / "run"
    model = tiny()
    zoo.save(model, run / "preset", card=CARD)
    (run / "history.csv").write_text("epoch,loss\n")
    preset = zoo.load(run)
    assert preset.path == (run / "preset").resolve()
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))


def test_not_a_preset_folder_and_missing_paths(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PresetError, match=r"empty/config\.json: missing: not a preset folder"):
        zoo.load(tmp_path / "empty")
    with pytest.raises(PresetError, match="no such preset folder"):
        zoo.load(str(tmp_path / "nope" / "x"))
    with pytest.raises(PresetError, match="unsupported URL scheme 'ftp'"):
        zoo.load("ftp://127.0.0.1/p.tar.gz")


def test_bad_index_is_named(presets_dir):
    (presets_dir / "index.json").write_text(json.dumps({"x": {"url": "https://a/b.zip"}}))
    with pytest.raises(PresetError, match=r"index\.json: entry 'x' needs 'url' and 'sha256'"):
        zoo.list_presets()


def test_shipped_index_and_packaged_presets_are_valid():
    """The real zoo/presets: index.json parses; every packaged preset loads."""
    index = json.loads((registry.PRESETS_DIR / "index.json").read_text())
    assert isinstance(index, dict)
    for name in registry._packaged():
        assert zoo.load(name).model is not None


def test_compile_from_card_or_argument(tmp_path):
    folder = zoo.save(tiny(), tmp_path / "p", card={**CARD, "compile": {
        "optimizer": "adam", "loss": "mse"}})
    assert zoo.load(folder, compile=True).model.loss == "mse"
    assert zoo.load(folder, compile={"optimizer": "sgd", "loss": "mae"}).model.loss == "mae"
    plain = zoo.save(tiny(), tmp_path / "q", card=CARD)
    assert getattr(zoo.load(plain).model, "optimizer", None) is None
    with pytest.raises(PresetError, match="compile=True needs a 'compile' entry"):
        zoo.load(plain, compile=True)


def test_preset_folder_copy_loads_elsewhere(tmp_path):
    folder = zoo.save(tiny(), tmp_path / "p", card=CARD)
    moved = shutil.copytree(folder, tmp_path / "elsewhere" / "p")
    assert zoo.load(str(moved)).name == "p"
