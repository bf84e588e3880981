"""The key loop of autoregressive piano-roll models, in numpy (`KeyModel`).

An autoregressive output layer (`zoo.autoregressive.AutoregressiveBernoulli`) gives key ``k``
the logit ``a_k(h) + g_k(x_<k)``: ``a`` from the recurrent state, ``g`` from the keys of the
same frame below ``k``. A step model run with an all-zero frame returns ``a + g(0)``; from
that output and ``g``'s parameters, `KeyModel.sample` draws the keys in order, each from its
logit given the keys already drawn, and `KeyModel.logits` scores a given frame. The parameters
come from the layer (`KeyModel.from_layer`) or from the ``layer_data`` metadata of an exported
TFLite file (`KeyModel.from_metadata`), so the Keras and TFLite samplers share this code. Needs
numpy only.

The ``rnn-nade`` form's ``g`` reads the state as well (its NADE hidden bias is ``c + h @ U``),
so every method takes ``context``: the layer's hidden input ``h`` at that step (`conditioned`
says whether it is needed). The steppers supply it as their ``context``: the last recurrent
layer's output, which is its ``state_h``.
"""

from __future__ import annotations

import numpy as np

from zoo.array_codec import decode_array  # numpy only

METADATA_KIND = "autoregressive_bernoulli"  # as zoo.autoregressive writes it


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


NEEDED_ARRAYS = {"triangular": {"W"}, "nade": {"V", "c", "w"}, "rnn-nade": {"V", "c", "w", "U"}}


class KeyModel:
    """``g`` of one autoregressive output layer: ``triangular`` (``W`` ``[K, K]``, strictly
    lower triangular), ``nade`` (``V`` and ``w`` ``[K, H]``, ``c`` ``[H]``) or ``rnn-nade``
    (those and ``U`` ``[hidden input, H]``)."""

    def __init__(self, form: str, arrays: dict[str, np.ndarray]):
        needed = NEEDED_ARRAYS.get(form)
        if needed is None:
            raise ValueError(f"unknown autoregressive form {form!r}")
        if not needed <= set(arrays):
            raise ValueError(f"{form} key model needs arrays {sorted(needed)}, got "
                             f"{sorted(arrays)}")
        self.form = form
        self.conditioned = form == "rnn-nade"  # g reads the hidden input (``context``)
        self.arrays = {n: np.asarray(a, np.float64) for n, a in arrays.items()}
        if form == "triangular":
            W = self.arrays["W"]
            if W.ndim != 2 or W.shape[0] != W.shape[1] or np.triu(W).any():
                raise ValueError("W must be square and strictly lower triangular")
            self.keys = W.shape[0]
        else:
            self.keys = self.arrays["V"].shape[0]

    @classmethod
    def from_metadata(cls, entry: dict) -> KeyModel:
        """From an ``app_metadata`` entry (``{"kind", "form", "arrays"}``)."""
        if entry.get("kind") != METADATA_KIND:
            raise ValueError(f"not an autoregressive layer's metadata (kind "
                             f"{entry.get('kind')!r})")
        return cls(entry["form"], {n: decode_array(a) for n, a in entry["arrays"].items()})

    @classmethod
    def from_layer(cls, layer) -> KeyModel:
        """From a Keras `AutoregressiveBernoulli` layer (through its ``app_metadata``, the
        same path as an exported file's)."""
        return cls.from_metadata(layer.app_metadata())

    def hidden_bias(self, context: np.ndarray | None) -> np.ndarray:
        """The NADE hidden bias, ``c`` or (``rnn-nade``) ``c + context @ U`` (``[..., H]``)."""
        if not self.conditioned:
            return self.arrays["c"]
        if context is None:
            raise ValueError(f"the {self.form} key model needs the hidden input (context) of "
                             f"its layer")
        return self.arrays["c"] + np.asarray(context, np.float64) @ self.arrays["U"]

    def offsets(self, frame: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """``g(frame)``: the part of every key's logit that the frame's lower keys give;
        ``frame`` is ``[..., K]`` (``context`` ``[..., hidden input]`` for ``rnn-nade``)."""
        x = np.asarray(frame, np.float64)
        if self.form == "triangular":
            return x @ self.arrays["W"].T
        terms = x[..., :, None] * self.arrays["V"]
        below = np.concatenate([np.zeros_like(terms[..., :1, :]),
                                np.cumsum(terms[..., :-1, :], axis=-2)], axis=-2)
        bias = self.hidden_bias(context)[..., None, :]
        return (_sigmoid(below + bias) * self.arrays["w"]).sum(-1)

    def logits(self, zero_logits: np.ndarray, frame: np.ndarray,
               context: np.ndarray | None = None) -> np.ndarray:
        """Every key's logit given the true lower keys of ``frame``, from the model's output
        for an all-zero frame (``a + g(0)``)."""
        zero_logits = np.asarray(zero_logits, np.float64)
        zero = np.zeros(np.shape(zero_logits))
        return zero_logits - self.offsets(zero, context) + self.offsets(frame, context)

    def log_prob(self, zero_logits: np.ndarray, frame: np.ndarray,
                 context: np.ndarray | None = None) -> np.ndarray:
        """``log p(frame)`` in nats (summed over keys), exact."""
        logits = self.logits(zero_logits, frame, context)
        x = np.asarray(frame, np.float64)
        return -(x * np.logaddexp(0.0, -logits) + (1 - x) * np.logaddexp(0.0, logits)).sum(-1)

    def greedy(self, zero_logits: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """The frame whose keys are each on where their logit, given the keys below already
        chosen, is positive (a key-by-key approximation of the most likely frame)."""
        return self.sample(zero_logits, np.full(self.keys, 0.5), context=context)

    def sample(self, zero_logits: np.ndarray, uniforms: np.ndarray,
               temperature: float = 1.0, context: np.ndarray | None = None) -> np.ndarray:
        """One frame ``[K]`` (0/1 float32), drawn key by key from the lowest: key ``k`` sounds
        when ``uniforms[k] < sigmoid(logit_k / temperature)``, its logit given the keys
        already drawn. ``zero_logits``: the model's output for an all-zero frame;
        ``context``: the layer's hidden input at this step (``rnn-nade`` only)."""
        a = (np.asarray(zero_logits, np.float64)
             - self.offsets(np.zeros(self.keys), context))
        x = np.zeros(self.keys, np.float32)
        if self.form == "triangular":
            W, below = self.arrays["W"], np.zeros(self.keys)
            for k in range(self.keys):
                if uniforms[k] < _sigmoid((a[k] + below[k]) / temperature):
                    x[k] = 1.0
                    below += W[:, k]
            return x
        V, w = self.arrays["V"], self.arrays["w"]
        pre = np.array(self.hidden_bias(context), np.float64).reshape(-1)
        for k in range(self.keys):
            logit = a[k] + float(w[k] @ _sigmoid(pre))
            if uniforms[k] < _sigmoid(logit / temperature):
                x[k] = 1.0
                pre += V[k]
        return x
