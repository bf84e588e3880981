"""Image front-end layers that live inside models: resizing and per-pixel colour maps.

Both are registered (package ``rnnzoo``) and serialize through ``get_config``, so models that
hold them load with ``safe_mode=True`` once this module is imported, and both convert to
builtin TFLite ops (``RESIZE_BILINEAR``/``RESIZE_NEAREST_NEIGHBOR``; ``MUL``/``ADD`` or one
``FULLY_CONNECTED``) that have int8 kernels.

`ResizeImage` replaces ``keras.layers.Resizing``: the latter's ``call`` defaults to
``training=True``, and Keras 3.15 hands that value on to every later layer of a model called
without ``training=`` (``model(x)``, ``model.export``, SavedModel and TFLite tracing), so the
BatchNormalization layers after it normalized with the batch's statistics and updated their
moving averages.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

INTERPOLATIONS = ("bilinear", "nearest")


@keras.saving.register_keras_serializable(package="rnnzoo")
class ResizeImage(keras.layers.Layer):
    """Resize ``[batch, height, width, channels]`` images to ``[batch, size[0], size[1], c]``.

    Bilinear with half-pixel centres and no antialiasing (as ``tf.image.resize``), no crop:
    the aspect ratio is not kept. Any input height and width.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation={interpolation!r}: expected one of "
                             f"{', '.join(INTERPOLATIONS)}")
        self.height, self.width = int(height), int(width)
        if self.height < 1 or self.width < 1:
            raise ValueError(f"size {self.height}x{self.width}: expected positive sides")
        self.interpolation = interpolation

    def call(self, inputs):
        return keras.ops.image.resize(inputs, (self.height, self.width),
                                      interpolation=self.interpolation, antialias=False,
                                      data_format="channels_last")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="rnnzoo")
class PixelAffine(keras.layers.Layer):
    """``y = x @ matrix + offset`` on the channel axis: any per-pixel affine colour map.

    Covers every ``keras.applications`` ``preprocess_input`` (scaling, mean and standard
    deviation per channel, RGB -> BGR). A diagonal ``matrix`` is applied as a multiply and an
    add; otherwise as a matrix product.
    """

    def __init__(self, matrix: Sequence[Sequence[float]], offset: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.matrix = np.asarray(matrix, dtype=np.float64).tolist()
        self.offset = np.asarray(offset, dtype=np.float64).tolist()
        m = np.asarray(self.matrix)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or len(self.offset) != m.shape[1]:
            raise ValueError(f"matrix {m.shape} and offset ({len(self.offset)},) do not match")
        self._diagonal = bool(np.all(m == np.diag(np.diag(m))))

    def call(self, inputs):
        m = np.asarray(self.matrix, dtype=np.float32)
        offset = keras.ops.convert_to_tensor(np.asarray(self.offset, np.float32), inputs.dtype)
        if self._diagonal:
            scale = keras.ops.convert_to_tensor(np.diag(m), inputs.dtype)
            return inputs * scale + offset
        return keras.ops.matmul(inputs, keras.ops.convert_to_tensor(m, inputs.dtype)) + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "matrix": self.matrix, "offset": self.offset}


@keras.saving.register_keras_serializable(package="rnnzoo")
class ImageContrast(keras.layers.LayerNormalization):
    """Each channel of each image to zero mean and unit variance over its pixels (a
    ``LayerNormalization`` over height and width without centre or scale weights).

    Full-int8 files keep it in float (``keep_float_in_int8``, `export.float_layers`): its
    mean, variance and reciprocal square root at 8 bits lost the fine contrast of small
    shapes (a captioning-shapes encoder fell from BLEU-4 0.80 to 0.69; kept in float, 0.79).
    """

    keep_float_in_int8 = True

    def __init__(self, **kwargs):
        kwargs.update(axis=(1, 2), center=False, scale=False)
        super().__init__(**kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        for fixed in ("axis", "center", "scale"):
            config.pop(fixed, None)
        return config


def contrast_conv_blocks(pixels, filters: Sequence[int], *, contrast_name: str):
    """The small image CNN of the zoo's video and captioning models: pixel values 0-255 to
    0-1 (``to_unit_range``), each colour channel of each image to zero mean and unit variance
    over the image (`ImageContrast` ``contrast_name``: the scene's brightness and colour say
    nothing; float in int8 files), then a
    block per entry of ``filters``: 3x3 conv (``conv_<i>``), batch norm (``norm_<i>``), ReLU
    (``relu_<i>``), 2x2 max pooling (``pool_<i>``). Returns the last block's feature map."""
    if not filters:
        raise ValueError("filters must name at least one conv block")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(pixels)
    x = ImageContrast(name=contrast_name)(x)
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"norm_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    return x
