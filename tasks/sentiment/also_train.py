"""More labelled training text: ``rnnzoo train sentiment --data SST2 --also-train DATASET``
adds the *training split* of other labelled sentiment datasets (`tasks.sentiment.data`: the
UCI sentences, the polarity reviews, another SST-2 folder) to the training split of
``--data``. Validation (the epoch choice) and test stay those of ``--data``, and the other
datasets' validation and test splits are never read.

A sentence with the same words (punctuation and case ignored, `lm._key`) as a validation or
test text of ``--data`` is left out, so that nothing scored is trained on; a note on stderr
counts them. The texts are encoded with the model's vocabulary and length, like the training
split.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import numpy as np

from tasks.common.vocabulary import Vocabulary
from tasks.sentiment.data import Labelled, read_labelled
from tasks.sentiment.encoding import encode_texts
from tasks.sentiment.lm import _key


def also_train_texts(paths: Sequence[str], held_out: Iterable[str]) -> Labelled:
    """The training splits of the labelled datasets at ``paths``, in order, without the
    texts equal to a ``held_out`` one (see the module docstring)."""
    held_out = {_key(text) for text in held_out}
    out = Labelled([], [], [])
    for path in paths:
        data = read_labelled(path, "train")
        kept = [i for i, text in enumerate(data.texts) if _key(text) not in held_out]
        if len(kept) < len(data):
            print(f"note: --also-train {path}: {len(data) - len(kept)} of {len(data)} "
                  f"training text(s) left out (the same words as a validation or test text)",
                  file=sys.stderr)
        out.texts += [data.texts[i] for i in kept]
        out.labels += [data.labels[i] for i in kept]
        out.where += [data.where[i] for i in kept]
    return out


def also_train_set(train, paths: Sequence[str], held_out: Iterable[str],
                   vocabulary: Vocabulary, max_length: int):
    """``train`` (unbatched ``(ids, label)``) followed by the examples of `also_train_texts`,
    and those texts (which distillation must not label again)."""
    import tensorflow as tf

    extra = also_train_texts(paths, held_out)
    if not extra.texts:
        return train, extra.texts
    ids, report = encode_texts(extra.texts, vocabulary, max_length, extra.where)
    message = report.message("--also-train texts")
    if message:
        print(f"note: {message}", file=sys.stderr)
    more = tf.data.Dataset.from_tensor_slices((ids, np.asarray(extra.labels, np.int32)))
    return train.concatenate(more), extra.texts
