"""Task ``translation``: sentence translation with an attention encoder-decoder.

Data: `tasks.translation.data` (a folder of parallel files such as Multi30k, or a
tab-separated file of pairs such as Tatoeba's, with a fixed held-out part); subwords: a
joint SentencePiece model learned from the training pairs only (`tasks.common.subwords`),
kept in the model's config (and as ``assets/subwords.model``); metric: sacrebleu BLEU of
greedy translations, detokenized (`tasks.translation.bleu`); model: `zoo.translation`;
``rnnzoo predict``: `tasks.translation.predict`.
"""

from __future__ import annotations

import argparse
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tasks.common.task import Task
from tasks.translation.data import (
    MAX_LENGTH,
    MAX_SOURCE_LENGTH,
    TEST_SET,
    encode,
    read_pairs,
    training_sentences,
)

VOCABULARY_SIZE, SUBWORD_MODEL = 4000, "unigram"
DATA_OPTIONS = ("source", "target", "test_set", "reverse", "max_source_length", "max_length",
                "max_pairs")


def _subwords(subwords):
    from tasks.common.subwords import Subwords

    if not subwords:
        raise ValueError("translation data needs the model's subword model (the 'subwords' "
                         "data option, which 'rnnzoo train' records in the card)")
    return subwords if isinstance(subwords, Subwords) else Subwords.from_text(subwords)


def arrays(path: str | os.PathLike, split: str = "train", *, subwords=None,
           source: str = "en", target: str = "de", test_set: str = TEST_SET,
           reverse: bool = False, max_source_length: int = MAX_SOURCE_LENGTH,
           max_length: int = MAX_LENGTH, max_pairs: int | None = None,
           quiet: bool = False) -> tuple[dict, np.ndarray]:
    """The encoded examples of one split as arrays (`tasks.translation.data.encode`)."""
    pairs = read_pairs(path, split, source=source, target=target, test_set=test_set,
                       reverse=reverse, max_pairs=max_pairs)
    return encode(pairs, _subwords(subwords), max_source_length=max_source_length,
                  max_length=max_length, quiet=quiet)


def load(path: str | os.PathLike, split: str = "train", *, subwords=None, source: str = "en",
         target: str = "de", test_set: str = TEST_SET, reverse: bool = False,
         max_source_length: int = MAX_SOURCE_LENGTH, max_length: int = MAX_LENGTH,
         max_pairs: int | None = None) -> tf.data.Dataset:
    """Unbatched examples ``({"source": [max_source_length], "tokens": [max_length]},
    target [max_length])`` of one split; options as `arrays` (``subwords``: the model's
    subword model as `Subwords.to_text`)."""
    inputs, target_ids = arrays(path, split, subwords=subwords, source=source, target=target,
                                test_set=test_set, reverse=reverse,
                                max_source_length=max_source_length, max_length=max_length,
                                max_pairs=max_pairs)
    return tf.data.Dataset.from_tensor_slices((inputs, target_ids))


def representative(path: str | os.PathLike, n: int = 100, *, subwords=None, source: str = "en",
                   target: str = "de", test_set: str = TEST_SET, reverse: bool = False,
                   max_source_length: int = MAX_SOURCE_LENGTH, max_length: int = MAX_LENGTH,
                   max_pairs: int | None = None) -> list[dict]:
    """Up to ``n`` training pairs spread over the split (batch axis of 1) for int8
    calibration; options as `load`."""
    inputs, _ = arrays(path, "train", subwords=subwords, source=source, target=target,
                       test_set=test_set, reverse=reverse, max_source_length=max_source_length,
                       max_length=max_length, max_pairs=max_pairs, quiet=True)
    count = len(inputs["source"])
    picked = list(range(0, count, max(1, count // max(1, n))))[:n]
    return [{k: v[i:i + 1] for k, v in inputs.items()} for i in picked]


def metric(model_fn, dataset, *, subwords=None) -> dict:
    """BLEU and chrF (sacrebleu, 0-100) of greedy translations, detokenized, against the
    references; ``subwords``: the model's subword model (a data option)."""
    from tasks.translation.bleu import translation_metric

    return translation_metric(model_fn, dataset, subwords=_subwords(subwords))


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("translation data")
    data.add_argument("--source", default=None, metavar="LANG",
                      help="source language: the suffix of a folder's parallel files, e.g. "
                           "train.en.gz (default: en)")
    data.add_argument("--target", default=None, metavar="LANG",
                      help="target language (default: de)")
    data.add_argument("--test-set", default=None, metavar="NAME",
                      help=f"the test files of a folder, NAME.<lang>[.gz] (default: {TEST_SET})")
    data.add_argument("--reverse", action="store_true",
                      help="a tab-separated file: translate its second column into its first")
    data.add_argument("--max-source-length", type=int, default=None,
                      help=f"source subword ids the model reads; longer sentences are cut, "
                           f"with a count on stderr (default: {MAX_SOURCE_LENGTH})")
    data.add_argument("--max-length", type=int, default=None,
                      help=f"target subword ids with <start>/<end> (default: {MAX_LENGTH})")
    data.add_argument("--max-pairs", type=int, default=None,
                      help="use only the first N pairs of every split (quick runs; recorded, "
                           "so evaluation uses the same)")
    model = parser.add_argument_group("translation model")
    model.add_argument("--vocabulary-size", type=int, default=VOCABULARY_SIZE,
                       help=f"joint subword pieces learned from the training pairs (fewer "
                            f"when the text is small) (default: {VOCABULARY_SIZE})")
    model.add_argument("--subword-model", choices=("unigram", "bpe"), default=SUBWORD_MODEL,
                       help=f"SentencePiece model type (default: {SUBWORD_MODEL})")
    model.add_argument("--kind", choices=("gru", "lstm"), default="gru",
                       help="encoder and decoder recurrent kind (default: gru)")
    model.add_argument("--attention", choices=("luong", "bahdanau"), default="luong",
                       help="attention scores: luong (h . W m) or bahdanau "
                            "(v . tanh(W h + U m)) (default: luong)")
    model.add_argument("--embedding-dim", type=int, default=128,
                       help="subword embedding width, tied with the output layer "
                            "(default: 128)")
    model.add_argument("--encoder-units", type=int, default=128,
                       help="encoder units per direction (default: 128)")
    model.add_argument("--decoder-units", type=int, default=256,
                       help="decoder units (default: 256)")
    model.add_argument("--attention-units", type=int, default=128,
                       help="bahdanau attention width (default: 128)")
    model.add_argument("--dropout", type=float, default=0.2,
                       help="dropout on embeddings and before the output (default: 0.2)")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    from tasks.common.subwords import Subwords

    options = TASK.data_options(args)
    pairs = read_pairs(args.data, "train", **{k: options[k] for k in (
        "source", "target", "reverse", "max_pairs") if k in options})
    texts = training_sentences(pairs)
    print(f"translation: learning {args.vocabulary_size} {args.subword_model} subwords from "
          f"{len(texts):,} training sentences (both sides)", file=sys.stderr, flush=True)
    words = Subwords.learn(texts, size=args.vocabulary_size, model=args.subword_model)
    return "translation-attention", {
        "vocabulary_size": words.size, "subwords": words.to_text(),
        "max_source_length": options.get("max_source_length", MAX_SOURCE_LENGTH),
        "kind": args.kind, "embedding_dim": args.embedding_dim,
        "encoder_units": args.encoder_units, "decoder_units": args.decoder_units,
        "attention": args.attention, "attention_units": args.attention_units,
        "dropout": args.dropout}


def _config_data_options(builder: str, config: dict) -> dict:
    return {"subwords": config["subwords"], "max_source_length": config["max_source_length"]}


def _assets(builder: str, config: dict) -> dict:
    return {"subwords.model": _subwords(config["subwords"]).data}


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.translation.predict import add_predict_options

    add_predict_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.translation.predict import predict

    return predict(preset, args)


TASK = Task(
    name="translation",
    summary="Sentence translation (attention encoder-decoder, subwords): Multi30k, Tatoeba "
            "pairs; sacrebleu BLEU",
    builders=("translation-attention",),
    load=load,
    metric=metric,
    representative=representative,
    # padding (id 0) after <end> is not a token to predict
    loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
    primary_metric="bleu",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    builder_config=_builder_config,
    needs_data=True,
    data_license="Multi30k: research use; Tatoeba sentences: CC BY 2.0 FR",
    dataset_name="translation: parallel sentences (Multi30k train/val/test_2016_flickr, or a "
                 "tab-separated file with a hash-held-out 10 % validation and 10 % test)",
    train_defaults={"epochs": 20, "batch_size": 64, "learning_rate": 2e-3, "patience": 3},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
    metric_option_names=("subwords",),
    preset_assets=_assets,
)
