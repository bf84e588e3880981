"""Task ``sentiment``: binary sentiment of a sentence or review (many-to-one).

Data: `tasks.sentiment.data` (SST-2, UCI labelled sentences, Pang & Lee polarity reviews, each
with its documented split); tokens and ids: `tasks.sentiment.encoding`; models: `zoo.text`
(``sentiment-bilstm``, ``sentiment-bigru``); pretraining: the ``wordlm`` task
(`tasks.sentiment.lm`) and ``--from``; ``rnnzoo predict``: `tasks.sentiment.predict`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tasks.common.metrics import classification_metric
from tasks.common.task import Task
from tasks.common.tokenizer_assets import tokenizer_assets
from tasks.common.vocabulary import Vocabulary
from tasks.sentiment.also_train import also_train_set
from tasks.sentiment.data import read_labelled
from tasks.sentiment.distill import (
    LabelOrProbabilityCrossentropy,
    distillation_set,
    teacher_probabilities,
    unlabeled_with_review_labels,
    with_review_prior,
)
from tasks.sentiment.encoding import (
    DEFAULT_MAX_LENGTH,
    PUNCTUATION,
    add_encoder_options,
    encode_texts,
)
from zoo.text import POOLINGS

LABELS = ("negative", "positive")
MIN_COUNT = 2
MAX_VOCABULARY = 10_000
DATA_OPTIONS = ("max_length", "min_count", "max_vocabulary", "with_validation")


def _parts(split: str, with_validation: bool) -> tuple[str, ...]:
    """The splits of the files that make ``split``: the training split holds the validation
    texts too, after its own, ``with_validation`` (the refit of a recipe validation has
    chosen)."""
    return ("train", "validation") if split == "train" and with_validation else (split,)


def training_vocabulary(path, *, min_count: int = MIN_COUNT,
                        max_vocabulary: int = MAX_VOCABULARY,
                        with_validation: bool = False) -> Vocabulary:
    """The words of the training split of ``path`` (and of its validation split when
    ``with_validation``: a refit trains on it) seen ``min_count`` times or more, at most
    ``max_vocabulary`` tokens in all."""
    texts = [text for part in _parts("train", with_validation)
             for text in read_labelled(path, part).texts]
    return Vocabulary.build(texts, min_count=min_count, max_size=max_vocabulary,
                            punctuation=PUNCTUATION)


def _vocabulary(path, vocabulary, min_count, max_vocabulary) -> Vocabulary:
    if vocabulary is not None:
        return Vocabulary(vocabulary, punctuation=PUNCTUATION)
    return training_vocabulary(path, min_count=min_count, max_vocabulary=max_vocabulary)


def encoded(path, split: str, *, max_length: int = DEFAULT_MAX_LENGTH,
            min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
            vocabulary: list[str] | None = None,
            with_validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [n, max_length], labels [n])`` of one split; texts cut to ``max_length`` are
    counted on stderr. ``with_validation``: see `_parts`."""
    words = _vocabulary(path, vocabulary, min_count, max_vocabulary)
    all_ids, all_labels = [], []
    for part in _parts(split, with_validation):
        data = read_labelled(path, part)
        ids, report = encode_texts(data.texts, words, max_length, data.where)
        message = report.message(f"{part} texts")
        if message:
            print(f"note: {message}", file=sys.stderr)
        all_ids.append(ids)
        all_labels += list(data.labels)
    return np.concatenate(all_ids), np.asarray(all_labels, np.int32)


def load(path, split: str = "train", *, max_length: int = DEFAULT_MAX_LENGTH,
         min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
         vocabulary: list[str] | None = None, with_validation: bool = False):
    """Unbatched ``(ids, label)`` examples of one split (options as `encoded`)."""
    import tensorflow as tf

    ids, labels = encoded(path, split, max_length=max_length, min_count=min_count,
                          max_vocabulary=max_vocabulary, vocabulary=vocabulary,
                          with_validation=with_validation)
    return tf.data.Dataset.from_tensor_slices((ids, labels))


def representative(path, n: int = 200, *, max_length: int = DEFAULT_MAX_LENGTH,
                   min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
                   vocabulary: list[str] | None = None,
                   with_validation: bool = False) -> list[np.ndarray]:
    """Up to ``n`` training examples spread over the split, each ``[1, max_length]``
    (options as `load`; the training split proper, ``with_validation`` or not)."""
    ids, _ = encoded(path, "train", max_length=max_length, min_count=min_count,
                     max_vocabulary=max_vocabulary, vocabulary=vocabulary)
    if not len(ids):
        raise ValueError(f"{path}: no training texts")
    picked = ids[::max(1, len(ids) // n)][:n]
    return [row[None] for row in picked]


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("sentiment data (--data: an SST-2 folder, a UCI labelled "
                                     "sentences folder or review_polarity.tar.gz)")
    data.add_argument("--max-length", dest="max_length", type=int,
                      help=f"tokens per text; longer texts are cut and counted (default: "
                           f"{DEFAULT_MAX_LENGTH})")
    data.add_argument("--min-count", dest="min_count", type=int,
                      help=f"words seen fewer times in the training texts are <unk> (default: "
                           f"{MIN_COUNT}; with --from a language model, its vocabulary)")
    data.add_argument("--max-vocabulary", dest="max_vocabulary", type=int,
                      help=f"most tokens in the vocabulary, the 4 special ones included "
                           f"(default: {MAX_VOCABULARY})")
    data.add_argument("--train-with-validation", dest="with_validation", action="store_true",
                      help="train on the validation texts too (the final refit of a recipe "
                           "chosen on validation; early stopping and the card's validation "
                           "figures then read training data: score it on test)")
    data.add_argument("--also-train", action="append", default=[], metavar="DATASET",
                      help="also train on the training split of another labelled sentiment "
                           "dataset (a UCI folder, the polarity archive, an SST-2 folder); "
                           "validation and test stay those of --data; repeatable")
    model = parser.add_argument_group("sentiment model (with --from a word language model: "
                                      "its kind and sizes)")
    add_encoder_options(model, dropout=0.3, embedding_dropout=0.2)
    model.add_argument("--pooling", choices=POOLINGS, default="mean_max",
                       help="how the encoder's outputs become one vector: their mean and max "
                            "over the real tokens, or also each direction's final state "
                            "(ULMFiT's concat pooling) (default: mean_max)")
    model.add_argument("--word-dropout", type=float, default=0.0,
                       help="in training, each token id becomes <unk> with this probability "
                            "(default: 0)")
    distil = parser.add_argument_group(
        "distillation (tasks.sentiment.distill: also train on unlabeled sentences, the "
        "teachers' mean probabilities as their targets)")
    distil.add_argument("--teacher", action="append", default=[], metavar="PRESET",
                        help="a trained sentiment preset (name or folder) whose predictions "
                             "label --unlabeled; repeat it for an ensemble")
    distil.add_argument("--unlabeled", metavar="PATH",
                        help="the unlabeled text: a sentiment data folder (polarity review "
                             "and UCI training sentences) or a text file, one sentence a line")
    distil.add_argument("--review-prior", type=float, default=1.0, metavar="RATIO",
                        help="move the teachers' probabilities for a polarity review's "
                             "sentences towards the review's label: its odds times RATIO "
                             "(Bayes' rule with the review label as evidence; default 1: "
                             "unchanged)")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = TASK.data_options(args)
    words = training_vocabulary(args.data, min_count=options.get("min_count", MIN_COUNT),
                                max_vocabulary=options.get("max_vocabulary", MAX_VOCABULARY),
                                with_validation=bool(options.get("with_validation")))
    return f"sentiment-bi{args.kind}", {
        "vocabulary": list(words.tokens), "max_length": options.get("max_length",
                                                                    DEFAULT_MAX_LENGTH),
        "embedding_dim": args.embedding_dim, "units": args.units, "dropout": args.dropout,
        "embedding_dropout": args.embedding_dropout, "pooling": args.pooling,
        "word_dropout": args.word_dropout}


def _builder_config_from(args: argparse.Namespace, source) -> tuple[str, dict]:
    """A classifier with the vocabulary, kind and sizes of the word language model
    ``source`` (a preset of task ``wordlm``), so its embedding and encoder start from the
    language model's."""
    if source.card.get("task") != "wordlm":
        raise ValueError(f"--from {source.name}: a sentiment model starts from a sentiment or "
                         f"a wordlm preset, not a {source.card.get('task')!r} one")
    config = source.config["config"]
    kind = source.builder.removeprefix("wordlm-bi")
    return f"sentiment-bi{kind}", {
        "vocabulary": list(config["vocabulary"]),
        "max_length": getattr(args, "max_length", None) or DEFAULT_MAX_LENGTH,
        "embedding_dim": config["embedding_dim"], "units": config["units"],
        "dropout": args.dropout, "embedding_dropout": args.embedding_dropout,
        "pooling": args.pooling, "word_dropout": args.word_dropout}


def _training_set(args: argparse.Namespace, data, train, data_options: dict):
    """The training split, then the ``--also-train`` datasets' training texts
    (`tasks.sentiment.also_train`), then the ``--unlabeled`` sentences with the ``--teacher``
    presets' mean probabilities as targets when they are given (`tasks.sentiment.distill`);
    none of them is a validation or test text of ``data``."""
    if args.teacher and not args.unlabeled:
        raise ValueError("--teacher needs --unlabeled PATH (the sentences it labels)")
    if args.unlabeled and not args.teacher:
        raise ValueError("--unlabeled needs --teacher PRESET (who labels the sentences)")
    if args.review_prior != 1 and not args.teacher:
        raise ValueError("--review-prior needs --teacher and --unlabeled (it moves the "
                         "teachers' probabilities)")
    if not (args.teacher or args.also_train):
        return train, None
    held_out = [text for split in ("validation", "test")
                for text in read_labelled(data, split).texts]
    words = Vocabulary(data_options["vocabulary"], punctuation=PUNCTUATION)
    record = {}
    if args.also_train:
        train, extra_texts = also_train_set(train, args.also_train, held_out, words,
                                            data_options["max_length"])
        print(f"training: {len(extra_texts):,} more labelled text(s) from "
              f"{', '.join(args.also_train)}", file=sys.stderr, flush=True)
        record["also_train"] = {"data": list(args.also_train), "texts": len(extra_texts)}
        held_out += extra_texts
    if not args.teacher:
        return train, record
    import zoo

    teachers = [zoo.load(name) for name in args.teacher]
    texts, review_labels = unlabeled_with_review_labels(args.unlabeled, held_out=held_out)
    print(f"distillation: {len(teachers)} teacher(s) label {len(texts):,} unlabeled "
          f"sentences of {args.unlabeled}", file=sys.stderr, flush=True)
    probabilities = teacher_probabilities(teachers, texts)
    if args.review_prior != 1:
        probabilities = with_review_prior(probabilities, review_labels, args.review_prior)
    dataset = distillation_set(train, texts, probabilities, words, data_options["max_length"],
                               seed=args.seed)
    record["distillation"] = {"teachers": list(args.teacher), "unlabeled": args.unlabeled,
                              "unlabeled_sentences": len(texts),
                              "review_prior": args.review_prior,
                              "positive_share": round(float(
                                  (probabilities[:, 1] > 0.5).mean()), 4)}
    return dataset, record


def _config_data_options(builder: str, config: dict) -> dict:
    return {"vocabulary": list(config["vocabulary"]), "max_length": config["max_length"]}


def _preset_assets(builder: str, config: dict) -> dict:
    return tokenizer_assets(config["vocabulary"], PUNCTUATION, config["max_length"],
                            labels=LABELS)


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.sentiment.predict import add_predict_options

    add_predict_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.sentiment.predict import predict

    return predict(preset, args)


TASK = Task(
    name="sentiment",
    summary="Binary sentiment of sentences or reviews (SST-2, UCI sentences, Pang & Lee "
            "polarity): accuracy",
    builders=("sentiment-bilstm", "sentiment-bigru"),
    load=load,
    metric=classification_metric,
    representative=representative,
    loss=LabelOrProbabilityCrossentropy(),
    primary_metric="accuracy",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    refit_options=("with_validation",),
    builder_config=_builder_config,
    needs_data=True,
    data_license="research use (SST-2: Socher et al. 2013; UCI: Kotzias et al. 2015; "
                 "polarity v2.0: Pang & Lee 2004)",
    dataset_name="SST-2 sentences (train/dev/test files), or UCI labelled sentences, or Pang "
                 "& Lee polarity reviews",
    train_defaults={"epochs": 20, "batch_size": 32, "learning_rate": 2e-3, "patience": 4},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
    builder_config_from=_builder_config_from,
    preset_assets=_preset_assets,
    training_set=_training_set,
)
