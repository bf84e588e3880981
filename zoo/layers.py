"""Factories for the recurrent layers every zoo model is built from.

All layers returned here are plain Keras layers (or `RecurrentStack`, registered
for serialization), so models save and load with ``safe_mode=True``. The
defaults keep Keras' cuDNN-eligible settings for LSTM and GRU: tanh/sigmoid,
no recurrent dropout, ``unroll=False``, GRU ``reset_after=True``.
"""

from __future__ import annotations

import numbers

import keras

from zoo.checks import check_fraction

KINDS = ("simple", "lstm", "gru")
MERGE_MODES = ("concat", "sum", "ave", "mul")

_LAYER_CLASSES = {
    "simple": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def gather_rows(table, ids):
    """Rows ``ids`` of ``table`` (``[rows, ...]``) as one gather; ``ids`` are cast to int32.

    Keras' ``ops.take`` (and so ``Embedding``) first maps negative ids to ``id + rows``: three
    ops on the ids (LESS, ADD, SELECT) whose integer range TFLite's 16x8 quantizer then asks
    to have calibrated, and fails ("Max and min for dynamic tensors should be recorded",
    tensorflow/model-optimization#1090). Token ids are never negative, so the zoo's lookups
    use this (and `export` traces plain ``Embedding`` layers through it)."""
    ids = keras.ops.cast(ids, "int32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(table, ids)
    return keras.ops.take(table, ids, axis=0)


def _check_kind(kind: str) -> None:
    if kind not in _LAYER_CLASSES:
        raise ValueError(f"unknown recurrent kind {kind!r}; expected one of {', '.join(KINDS)}")


def recurrent(
    kind: str,
    units: int,
    *,
    bidirectional: bool = False,
    merge_mode: str | None = "concat",
    return_sequences: bool = False,
    return_state: bool = False,
    stateful: bool = False,
    dropout: float = 0.0,
    activation: str = "tanh",
    name: str | None = None,
) -> keras.layers.Layer:
    """Return one recurrent layer: vanilla RNN (``"simple"``), LSTM or GRU.

    ``kind="simple"`` is the classic h_t = f(W h_{t-1} + U x_t + b) with
    ``f = activation``. ``bidirectional`` wraps the layer in
    ``keras.layers.Bidirectional`` with ``merge_mode`` (concat, sum, ave, mul, or None:
    the two directions' outputs as a list, e.g. for a bidirectional language model whose
    directions predict the next and the previous word).
    """
    _check_kind(kind)
    if units <= 0:
        raise ValueError(f"units must be positive, got {units}")
    check_fraction(dropout, "dropout")
    if bidirectional and merge_mode is not None and merge_mode not in MERGE_MODES:
        raise ValueError(
            f"unknown merge_mode {merge_mode!r}; expected one of {', '.join(MERGE_MODES)}"
        )
    layer = _LAYER_CLASSES[kind](
        units,
        activation=activation,
        return_sequences=return_sequences,
        return_state=return_state,
        stateful=stateful,
        dropout=dropout,
        name=None if bidirectional else name,
    )
    if bidirectional:
        return keras.layers.Bidirectional(layer, merge_mode=merge_mode, name=name)
    return layer


def conv_recurrent(
    filters: int,
    kernel_size: int = 3,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    dropout: float = 0.0,
    name: str | None = None,
) -> keras.layers.Layer:
    """Return a convolutional LSTM over frames ``[T, H, W, C]`` (Shi et al. 2015): an LSTM
    whose input and recurrent transforms are 2-D convolutions (``filters`` output channels,
    ``same`` padding), so its states keep the image layout ``[H, W, filters]``."""
    if filters <= 0 or kernel_size <= 0:
        raise ValueError(f"filters and kernel_size must be positive, got {filters}, "
                         f"{kernel_size}")
    check_fraction(dropout, "dropout")
    return keras.layers.ConvLSTM2D(filters, kernel_size, padding="same",
                                   return_sequences=return_sequences,
                                   return_state=return_state, dropout=dropout, name=name)


def _check_units_list(units) -> list[int]:
    if isinstance(units, (str, bytes)) or not hasattr(units, "__iter__"):
        raise ValueError(f"units must be a non-empty list of positive integers, got {units!r}")
    units = list(units)
    if not units:
        raise ValueError("units must be a non-empty list of positive integers, got []")
    checked = []
    for u in units:
        if isinstance(u, bool) or not isinstance(u, numbers.Integral) or u <= 0:
            raise ValueError(f"units must be a non-empty list of positive integers, got {units!r}")
        checked.append(int(u))
    return checked


@keras.saving.register_keras_serializable(package="rnnzoo")
class RecurrentStack(keras.layers.Layer):
    """Several recurrent layers (built with `recurrent()`) applied one after the other.

    Every inner layer returns sequences except the last, which returns sequences only when
    ``return_sequences`` is true. After inner layer ``i`` (output ``y``, input ``x``):

    - residual: ``y = x + y`` when ``residual`` is true, the layer returns a sequence and
      the widths of ``x`` and ``y`` match. When the widths differ (e.g. the first layer, or
      a change of units, or a bidirectional ``concat`` that doubles the width) the residual
      is *skipped* for that layer: no projection and no extra weights. A last layer that
      returns only its final state gets no residual either.
    - layer norm: ``y = LayerNormalization(y)`` when ``layer_norm`` is true (post-norm,
      after the residual add).

    ``layers`` is the list of inner recurrent layers (``SimpleRNN``/``LSTM``/``GRU``, or
    ``Bidirectional`` wrappers), ``norms`` the matching ``LayerNormalization`` layers (empty
    without ``layer_norm``). Masks pass through to every inner layer; the stack's output
    mask is the input mask when it returns sequences, else None. A ``dtype`` given to the
    stack is applied to every inner layer. The inner LSTM/GRU keep Keras' cuDNN-eligible
    defaults.
    """

    def __init__(
        self,
        kind: str = "lstm",
        units: list[int] = (64,),
        *,
        residual: bool = False,
        layer_norm: bool = False,
        bidirectional: bool = False,
        merge_mode: str = "concat",
        return_sequences: bool = False,
        dropout: float = 0.0,
        activation: str = "tanh",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_kind(kind)
        units = _check_units_list(units)
        if bidirectional and merge_mode not in MERGE_MODES:
            raise ValueError(
                f"unknown merge_mode {merge_mode!r}; expected one of {', '.join(MERGE_MODES)}"
            )
        self.kind = kind
        self.units = units
        self.residual = bool(residual)
        self.layer_norm = bool(layer_norm)
        self.bidirectional = bool(bidirectional)
        self.merge_mode = merge_mode
        self.return_sequences = bool(return_sequences)
        self.dropout = float(dropout)
        self.activation = activation
        last = len(units) - 1
        self.layers = [
            recurrent(
                kind,
                u,
                bidirectional=self.bidirectional,
                merge_mode=merge_mode,
                return_sequences=(i < last) or self.return_sequences,
                dropout=self.dropout,
                activation=activation,
                name=f"{kind}_{i}",
            )
            for i, u in enumerate(units)
        ]
        self.norms = (
            [keras.layers.LayerNormalization(name=f"norm_{i}") for i in range(len(units))]
            if self.layer_norm
            else []
        )
        if kwargs.get("dtype") is not None:
            # Keras does not pass a layer's dtype on to the layers it creates: do it here so
            # that e.g. RecurrentStack(..., dtype="float64") computes in float64 throughout.
            for sub in [*self.layers, *self.norms]:
                for inner in sub._flatten_layers(include_self=True, recursive=True):
                    inner.dtype_policy = self.dtype_policy
        self.supports_masking = True

    def build(self, input_shape) -> None:
        shape = tuple(input_shape)
        for i, layer in enumerate(self.layers):
            if not layer.built:
                layer.build(shape)
            out_shape = tuple(layer.compute_output_shape(shape))
            if self.norms and not self.norms[i].built:
                self.norms[i].build(out_shape)
            shape = out_shape
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def finish_layer(self, index: int, layer_input, layer_output):
        """Apply inner layer ``index``'s residual add and layer norm to its raw output."""
        y = layer_output
        if (
            self.residual
            and len(y.shape) == 3
            and y.shape[-1] is not None
            and layer_input.shape[-1] == y.shape[-1]
        ):
            y = layer_input + y
        if self.norms:
            y = self.norms[index](y)
        return y

    def call_from(self, inputs, start: int, training=None, mask=None):
        """Run inner layers ``start`` .. end (with their residual and norm) on ``inputs``.

        ``inputs`` is what inner layer ``start`` receives, i.e. the finished output of layer
        ``start - 1`` (or the stack's input for ``start=0``). ``start == len(layers)``
        returns ``inputs`` unchanged.
        """
        if (
            isinstance(start, bool)
            or not isinstance(start, numbers.Integral)
            or not 0 <= start <= len(self.layers)
        ):
            raise ValueError(f"start must be in [0, {len(self.layers)}], got {start!r}")
        x = inputs
        for i in range(int(start), len(self.layers)):
            y = self.layers[i](x, training=training, mask=mask)
            x = self.finish_layer(i, x, y)
        return x

    def call(self, inputs, training=None, mask=None):
        return self.call_from(inputs, 0, training=training, mask=mask)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            kind=self.kind,
            units=list(self.units),
            residual=self.residual,
            layer_norm=self.layer_norm,
            bidirectional=self.bidirectional,
            merge_mode=self.merge_mode,
            return_sequences=self.return_sequences,
            dropout=self.dropout,
            activation=self.activation,
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> RecurrentStack:
        return cls(**config)


def recurrent_stack(
    kind: str,
    units: list[int],
    *,
    residual: bool = False,
    layer_norm: bool = False,
    bidirectional: bool = False,
    merge_mode: str = "concat",
    return_sequences: bool = False,
    dropout: float = 0.0,
    activation: str = "tanh",
    name: str | None = None,
) -> RecurrentStack:
    """Return one `RecurrentStack` layer of ``len(units)`` recurrent layers of ``kind``.

    ``units[i]`` is the width of inner layer ``i``. Residual connections are added only
    where input and output widths match (otherwise skipped, no projection); ``layer_norm``
    puts a LayerNormalization after each layer (after the residual add). See
    `RecurrentStack` for details.
    """
    return RecurrentStack(
        kind,
        units,
        residual=residual,
        layer_norm=layer_norm,
        bidirectional=bidirectional,
        merge_mode=merge_mode,
        return_sequences=return_sequences,
        dropout=dropout,
        activation=activation,
        name=name,
    )
