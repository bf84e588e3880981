"""Texts -> fixed-length token ids for the sentiment classifier.

Tokens: `tasks.common.vocabulary` with ``punctuation="split"`` (punctuation marks are tokens:
"!" and "?" carry sentiment, and SST is tokenized that way). Ids: the vocabulary's, unknown
words ``<unk>`` (3), no ``<start>``/``<end>``; right-padded with ``<pad>`` (0) to
``max_length``. A longer text keeps its first ``max_length`` tokens; how many texts were cut
is counted in a `TruncationReport` and printed by the loaders (default length 64 tokens: the
longest SST-2 sentence has 56).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from tasks.common.text_lines import TruncationReport
from tasks.common.vocabulary import PAD_ID, Vocabulary

PUNCTUATION = "split"
DEFAULT_MAX_LENGTH = 64


def encode_texts(texts: Sequence[str], vocabulary: Vocabulary, max_length: int,
                 where: Sequence[str] | None = None) -> tuple[np.ndarray, TruncationReport]:
    """``[len(texts), max_length]`` int32 ids (see the module docstring) and the report of
    the texts cut; ``where`` names each text (``file:line``) in the report's examples."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    report = TruncationReport(max_length)
    ids = np.full((len(texts), max_length), PAD_ID, np.int32)
    for i, text in enumerate(texts):
        row = vocabulary.encode(text, add_start_end=False)
        report.add(len(row), where[i] if where is not None else None)
        row = row[:max_length]
        ids[i, :len(row)] = row
    return ids, report


def add_encoder_options(group: argparse._ArgumentGroup, *, dropout: float,
                        embedding_dropout: float, embedding_note: str = "") -> None:
    """The options of the embedding and bidirectional encoder that the sentiment classifier
    and the word language model share (so that ``--from`` finds the same layers), with each
    task's dropout defaults."""
    group.add_argument("--kind", choices=("lstm", "gru"), default="lstm",
                       help="recurrent kind of the bidirectional encoder (default: lstm)")
    group.add_argument("--embedding-dim", type=int, default=64,
                       help=f"word embedding width{embedding_note} (default: 64)")
    group.add_argument("--units", type=int, default=128,
                       help="units per direction of the encoder (default: 128)")
    group.add_argument("--dropout", type=float, default=dropout,
                       help=f"dropout before the output layer (default: {dropout})")
    group.add_argument("--embedding-dropout", type=float, default=embedding_dropout,
                       help=f"spatial dropout of the word embeddings (default: "
                            f"{embedding_dropout})")
