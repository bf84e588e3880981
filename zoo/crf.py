"""A linear-chain conditional random field as a Keras layer, and the tagger model it trains.

`CRF` holds the transition scores of a tag sequence: ``transitions[i, j]`` (tag i followed
by tag j), ``start[j]`` (a sentence begins with j) and ``end[i]`` (it ends with i). The score
of tags ``y`` for emission scores ``e`` (one row of K scores per token) is

    s(y) = start[y_0] + sum_t e[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_last]

and the CRF's probability is ``exp(s(y)) / Z`` with ``Z`` summed over all K^T sequences
(the forward algorithm, in log space). Padding (a ``mask`` of False after the last token)
is not scored: the sequence ends at its last real token.

Constraints: ``allowed`` (K x K) and ``allowed_start`` (K) are fixed, not trained: a
forbidden transition gets `FORBIDDEN` added to its score in the likelihood and in Viterbi,
so no decoded path contains one (IOB2: ``I-X`` only after ``B-X`` or ``I-X``, never first;
`iob_constraints`). They are kept apart from the trained weights so that the weights stay
small numbers (int8-friendly) and the constraint is exact.

`CRF.call` is the Viterbi decode (the best path's tag ids, 0 at padding), a fixed-length
loop of builtin ops (max, min, select, add, one-hot) that converts to TFLite without custom ops;
`CRF.log_likelihood` is the training objective. The layer keeps float in full-int8 files
(``keep_float_in_int8``): Viterbi sums scores over the whole sentence. `CRFTagger` is a
functional model whose output is the decode and whose ``train_step``/``test_step`` use the
negative log-likelihood of the emissions instead, so the compiled loss is not used.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

FORBIDDEN = -10_000.0


def iob_constraints(tags: Sequence[str]) -> tuple[list[list[bool]], list[bool]]:
    """``(allowed, allowed_start)`` for IOB2 tags (``O``, ``B-X``, ``I-X``): ``I-X`` may
    follow only ``B-X`` or ``I-X`` and may not start a sentence; all else is allowed."""
    def ok(previous: str | None, tag: str) -> bool:
        if not tag.startswith("I-"):
            return True
        return previous is not None and previous[:2] in ("B-", "I-") and previous[2:] == tag[2:]

    allowed = [[ok(p, t) for t in tags] for p in tags]
    return allowed, [ok(None, t) for t in tags]


def _first_index_of(values, top, axis: int):
    """The first index along ``axis`` where ``values`` equals its maximum ``top`` (reduced
    over ``axis``), as float32: argmax from min and select, which TFLite has as builtin
    ops (Keras' TensorFlow argmax adds a bitwise op)."""
    size = values.shape[axis]
    shape = [1] * len(values.shape)
    shape[axis] = size
    index = ops.reshape(ops.arange(size, dtype="float32"), shape)
    hits = ops.equal(values, ops.expand_dims(top, axis))
    return ops.min(ops.where(hits, index, float(size)), axis=axis)


@keras.saving.register_keras_serializable(package="rnnzoo")
class CRF(keras.layers.Layer):
    """Linear-chain CRF over ``num_tags`` tags (see the module docstring).

    Called on ``[emissions, mask]`` (float ``[B, T, K]`` and bool or int ``[B, T]``, True or
    nonzero for real tokens; a mask that starts with a False position is not supported):
    returns the Viterbi tag ids, int32 ``[B, T]``, 0 at padding.
    """

    keep_float_in_int8 = True

    def __init__(self, num_tags: int, allowed: list[list[bool]] | None = None,
                 allowed_start: list[bool] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = int(num_tags)
        k = self.num_tags
        self.allowed = [[bool(v) for v in row] for row in allowed] if allowed is not None \
            else [[True] * k for _ in range(k)]
        self.allowed_start = [bool(v) for v in allowed_start] if allowed_start is not None \
            else [True] * k
        if np.shape(self.allowed) != (k, k) or len(self.allowed_start) != k:
            raise ValueError(f"CRF: allowed must be {k} x {k} and allowed_start {k} long")
        self._penalty = np.where(np.array(self.allowed), 0.0, FORBIDDEN).astype("float32")
        self._start_penalty = np.where(np.array(self.allowed_start), 0.0,
                                       FORBIDDEN).astype("float32")

    def build(self, input_shape=None):
        k = self.num_tags
        init = keras.initializers.RandomUniform(-0.1, 0.1)
        self.transitions = self.add_weight(shape=(k, k), initializer=init, name="transitions")
        self.start = self.add_weight(shape=(k,), initializer="zeros", name="start")
        self.end = self.add_weight(shape=(k,), initializer="zeros", name="end")
        self.built = True

    # scores with the fixed constraints -------------------------------------------------------
    def _scores(self):
        return (self.transitions + ops.convert_to_tensor(self._penalty),
                self.start + ops.convert_to_tensor(self._start_penalty), self.end)

    # training objective --------------------------------------------------------------------
    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | emissions) per sequence, float ``[B]``; ``tags`` int ``[B, T]``."""
        emissions = ops.cast(emissions, "float32")
        steps = emissions.shape[1]
        mask = self._mask(emissions, mask)
        trans, start, end = self._scores()
        onehot = ops.one_hot(ops.cast(tags, "int32"), self.num_tags)  # [B, T, K]
        # the gold path's score
        emitted = ops.sum(ops.sum(emissions * onehot, axis=-1) * mask, axis=1)
        pair = ops.einsum("bti,ij,btj->bt", onehot[:, :-1], trans, onehot[:, 1:])
        moved = ops.sum(pair * mask[:, 1:], axis=1)
        last = ops.sum(onehot * ops.expand_dims(self._last_position(mask), -1), axis=1)
        gold = (ops.sum(onehot[:, 0] * start, axis=-1) + emitted + moved
                + ops.sum(last * end, axis=-1))
        # the log partition function (forward algorithm)
        alpha = start + emissions[:, 0]
        for t in range(1, steps):
            step = ops.logsumexp(ops.expand_dims(alpha, 2) + trans, axis=1) + emissions[:, t]
            keep = ops.expand_dims(mask[:, t], 1)
            alpha = keep * step + (1.0 - keep) * alpha
        return gold - ops.logsumexp(alpha + end, axis=1)

    def loss(self, emissions, tags, mask=None):
        """Mean negative log-likelihood over the batch."""
        return -ops.mean(self.log_likelihood(emissions, tags, mask))

    # decoding -----------------------------------------------------------------------------------
    def call(self, inputs):
        emissions, mask = inputs
        return self.viterbi(emissions, mask)

    def viterbi(self, emissions, mask=None):
        """The best path's tag ids, int32 ``[B, T]``, 0 at padding (a fixed-length loop of
        builtin ops: a padded step keeps the scores and points back to the same tag)."""
        emissions = ops.cast(emissions, "float32")
        steps, k = emissions.shape[1], self.num_tags
        mask = self._mask(emissions, mask)
        trans, start, end = self._scores()
        identity = ops.expand_dims(ops.arange(k, dtype="float32"), 0)  # [1, K]
        score = start + emissions[:, 0]
        pointers = []
        for t in range(1, steps):
            candidates = ops.expand_dims(score, 2) + trans  # [B, K(from), K(to)]
            top = ops.max(candidates, axis=1)
            best = top + emissions[:, t]
            came_from = _first_index_of(candidates, top, axis=1)
            keep = ops.expand_dims(mask[:, t], 1)
            score = keep * best + (1.0 - keep) * score
            pointers.append(keep * came_from + (1.0 - keep) * identity)
        final = score + end
        tag = _first_index_of(final, ops.max(final, axis=1), axis=1)  # [B]
        path = [tag]
        for came_from in reversed(pointers):
            tag = ops.sum(came_from * ops.one_hot(ops.cast(tag, "int32"), k), axis=1)
            path.append(tag)
        tags = ops.stack(path[::-1], axis=1)
        return ops.cast(tags * mask, "int32")

    # helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _mask(emissions, mask):
        if mask is None:
            return ops.ones(ops.shape(emissions)[:2], dtype="float32")
        return ops.cast(ops.not_equal(ops.cast(mask, "int32"), 0), "float32")

    @staticmethod
    def _last_position(mask):
        """One-hot ``[B, T]`` of each sequence's last real position."""
        following = ops.concatenate([mask[:, 1:], ops.zeros_like(mask[:, :1])], axis=1)
        return mask * (1.0 - following)

    def compute_output_spec(self, inputs):
        emissions = inputs[0]
        return keras.KerasTensor(emissions.shape[:2], dtype="int32")

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tags": self.num_tags, "allowed": self.allowed,
                "allowed_start": self.allowed_start}

    def app_metadata(self) -> dict:
        """The trained scores with the constraints added, for an app that decodes the
        emissions itself (stored in exported files' metadata)."""
        trans, start, end = (np.asarray(ops.convert_to_numpy(v)).round(6).tolist()
                             for v in self._scores())
        return {"transitions": trans, "start": start, "end": end}


@keras.saving.register_keras_serializable(package="rnnzoo")
class CRFTagger(keras.Model):
    """A functional tagger ``inputs -> Viterbi tags`` whose CRF layer (named ``crf``) is
    called on ``[emissions, mask]``; training and validation score the negative
    log-likelihood of the emissions (the decode is not run), reported as ``loss``.

    Build it with ``CRFTagger(inputs=..., outputs=crf([emissions, mask]))``.
    """

    def _emitter(self) -> keras.Model:
        emitter = self.__dict__.get("_rnnzoo_emitter")
        if emitter is None:
            crf = self.get_layer("crf")
            emissions, mask = crf._inbound_nodes[0].input_tensors
            emitter = keras.Model(self.inputs, [emissions, mask])
            object.__setattr__(self, "_rnnzoo_emitter", emitter)  # not tracked: shares layers
        return emitter

    def crf_loss(self, x, y, training: bool):
        """Mean negative log-likelihood of tags ``y`` for inputs ``x``."""
        emissions, mask = self._emitter()(x, training=training)
        return self.get_layer("crf").loss(emissions, y, mask)

    def train_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            loss = self.crf_loss(x, y, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = loss / replicas if replicas > 1 else loss
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(y)[0])
        return {"loss": self._loss_tracker.result()}

    def test_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        loss = self.crf_loss(x, y, training=False)
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(y)[0])
        return {"loss": self._loss_tracker.result()}
