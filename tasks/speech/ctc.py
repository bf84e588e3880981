"""CTC pieces shared by the sequence tasks: label encoding, loss, decoding, WER/CER metric.

Conventions: a model emits logits ``[batch, frames, 1 + len(labels)]``; index 0 is the CTC
blank and index ``i + 1`` is ``labels[i]``. Targets are ``[batch, max_len]`` int32 label
indices (1-based) padded with 0. A transcript joins the labels with ``separator`` (" " for
word labels such as digits or yes/no, "" for characters).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tasks.common.metrics import batched_predictions


def encode(tokens: Sequence[str], labels: Sequence[str], max_len: int) -> np.ndarray:
    """Targets row: 1-based indices of ``tokens`` in ``labels``, zero-padded to ``max_len``."""
    index = {label: i + 1 for i, label in enumerate(labels)}
    unknown = [t for t in tokens if t not in index]
    if unknown:
        raise ValueError(f"tokens not in the label set: {sorted(set(unknown))}")
    if len(tokens) > max_len:
        raise ValueError(f"{len(tokens)} tokens are more than max_len={max_len}")
    row = np.zeros(max_len, np.int32)
    row[: len(tokens)] = [index[t] for t in tokens]
    return row


def decode_ids(ids: Sequence[int], labels: Sequence[str], separator: str) -> str:
    """The transcript of 1-based label ids (0 = padding/blank is dropped)."""
    return separator.join(labels[i - 1] for i in ids if i > 0)


@keras.saving.register_keras_serializable(package="rnnzoo")
class CTCLoss(keras.losses.Loss):
    """CTC loss of logits ``[batch, frames, 1 + labels]`` (blank 0) against zero-padded targets."""

    def __init__(self, name: str = "ctc", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.int32)
        label_length = tf.reduce_sum(tf.cast(labels > 0, tf.int32), axis=-1)
        shape = tf.shape(y_pred)
        logit_length = tf.fill([shape[0]], shape[1])
        return tf.nn.ctc_loss(labels, tf.cast(y_pred, tf.float32), label_length, logit_length,
                              logits_time_major=False, blank_index=0)


def greedy(logits: np.ndarray) -> list[list[int]]:
    """Best path decoding: argmax per frame, repeats merged, blanks dropped (1-based ids)."""
    best = np.asarray(logits).argmax(axis=-1)
    out = []
    for row in best:
        keep = np.ones_like(row, dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        out.append([int(i) for i in row[keep] if i != 0])
    return out


def beam_search(logits: np.ndarray, beam_width: int = 8) -> list[list[int]]:
    """CTC prefix beam search (TensorFlow's decoder; no language model), 1-based ids."""
    logits = np.asarray(logits, np.float32)
    # tf.nn.ctc_beam_search_decoder wants the blank last and time-major input
    rolled = np.concatenate([logits[..., 1:], logits[..., :1]], axis=-1).transpose(1, 0, 2)
    lengths = np.full(logits.shape[0], logits.shape[1], np.int32)
    decoded, _ = tf.nn.ctc_beam_search_decoder(rolled, lengths, beam_width=beam_width, top_paths=1)
    dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
    return [[int(i) + 1 for i in row if i >= 0] for row in dense]


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus WER and CER (jiwer); empty references count as one word."""
    import jiwer

    refs = [r if r.strip() else "<empty>" for r in references]
    hyps = [h if h.strip() else "" for h in hypotheses]
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}


def metric_for(labels: Sequence[str], separator: str, beam_width: int = 8):
    """A task metric: greedy WER/CER (primary), beam-search WER/CER, sentence accuracy."""

    def metric(model_fn, dataset) -> dict[str, float]:
        logits, targets = batched_predictions(model_fn, dataset, batch_size=32)
        references = [decode_ids(row, labels, separator) for row in targets]
        figures = {}
        for name, decoder in (("", greedy), ("_beam", lambda x: beam_search(x, beam_width))):
            hypotheses = [decode_ids(ids, labels, separator) for ids in decoder(logits)]
            for key, value in error_rates(references, hypotheses).items():
                figures[key + name] = value
            if not name:
                figures["sentence_accuracy"] = float(np.mean(
                    [r == h for r, h in zip(references, hypotheses)]))
        figures["utterances"] = len(references)
        return figures

    return metric


def transcribe_logits(logits: np.ndarray, labels: Sequence[str], separator: str,
                      beam_width: int = 0) -> str:
    """The transcript of one utterance's logits ``[frames, 1 + labels]``."""
    if len(logits) == 0:
        return ""
    ids = beam_search(logits[None], beam_width)[0] if beam_width > 1 else greedy(logits[None])[0]
    return decode_ids(ids, labels, separator)


def add_ctc_predict_options(parser: argparse.ArgumentParser) -> None:
    """``rnnzoo predict`` options of the CTC tasks."""
    parser.add_argument("--beam", type=int, default=0, metavar="WIDTH",
                        help="beam-search decoding with this beam width (default: greedy)")
    parser.add_argument("--stream", action="store_true",
                        help="run chunk by chunk (streaming models) and print partial results")
    parser.add_argument("--chunk-ms", type=float, default=100.0,
                        help="chunk length for --stream in milliseconds (default: 100)")
