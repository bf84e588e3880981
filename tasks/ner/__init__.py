"""Task ``ner``: named entities, one IOB2 tag per token (aligned many-to-many), scored with
entity-level F1 (seqeval).

Data: a CoNLL folder (``train.txt``, ``valid.txt``, ``test.txt``; `tasks.ner.conll`), such as
../shared/data/conll2003_ner; encoding and vocabularies: `tasks.ner.encoding`,
`tasks.ner.data`; metric: `tasks.ner.metric`; model: `zoo.ner` with the CRF of `zoo.crf`;
``rnnzoo predict``: `tasks.ner.predict`. The vocabularies built from the training split
become the model's config, and ``rnnzoo train`` stores them in the card's data options so
that every later command encodes text with the model's own ids.
"""

from __future__ import annotations

import argparse

import keras

from tasks.common.task import Task
from tasks.ner.data import load, representative, vocabularies
from tasks.ner.encoding import CHAR_MIN_COUNT, MAX_LENGTH, MAX_WORD_LENGTH, MIN_COUNT
from tasks.ner.metric import metric

DATA_OPTIONS = ("max_length", "max_word_length", "min_count", "char_min_count",
                "with_validation")


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("ner data (--data CONLL_FOLDER)")
    data.add_argument("--max-length", type=int, default=None,
                      help=f"tokens per sentence; longer ones are cut and counted (default: "
                           f"{MAX_LENGTH})")
    data.add_argument("--max-word-length", type=int, default=None,
                      help=f"characters per token for the character features; longer tokens "
                           f"keep their first ones (default: {MAX_WORD_LENGTH})")
    data.add_argument("--min-count", type=int, default=None,
                      help=f"words seen fewer times in training are <unk> (default: "
                           f"{MIN_COUNT})")
    data.add_argument("--char-min-count", type=int, default=None,
                      help=f"characters seen fewer times are <unk> (default: {CHAR_MIN_COUNT})")
    data.add_argument("--train-with-validation", dest="with_validation", action="store_true",
                      default=None,
                      help="train on the training and validation sentences (vocabularies "
                           "too): the refit of a recipe validation has chosen; use with "
                           "--patience 0 and the chosen --epochs, since the validation "
                           "figures then score sentences the model trained on")
    model = parser.add_argument_group("ner model (ner-bilstm-crf)")
    model.add_argument("--units", type=int, default=100,
                       help="LSTM units in each direction (default: 100)")
    model.add_argument("--word-dim", type=int, default=100,
                       help="word embedding width (default: 100)")
    model.add_argument("--char-dim", type=int, default=30,
                       help="character embedding width (default: 30)")
    model.add_argument("--char-encoder", choices=("cnn", "bilstm"), default="cnn",
                       help="character feature of each word: a CNN with max pooling (Ma & "
                            "Hovy) or a BiLSTM's final states (Lample et al.) (default: cnn)")
    model.add_argument("--char-filters", type=int, default=50,
                       help="character CNN filters (default: 50)")
    model.add_argument("--char-units", type=int, default=25,
                       help="character BiLSTM units in each direction (default: 25)")
    model.add_argument("--dropout", type=float, default=0.5,
                       help="dropout before and after the BiLSTM (default: 0.5)")
    model.add_argument("--word-dropout", type=float, default=0.0,
                       help="in training, each word id becomes <unk> with this probability "
                            "(its characters stay), for the names only test has (default: 0)")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = TASK.data_options(args)
    vocab = vocabularies(args.data, min_count=options.get("min_count", MIN_COUNT),
                         char_min_count=options.get("char_min_count", CHAR_MIN_COUNT),
                         with_validation=bool(options.get("with_validation")))
    return "ner-bilstm-crf", {
        **vocab, "max_length": options.get("max_length", MAX_LENGTH),
        "max_word_length": options.get("max_word_length", MAX_WORD_LENGTH),
        "word_dim": args.word_dim, "char_dim": args.char_dim,
        "char_encoder": args.char_encoder, "char_filters": args.char_filters,
        "char_units": args.char_units, "units": args.units, "dropout": args.dropout,
        "word_dropout": args.word_dropout}


def _config_data_options(builder: str, config: dict) -> dict:
    return {k: config[k] for k in ("words", "characters", "tags", "max_length",
                                   "max_word_length")}


def preset_assets(builder: str, config: dict) -> dict[str, bytes]:
    """The vocabularies as files beside the model: ``vocab.txt`` (word keys, line = id, see
    `tasks.ner.encoding.word_key`), ``characters.json`` (`CharVocabulary`'s asset),
    ``labels.txt`` (the tags, line = id) and ``tokenizer.json`` (the mapping, for apps)."""
    import tempfile
    from pathlib import Path

    from tasks.common.characters import CharVocabulary
    from tasks.common.vocabulary import Vocabulary
    from tasks.ner.encoding import MAX_LENGTH, MAX_WORD_LENGTH, tokenizer_json

    with tempfile.TemporaryDirectory() as temp:
        words = Vocabulary(config["words"]).save(Path(temp) / "vocab.txt")
        chars = CharVocabulary(config["characters"]).save(Path(temp) / "characters.json")
        return {"vocab.txt": words.read_bytes(), "characters.json": chars.read_bytes(),
                "labels.txt": "".join(f"{t}\n" for t in config["tags"]).encode(),
                "tokenizer.json": tokenizer_json(
                    config.get("max_length", MAX_LENGTH),
                    config.get("max_word_length", MAX_WORD_LENGTH)).encode()}


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.ner.predict import add_predict_options

    add_predict_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.ner.predict import predict

    return predict(preset, args)


TASK = Task(
    name="ner",
    summary="Named entities (CoNLL files, IOB tags): BiLSTM-CRF tagger, entity-level F1",
    builders=("ner-bilstm-crf",),
    load=load,
    metric=metric,
    representative=representative,
    # not used: CRFTagger trains on the CRF's negative log-likelihood (zoo.crf)
    loss=keras.losses.SparseCategoricalCrossentropy(),
    primary_metric="f1",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    refit_options=("with_validation",),
    builder_config=_builder_config,
    needs_data=True,
    data_license="CoNLL-2003 (Reuters RCV1 text): research use under the Reuters corpus "
                 "agreement",
    dataset_name="CoNLL-2003 English named entities (train/valid/test)",
    train_defaults={"epochs": 30, "batch_size": 32, "learning_rate": 2e-3, "patience": 5},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
    metric_option_names=("tags",),
    preset_assets=preset_assets,
)
