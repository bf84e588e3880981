"""Builders for video action recognition (task ``video-actions``).

Every model takes ``frames``: ``[T, size, size, 3]`` RGB values 0-255 (the decoder's uint8
frames as floats; the scaling to 0-1 is inside the model, so an app feeds camera pixels) and
returns the probabilities of the ``labels``.

* ``video-lrcn`` (Donahue et al. 2015, "Long-term recurrent convolutional networks"): a small
  CNN encodes each frame (``TimeDistributed``), a unidirectional GRU or LSTM from
  `zoo.layers.recurrent` reads the frame codes, a dense layer classifies its last state. It
  has a step form: one frame and the recurrent state in, probabilities and the new state out,
  for classifying a live camera feed frame by frame.
* ``video-convlstm`` (Shi et al. 2015): the frames, pooled once, go through ConvLSTM layers
  (`zoo.layers.conv_recurrent`), whose states keep the image layout, then global pooling and
  a dense classifier.
* ``video-frame-average``: the LRCN's CNN with the recurrence replaced by the average of the
  frame codes over time: the baseline that shows what the order of the frames adds.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.image_layers import contrast_conv_blocks
from zoo.layers import conv_recurrent, recurrent
from zoo.registry import register

FRAMES, SIZE = 16, 64


def _frames_input(frames: int, size: int) -> keras.KerasTensor:
    # A fixed number of frames: in a traced graph with an open time axis, Keras 3.15's
    # TimeDistributed mixes up the batch and time axes (a 12-frame batch of 4 came out as 4
    # frames), so SavedModel and TFLite sequence files would compute something else. Clips
    # are sampled to a fixed count anyway; the step model takes any number of frames.
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise ValueError(f"frames must be a positive number of frames, got {frames!r}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    return keras.Input(shape=(frames, size, size, 3), name="frames")


FRAME_POOLING = ("max", "average", "flatten")


@keras.saving.register_keras_serializable(package="rnnzoo")
class ClipAugment(keras.layers.Layer):
    """Clip-consistent augmentation of ``[batch, frames, height, width, channels]``, in
    training only: each clip is mirrored left-right with probability ``flip`` and zoomed in
    on a random square box of side ``min_scale``..1 of the frame (so also shifted), the same
    box and mirror for every frame of the clip, so the motion between frames is kept. The box
    stays inside the frame (no invented borders). At inference the layer is the identity and
    export leaves it out (``training_only``)."""

    training_only = True

    def __init__(self, flip: float = 0.5, min_scale: float = 0.85, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= flip <= 1.0:
            raise ValueError(f"flip must be a probability, got {flip}")
        if not 0.0 < min_scale <= 1.0:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        self.flip, self.min_scale, self.seed = float(flip), float(min_scale), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, clips, training=None):
        if not training:
            return clips
        _, frames, height, width, channels = clips.shape
        batch = tf.shape(clips)[0]

        def uniform(low, high):
            return keras.random.uniform([batch], low, high, seed=self.seed_generator)

        side = uniform(self.min_scale, 1.0)
        top, left = uniform(0.0, 1.0) * (1.0 - side), uniform(0.0, 1.0) * (1.0 - side)
        mirror = uniform(0.0, 1.0) < self.flip
        x1, x2 = tf.where(mirror, left + side, left), tf.where(mirror, left, left + side)
        boxes = tf.repeat(tf.stack([top, x1, top + side, x2], axis=1), frames, axis=0)
        images = tf.reshape(tf.cast(clips, tf.float32), [-1, height, width, channels])
        out = tf.image.crop_and_resize(images, boxes, tf.range(tf.shape(images)[0]),
                                       [height, width])
        return tf.cast(tf.reshape(out, tf.shape(clips)), clips.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "flip": self.flip, "min_scale": self.min_scale,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnnzoo")
class FrameDifferenceCell(keras.layers.Layer):
    """Recurrent cell over frames ``[batch, height, width, channels]``: outputs the frame and
    its difference from the previous one, ``[..., 2 * channels]`` (zero difference at the
    first frame). States: the previous frame and a started flag ``[batch, 1, 1, 1]``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state_size = -1  # image-shaped states: see get_initial_state
        self.frame_shape: tuple[int, ...] | None = None

    def build(self, input_shape):
        self.frame_shape = tuple(int(d) for d in input_shape[1:])

    def call(self, inputs, states):
        previous, started = states[0], states[1]
        difference = (inputs - previous) * started
        return (keras.ops.concatenate([inputs, difference], axis=-1),
                [inputs, keras.ops.ones_like(started)])

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, *self.frame_shape), self.compute_dtype),
                keras.ops.zeros((batch_size, 1, 1, 1), self.compute_dtype)]


@keras.saving.register_keras_serializable(package="rnnzoo")
class FrameDifference(keras.layers.RNN):
    """A motion stream (TSN's RGB difference, Wang et al. 2016): each frame of ``[batch,
    time, height, width, channels]`` gets its difference from the previous frame as
    ``channels`` more channels. A recurrent layer (`FrameDifferenceCell`), so a step model
    carries the previous frame as a state and streams frame by frame."""

    def __init__(self, **kwargs):
        kwargs.pop("cell", None)
        kwargs.pop("return_sequences", None)
        super().__init__(FrameDifferenceCell(name="frame_difference_cell"),
                         return_sequences=True, **kwargs)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        return (*sequences_shape[:-1], 2 * sequences_shape[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("cell", None)
        config.pop("return_sequences", None)
        return config

    @classmethod
    def from_config(cls, config: dict) -> FrameDifference:
        return cls(**config)


def _frame_encoder(size: int, filters: list[int], dropout: float,
                   pooling: str = "max", units: int = 256, channels: int = 3) -> keras.Model:
    """The per-frame CNN: contrast normalization of each frame, conv blocks (conv, batch norm,
    ReLU, 2x2 max pooling), then one vector per frame from the last block: its global maximum
    or average over the image, or (``flatten``, LRCN's fc6) a dense ReLU layer of ``units``
    over the whole map, which keeps where in the image each feature is; ``dropout`` after
    it."""
    if pooling not in FRAME_POOLING:
        raise ValueError(f"frame pooling must be one of {', '.join(FRAME_POOLING)}, got "
                         f"{pooling!r}")
    image = keras.Input(shape=(size, size, channels), name="frame")
    x = contrast_conv_blocks(image, filters, contrast_name="frame_contrast")
    if pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="maximum")(x)
    elif pooling == "average":
        x = keras.layers.GlobalAveragePooling2D(name="average")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(units, activation="relu", name="frame_dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(image, x, name="frame_encoder")


def _classifier(x, labels: list[str], dropout: float):
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(len(labels), activation="softmax", name="actions")(x)


def _check_labels(labels: list[str]) -> list[str]:
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must name at least two distinct actions, got {labels!r}")
    return labels


@register("video-lrcn", task="video-actions")
def video_lrcn(labels: list[str] = ("a", "b"), frames: int = FRAMES, size: int = SIZE,
               filters: list[int] = (16, 32, 64, 128), kind: str = "gru", units: int = 128,
               dropout: float = 0.3, frame_pooling: str = "max", frame_units: int = 256,
               frame_dropout: float = 0.0, augment: dict | None = None,
               motion: bool = False) -> keras.Model:
    """LRCN: per-frame CNN (``filters``: widths of its conv blocks; ``frame_pooling`` of its
    last block: "max" over the image finds a small figure anywhere in clutter, "average", or
    "flatten": a dense layer of ``frame_units`` over the map, keeping where each feature is;
    ``frame_dropout`` on the frame codes), a ``kind`` recurrent layer of ``units``, softmax
    over ``labels``; clips of ``frames`` frames (its step model streams any number).
    ``augment``: `ClipAugment` options (training only), None for none. ``motion``: the CNN
    also sees each frame's difference from the previous one (`FrameDifference`)."""
    labels = _check_labels(labels)
    clip = _frames_input(frames, size)
    x = ClipAugment(**augment, name="clip_augment")(clip) if augment is not None else clip
    if motion:
        x = FrameDifference(name="frame_difference")(x)
    codes = keras.layers.TimeDistributed(
        _frame_encoder(size, list(filters), frame_dropout, frame_pooling, frame_units,
                       channels=6 if motion else 3),
        name="frame_codes")(x)
    last = recurrent(kind, units, name=f"{kind}_0")(codes)
    return keras.Model(clip, _classifier(last, labels, dropout), name="video_lrcn")


@register("video-frame-average", task="video-actions")
def video_frame_average(labels: list[str] = ("a", "b"), frames: int = FRAMES,
                        size: int = SIZE, filters: list[int] = (16, 32, 64, 128),
                        dropout: float = 0.3, frame_pooling: str = "max") -> keras.Model:
    """The LRCN's CNN with the average of the frame codes over time instead of a recurrent
    layer (a baseline: it cannot tell the order of the frames)."""
    labels = _check_labels(labels)
    clip = _frames_input(frames, size)
    codes = keras.layers.TimeDistributed(
        _frame_encoder(size, list(filters), 0.0, frame_pooling), name="frame_codes")(clip)
    pooled = keras.layers.GlobalAveragePooling1D(name="average_over_time")(codes)
    return keras.Model(clip, _classifier(pooled, labels, dropout), name="video_frame_average")


@register("video-convlstm", task="video-actions")
def video_convlstm(labels: list[str] = ("a", "b"), frames: int = FRAMES,
                   size: int = SIZE, filters: list[int] = (16, 32), kernel_size: int = 3,
                   pool: int = 2, dropout: float = 0.3) -> keras.Model:
    """ConvLSTM: the frames average-pooled by ``pool``, then ConvLSTM layers of ``filters``
    (each but the last followed by 2x2 max pooling of every frame), global average pooling
    of the last state, softmax over ``labels``."""
    labels = _check_labels(labels)
    if not filters:
        raise ValueError("filters must name at least one ConvLSTM layer")
    clip = _frames_input(frames, size)
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(clip)
    if pool > 1:
        x = keras.layers.TimeDistributed(keras.layers.AveragePooling2D(pool),
                                         name="downsample")(x)
    last = len(filters) - 1
    for i, width in enumerate(filters):
        x = conv_recurrent(width, kernel_size, return_sequences=i < last,
                           name=f"conv_lstm_{i}")(x)
        if i < last:
            x = keras.layers.TimeDistributed(keras.layers.MaxPooling2D(2), name=f"pool_{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="average")(x)
    return keras.Model(clip, _classifier(x, labels, dropout), name="video_convlstm")
