"""keras.applications backbones as image encoders, from a weights file saved here (no download);
the image layers they use (ResizeImage, PixelAffine)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.errors import UnknownNameError
from zoo.image_layers import PixelAffine, ResizeImage
from zoo.keras_backbones import applications, keras_application_encoder, preprocess_affine


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """A MobileNetV3Small without top (random init) and its weights file."""
    backbone = keras.applications.MobileNetV3Small(include_top=False, weights=None,
                                                   input_shape=(64, 64, 3))
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v3_small.weights.h5"
    backbone.save_weights(path)
    return backbone, path


def test_encoder_from_a_local_weights_file(mobilenet, tmp_path):
    backbone, path = mobilenet
    encoder = keras_application_encoder("MobileNetV3Small", path, image_size=64)
    assert encoder.output_shape == (None, 2, 2, 576)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), backbone.predict(x, verbose=0),
                               atol=1e-5)
    wide = np.random.default_rng(1).uniform(0, 255, (1, 90, 150, 3)).astype(np.float32)
    assert encoder.predict(wide, verbose=0).shape == (1, 2, 2, 576)  # resized inside
    saved = tmp_path / "encoder.keras"
    encoder.save(saved)
    loaded = keras.saving.load_model(saved, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), encoder.predict(x, verbose=0),
                               atol=1e-5)


# a file that does not fit: Keras warns about each part it skips before the error
@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_bad_names_and_files(mobilenet, tmp_path):
    _, path = mobilenet
    with pytest.raises(UnknownNameError, match="did you mean MobileNetV3Small"):
        keras_application_encoder("MobileNetV3Smal", path, 64)
    with pytest.raises(FileNotFoundError, match="no such weights file for MobileNetV3Small"):
        keras_application_encoder("MobileNetV3Small", tmp_path / "absent.weights.h5", 64)
    with pytest.raises(ValueError, match=f"{path}: cannot load as MobileNetV2"):
        keras_application_encoder("MobileNetV2", path, 64)


def test_preprocessing_is_each_applications_own():
    assert {"MobileNetV3Small", "EfficientNetB0", "ResNet50", "DenseNet121"} <= set(
        applications())
    matrix, offset = preprocess_affine("ResNet50")  # caffe: RGB -> BGR, minus the mean
    np.testing.assert_allclose(matrix, np.eye(3)[::-1], atol=1e-6)
    np.testing.assert_allclose(offset, [-103.939, -116.779, -123.68], atol=1e-3)
    matrix, offset = preprocess_affine("MobileNetV2")  # tf: x / 127.5 - 1
    np.testing.assert_allclose(np.diag(matrix), 1 / 127.5, rtol=1e-5)
    np.testing.assert_allclose(offset, -1.0, atol=1e-5)
    matrix, offset = preprocess_affine("EfficientNetB0")  # normalizes inside the model
    np.testing.assert_allclose(matrix, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(offset, 0.0, atol=1e-6)
    with pytest.raises(UnknownNameError):
        preprocess_affine("imagenet_utils")


def test_pixel_affine_matches_preprocess_input():
    x = np.random.default_rng(2).uniform(0, 255, (2, 5, 7, 3)).astype(np.float32)
    for name, module in [("ResNet50", keras.applications.resnet50),
                         ("DenseNet121", keras.applications.densenet)]:
        layer = PixelAffine(*preprocess_affine(name))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                                   module.preprocess_input(x.copy()), rtol=1e-5, atol=1e-3)
        again = PixelAffine.from_config(layer.get_config())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)),
                                   keras.ops.convert_to_numpy(layer(x)))


def test_resize_image():
    layer = ResizeImage(4, 6)
    x = np.random.default_rng(3).uniform(0, 255, (1, 9, 5, 3)).astype(np.float32)
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (1, 4, 6, 3)
    import tensorflow as tf

    np.testing.assert_allclose(y, tf.image.resize(x, (4, 6), method="bilinear").numpy(),
                               atol=1e-4)
    assert ResizeImage.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="interpolation='bicubic'"):
        ResizeImage(4, 4, interpolation="bicubic")
