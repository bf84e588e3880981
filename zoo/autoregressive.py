"""`AutoregressiveBernoulli`: binary outputs over a vector (the keys of a piano-roll frame),
each conditioned on the ones below it.

For the K units of one time step, given the model's hidden features ``h`` and the modelled
vector ``x`` (0/1), the logit of unit ``k`` is ::

    logit_k = a_k(h) + g_k(x_0, ..., x_{k-1})

with ``a(h) = h @ context_kernel + context_bias`` and ``g`` one of two forms:

* ``triangular`` (MADE-style): ``g_k = sum_{j<k} W_kj x_j``. The kernel is multiplied by a
  constant strictly triangular mask in every call, so entries on or above the diagonal never
  act, whatever value training leaves in them.
* ``nade`` (Larochelle & Murray 2011): a hidden layer of ``hidden_units`` shared across units,
  ``z_k = sigmoid(c + sum_{j<k} V_j x_j)``, ``g_k = w_k . z_k``; the sums of every ``k`` are
  one exclusive cumulative sum over units (O(K H) per step, not O(K^2 H)). Its per-unit
  bias is ``a``'s.
* ``rnn-nade`` (Boulanger-Lewandowski et al. 2012): ``nade`` whose hidden bias is conditioned
  on the model's state as well, ``z_k = sigmoid(c + h @ U + sum_{j<k} V_j x_j)``: the state
  shapes how the keys interact, not only where each key sits.

Training feeds the true ``x`` (teacher forcing), so the logits give the exact log-likelihood
``log p(x | h) = sum_k log Bernoulli(x_k; sigmoid(logit_k))``: the binary cross-entropy from
logits summed over units. Sampling draws ``x_0, x_1, ...`` in order, each given the ones
already drawn (`tasks.music.keys`).

For ``triangular`` and ``nade``, ``g`` does not depend on ``h``: a model run with ``x = 0``
gives ``a(h) + g(0)``, and a sampler holding ``g``'s float parameters (`app_metadata`, stored
by `export` inside every TFLite file) draws all units of a step from that one output, without
running the model again. ``rnn-nade``'s ``g`` reads ``h`` through ``c + h @ U``: its sampler
also needs ``h``, the layer's hidden input, which in the zoo's piano-roll models is the last
recurrent layer's output and so its ``state_h`` (`tasks.music.keys`); ``U`` is in the metadata.
"""

from __future__ import annotations

import keras
import numpy as np

from zoo.array_codec import encode_array

FORMS = ("triangular", "nade", "rnn-nade")
CONDITIONED_FORMS = ("rnn-nade",)  # forms whose g reads the hidden input h
METADATA_KIND = "autoregressive_bernoulli"


@keras.saving.register_keras_serializable(package="rnnzoo")
class AutoregressiveBernoulli(keras.layers.Layer):
    """Logits of ``units`` binary outputs, unit ``k`` conditioned on the true units ``< k``.

    Called on ``[hidden, x]`` (``[..., H]`` and ``[..., units]``), returns ``[..., units]``
    logits. ``form``: ``triangular``, ``nade`` or ``rnn-nade`` (``hidden_units`` wide); see
    the module docstring. Acts on each time step on its own (`export.step` replays it on one step).
    """

    acts_per_step = True  # export.step: no mixing across the time axis

    def __init__(self, units: int, form: str = "triangular", hidden_units: int = 100,
                 **kwargs):
        super().__init__(**kwargs)
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; expected one of {', '.join(FORMS)}")
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if not isinstance(hidden_units, int) or hidden_units < 1:
            raise ValueError(f"hidden_units must be a positive integer, got {hidden_units!r}")
        self.units, self.form, self.hidden_units = units, form, hidden_units
        # mask[j, k] = 1 where input unit j may act on output unit k (j < k)
        self._mask = np.triu(np.ones((units, units), np.float32), k=1)

    def build(self, input_shape):
        hidden_shape, x_shape = input_shape
        if x_shape[-1] != self.units:
            raise ValueError(f"{self.name}: the modelled vector has {x_shape[-1]} units, the "
                             f"layer {self.units}")
        self.context_kernel = self.add_weight(name="context_kernel",
                                              shape=(hidden_shape[-1], self.units),
                                              initializer="glorot_uniform")
        self.context_bias = self.add_weight(name="context_bias", shape=(self.units,),
                                            initializer="zeros")
        if self.form == "triangular":
            self.kernel = self.add_weight(name="kernel", shape=(self.units, self.units),
                                          initializer="glorot_uniform")
        else:
            self.input_kernel = self.add_weight(name="input_kernel",
                                                shape=(self.units, self.hidden_units),
                                                initializer="glorot_uniform")
            self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.hidden_units,),
                                               initializer="zeros")
            self.output_kernel = self.add_weight(name="output_kernel",
                                                 shape=(self.units, self.hidden_units),
                                                 initializer="glorot_uniform")
            if self.form in CONDITIONED_FORMS:
                self.hidden_context_kernel = self.add_weight(
                    name="hidden_context_kernel", shape=(hidden_shape[-1], self.hidden_units),
                    initializer="glorot_uniform")

    def call(self, inputs):
        hidden, x = inputs
        x = keras.ops.cast(x, self.compute_dtype)
        logits = keras.ops.matmul(hidden, self.context_kernel) + self.context_bias
        if self.form == "triangular":
            mask = keras.ops.convert_to_tensor(self._mask, dtype=self.compute_dtype)
            return logits + keras.ops.matmul(x, self.kernel * mask)
        terms = keras.ops.expand_dims(x, -1) * self.input_kernel  # [..., K, H]
        # exclusive sum over j < k: a zero row, then the running sums of terms 0..K-2 (so
        # unit k's sum never touches the terms of units >= k, not even through rounding)
        below = keras.ops.concatenate([keras.ops.zeros_like(terms[..., :1, :]),
                                       keras.ops.cumsum(terms[..., :-1, :], axis=-2)], axis=-2)
        bias = self.hidden_bias
        if self.form in CONDITIONED_FORMS:  # [..., 1, H]: one bias per step, shared by keys
            bias = keras.ops.expand_dims(
                keras.ops.matmul(hidden, self.hidden_context_kernel) + bias, -2)
        z = keras.ops.sigmoid(below + bias)
        return logits + keras.ops.sum(z * self.output_kernel, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[1][:-1], self.units)

    def key_parameters(self) -> dict[str, np.ndarray]:
        """The float32 parameters of ``g`` (the part that reads the lower units): ``W``
        (``[K, K]``, ``W[k, j]`` acts from unit ``j`` on unit ``k``, zero for ``j >= k``) for
        ``triangular``; ``V`` (``[K, H]``), ``c`` (``[H]``), ``w`` (``[K, H]``) for ``nade``;
        and ``U`` (``[hidden input, H]``, the hidden bias read from ``h``) for ``rnn-nade``."""
        if self.form == "triangular":
            kernel = keras.ops.convert_to_numpy(self.kernel).astype(np.float32)
            return {"W": (kernel * self._mask).T.copy()}
        weights = [("V", self.input_kernel), ("c", self.hidden_bias), ("w", self.output_kernel)]
        if self.form in CONDITIONED_FORMS:
            weights.append(("U", self.hidden_context_kernel))
        return {name: keras.ops.convert_to_numpy(weight).astype(np.float32)
                for name, weight in weights}

    def app_metadata(self) -> dict:
        """What a sampler needs beside the model's graph (JSON): the form and `key_parameters`.
        `export` stores it in every exported file's metadata (``layer_data``)."""
        return {"kind": METADATA_KIND, "form": self.form, "units": self.units,
                "arrays": {n: encode_array(a) for n, a in self.key_parameters().items()}}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, form=self.form, hidden_units=self.hidden_units)
        return config
