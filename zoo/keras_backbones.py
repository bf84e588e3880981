"""Any ``keras.applications`` backbone as an image encoder, with weights from a local file.

`keras_application_encoder("MobileNetV3Small", "weights.h5", 224)` builds the application
without top around the user's weights file (keras.applications cannot download here), and
puts the resizing and that application's own ``preprocess_input`` inside the model, so it
takes RGB pixel values 0-255 of any height and width and returns the feature grid
``[s/32, s/32, channels]``.

Every application's ``preprocess_input`` is a per-pixel affine map (scaling, per-channel mean
and standard deviation, RGB -> BGR, or nothing for the models that normalize inside); it is
measured on probe pixels (`preprocess_affine`), checked on random pixels, and applied as a
`zoo.image_layers.PixelAffine` layer, so the model holds no Lambda and no Python function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from zoo.errors import UnknownNameError
from zoo.image_layers import PixelAffine, ResizeImage


def applications() -> dict[str, tuple[Callable[..., keras.Model], Callable]]:
    """Application name -> (builder, its ``preprocess_input``), e.g. "EfficientNetB0"."""
    found = {}
    for name in dir(keras.applications):
        builder = getattr(keras.applications, name)
        if not name[:1].isupper() or not callable(builder):
            continue
        module = getattr(keras.applications, builder.__module__.rsplit(".", 1)[-1], None)
        preprocess = getattr(module, "preprocess_input", None)
        if preprocess is not None:
            found[name] = (builder, preprocess)
    return found


def preprocess_affine(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix [3, 3], offset [3])`` with ``preprocess_input(x) == x @ matrix + offset``."""
    known = applications()
    if name not in known:
        raise UnknownNameError("keras application", name, known)
    preprocess = known[name][1]

    def apply(pixels: np.ndarray) -> np.ndarray:  # preprocess_input may work in place
        return np.asarray(preprocess(pixels.copy().reshape(1, -1, 1, 3)),
                          dtype=np.float64).reshape(-1, 3)

    probe = np.concatenate([np.zeros((1, 3)), 255.0 * np.eye(3)]).astype(np.float32)
    out = apply(probe)
    offset = out[0]
    matrix = (out[1:] - offset) / 255.0
    check = np.random.default_rng(0).uniform(0, 255, (64, 3)).astype(np.float32)
    if not np.allclose(apply(check), check @ matrix + offset, rtol=1e-4, atol=1e-3):
        raise ValueError(f"preprocess_input of {name} is not a per-pixel affine map")
    return matrix, offset


def keras_application_encoder(name: str, weights_path: str | os.PathLike,
                              image_size: int = 224) -> keras.Model:
    """``keras.applications.<name>`` without top, weights from ``weights_path``, as an encoder.

    Input: RGB pixel values 0-255 ``[batch, height, width, 3]``, any size; resized to
    ``image_size`` inside. Output: the backbone's last feature grid. An unknown ``name`` is an
    `UnknownNameError` listing close names; a missing file a `FileNotFoundError`; a file that
    does not fit the application a `ValueError` naming both.
    """
    known = applications()
    if name not in known:
        raise UnknownNameError("keras application", name, known)
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file for {name}")
    matrix, offset = preprocess_affine(name)
    try:
        backbone = known[name][0](include_top=False, weights=str(path),
                                  input_shape=(int(image_size), int(image_size), 3))
    except ValueError as error:
        raise ValueError(f"{path}: cannot load as {name} weights without top: {error}") from None
    inputs = keras.Input((None, None, 3), name="image")
    x = ResizeImage(int(image_size), int(image_size), name="resize")(inputs)
    if not (np.allclose(matrix, np.eye(3)) and np.allclose(offset, 0.0)):
        x = PixelAffine(matrix, offset, name="preprocess")(x)
    return keras.Model(inputs, backbone(x), name=f"{name.lower()}_encoder")
