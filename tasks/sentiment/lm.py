"""Task ``wordlm``: a bidirectional word language model on unlabeled text, the pretraining of
the sentiment classifier (Dai & Le 2015; Howard & Ruder 2018).

``--data`` is a folder of sentiment datasets (``../shared/data/sentiment``: the labels are
ignored) or a plain UTF-8 text file (one document per line). The text of each split:

* Pang & Lee polarity reviews: the reviews of that split (`tasks.sentiment.data`), one line
  (sentence) each;
* UCI labelled sentences: the sentences of that split;
* SST-2: ``train.tsv`` in the training split only. ``dev.tsv`` and ``test.tsv`` are never
  language-model text: any line of the other sources with the same words as an SST-2 dev or
  test sentence (punctuation ignored) is dropped (and counted on stderr);
* a text file: line ``i`` (0-based) is test when ``i % 10 == 9``, validation when ``== 8``.

Examples: the token ids of the documents (`tasks.sentiment.encoding`'s tokens, each document
followed by ``<end>``) concatenated and cut into windows of ``max_length + 2`` tokens (stride
``max_length``); the input is the window without its first and last token, the targets at
step t are the next and the previous token: ``[max_length, 2]``, where ids from
``output_vocabulary`` on (rarer words) are ``<unk>``: the model's softmax covers only the
frequent words. The vocabulary is built from the training text (``min_count``,
``max_vocabulary``).
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from tasks.common.task import Task
from tasks.common.text_lines import TextInputError, read_text_lines
from tasks.common.vocabulary import END_ID, UNK_ID, Vocabulary, normalized_text
from tasks.sentiment.data import (
    POLARITY_ARCHIVE,
    SPLITS,
    SST_FILES,
    check_split,
    polarity_reviews,
    read_tab_file,
    uci_split,
)
from tasks.sentiment.encoding import DEFAULT_MAX_LENGTH, PUNCTUATION, add_encoder_options

MIN_COUNT = 3
MAX_VOCABULARY = 10_000
OUTPUT_VOCABULARY = 3_000
DATA_OPTIONS = ("max_length", "min_count", "max_vocabulary", "output_vocabulary")


def _sources(folder: Path) -> dict[str, list[Path]]:
    """The sentiment datasets in ``folder`` or its subfolders, by kind."""
    found: dict[str, list[Path]] = {"sst2": [], "uci": [], "polarity": []}
    for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        if (candidate / "train.tsv").is_file():
            found["sst2"].append(candidate)
        if any(candidate.glob("*_labelled.txt")):
            found["uci"].append(candidate)
        if (candidate / POLARITY_ARCHIVE).is_file():
            found["polarity"].append(candidate / POLARITY_ARCHIVE)
    return found


def _key(text: str) -> str:
    """What two sentences share when they are the same words (punctuation ignored)."""
    return normalized_text(text, punctuation="drop")


def held_out_keys(sources: dict[str, list[Path]]) -> set[str]:
    """The `_key` of every SST-2 dev and test sentence among ``sources`` (`_sources`): text
    that must never be trained on."""
    return {_key(text) for folder in sources["sst2"]
            for name in (SST_FILES["validation"], SST_FILES["test"])
            if (folder / name).is_file() for text in read_tab_file(folder / name).texts}


def unlabeled_texts(sources: dict[str, list[Path]], split: str,
                    ) -> tuple[list[str], list[list[str]], list[int]]:
    """The UCI sentences of ``split`` among ``sources`` (`_sources`), its polarity reviews,
    each the list of its sentences, and each review's label (1 positive); nothing left
    out."""
    sentences = [text for folder in sources["uci"]
                 for file in sorted(folder.glob("*_labelled.txt"))
                 for i, text in enumerate(read_tab_file(file).texts) if uci_split(i) == split]
    reviews = [polarity_reviews(archive, (split,), join="\n") for archive in sources["polarity"]]
    return (sentences, [text.split("\n") for data in reviews for text in data.texts],
            [label for data in reviews for label in data.labels])


def _source_files(path: Path) -> list[Path]:
    """The files `corpus` reads for the data at ``path``."""
    if path.is_file():
        return [path]
    sources = _sources(path)
    return sorted([*(folder / name for folder in sources["sst2"] for name in SST_FILES.values()
                     if (folder / name).is_file()),
                   *(file for folder in sources["uci"] for file in folder.glob("*_labelled.txt")),
                   *sources["polarity"]])


def corpus(path, split: str) -> list[str]:
    """The documents (texts) of ``split`` of the language-model data at ``path`` (see the
    module docstring); lines equal to an SST-2 dev or test sentence are left out.

    Read once per split while the files are unchanged (the vocabulary, the output prior and
    the training windows all read the training text)."""
    check_split(split)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    stamp = tuple((str(f), s.st_mtime_ns, s.st_size)
                  for f in _source_files(path) for s in [f.stat()])
    return list(_corpus(str(path.resolve()), split, stamp))


@lru_cache(maxsize=8)
def _corpus(path: str, split: str, stamp: tuple) -> tuple[str, ...]:
    """`corpus` of the resolved ``path``; ``stamp`` (its files' times and sizes) keys the
    cache."""
    path = Path(path)
    if path.is_file():
        lines = read_text_lines(path, kind="text")
        return tuple(line for i, (_, line) in enumerate(lines) if uci_split(i) == split)
    sources = _sources(path)
    if not any(sources.values()):
        raise TextInputError(path, "no language-model text: expected SST-2, UCI or polarity "
                                   "data in the folder or its subfolders, or a text file")
    held_out = held_out_keys(sources)
    documents, dropped = [], 0
    if split == "train":
        for folder in sources["sst2"]:
            documents += read_tab_file(folder / SST_FILES["train"]).texts
    sentences, reviews, _ = unlabeled_texts(sources, split)
    kept = [text for text in sentences if _key(text) not in held_out]
    dropped += len(sentences) - len(kept)
    documents += kept
    for review in reviews:
        kept = [sentence for sentence in review if _key(sentence) not in held_out]
        dropped += len(review) - len(kept)
        documents.append(" ".join(kept))
    if dropped:
        print(f"note: {dropped} line(s) equal to SST-2 dev/test sentences left out of the "
              f"language-model text", file=sys.stderr)
    return tuple(documents)


def training_vocabulary(path, *, min_count: int = MIN_COUNT,
                        max_vocabulary: int = MAX_VOCABULARY) -> Vocabulary:
    """The vocabulary of the training text of ``path``."""
    return Vocabulary.build(corpus(path, "train"), min_count=min_count,
                            max_size=max_vocabulary, punctuation=PUNCTUATION)


def windows(path, split: str, *, max_length: int = DEFAULT_MAX_LENGTH,
            min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
            output_vocabulary: int = OUTPUT_VOCABULARY,
            vocabulary: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs [n, max_length], targets [n, max_length, 2])`` of one split."""
    words = (Vocabulary(vocabulary, punctuation=PUNCTUATION) if vocabulary is not None
             else training_vocabulary(path, min_count=min_count, max_vocabulary=max_vocabulary))
    stream: list[int] = []
    for text in corpus(path, split):
        stream += words.encode(text, add_start_end=False)
        stream.append(END_ID)
    stream = np.asarray(stream, np.int32)
    count = (len(stream) - 2) // max_length
    if count < 1:
        raise TextInputError(path, f"the {split} text has {len(stream)} tokens, fewer than one "
                                   f"window of {max_length + 2}")
    starts = np.arange(count) * max_length
    window = stream[starts[:, None] + np.arange(max_length + 2)[None]]
    inputs = window[:, 1:-1]
    targets = np.stack([window[:, 2:], window[:, :-2]], axis=-1)
    targets = np.where(targets < output_vocabulary, targets, UNK_ID).astype(np.int32)
    return inputs, targets


def log_prior(targets: np.ndarray, size: int) -> list[float]:
    """Log frequencies of the ids ``0 .. size - 1`` among ``targets`` (add-one smoothed,
    rounded to 4 decimals): the language model's initial softmax bias."""
    counts = np.bincount(np.asarray(targets).ravel(), minlength=size)[:size] + 1.0
    return [round(float(v), 4) for v in np.log(counts / counts.sum())]


def load(path, split: str = "train", *, max_length: int = DEFAULT_MAX_LENGTH,
         min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
         output_vocabulary: int = OUTPUT_VOCABULARY, vocabulary: list[str] | None = None):
    """Unbatched ``(ids, [next, previous] ids)`` windows of one split (options as `windows`)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(windows(
        path, split, max_length=max_length, min_count=min_count, max_vocabulary=max_vocabulary,
        output_vocabulary=output_vocabulary, vocabulary=vocabulary))


def representative(path, n: int = 200, *, max_length: int = DEFAULT_MAX_LENGTH,
                   min_count: int = MIN_COUNT, max_vocabulary: int = MAX_VOCABULARY,
                   output_vocabulary: int = OUTPUT_VOCABULARY,
                   vocabulary: list[str] | None = None) -> list[np.ndarray]:
    """Up to ``n`` training windows spread over the split, each ``[1, max_length]``."""
    inputs, _ = windows(path, "train", max_length=max_length, min_count=min_count,
                        max_vocabulary=max_vocabulary, output_vocabulary=output_vocabulary,
                        vocabulary=vocabulary)
    return [row[None] for row in inputs[::max(1, len(inputs) // n)][:n]]


def metric(model_fn, dataset, batch_size: int = 64) -> dict[str, float]:
    """Perplexity of the next-token and the previous-token predictions, and their mean
    negative log-likelihood per token (nats)."""
    totals, count = np.zeros(2), 0
    for inputs, targets in dataset.batch(batch_size).as_numpy_iterator():
        p = np.asarray(model_fn(inputs))
        picked = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]
        totals += -np.log(np.maximum(picked, 1e-12)).sum(axis=(0, 1))
        count += targets.shape[0] * targets.shape[1]
    if not count:
        raise ValueError("the evaluation dataset is empty")
    nll = totals / count
    return {"nll": float(nll.mean()), "perplexity_next": float(np.exp(nll[0])),
            "perplexity_previous": float(np.exp(nll[1])), "tokens": int(count)}


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("language-model text (--data: a folder of sentiment "
                                     "datasets, or a text file)")
    data.add_argument("--max-length", dest="max_length", type=int,
                      help=f"tokens per training window (default: {DEFAULT_MAX_LENGTH})")
    data.add_argument("--min-count", dest="min_count", type=int,
                      help=f"words seen fewer times in the training text are <unk> (default: "
                           f"{MIN_COUNT})")
    data.add_argument("--max-vocabulary", dest="max_vocabulary", type=int,
                      help=f"most tokens in the vocabulary, the 4 special ones included "
                           f"(default: {MAX_VOCABULARY})")
    data.add_argument("--output-vocabulary", dest="output_vocabulary", type=int,
                      help=f"the softmax predicts the first this many tokens (the most "
                           f"frequent), rarer ones as <unk>: a cheaper step (default: "
                           f"{OUTPUT_VOCABULARY})")
    model = parser.add_argument_group("language model")
    add_encoder_options(model, dropout=0.2, embedding_dropout=0.1,
                        embedding_note=", also of the output projection")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = TASK.data_options(args)
    words = training_vocabulary(args.data, min_count=options.get("min_count", MIN_COUNT),
                                max_vocabulary=options.get("max_vocabulary", MAX_VOCABULARY))
    size = min(len(words), options.get("output_vocabulary", OUTPUT_VOCABULARY))
    max_length = options.get("max_length", DEFAULT_MAX_LENGTH)
    _, targets = windows(args.data, "train", max_length=max_length, output_vocabulary=size,
                         vocabulary=list(words.tokens))
    return f"wordlm-bi{args.kind}", {
        "vocabulary": list(words.tokens), "max_length": max_length,
        "embedding_dim": args.embedding_dim, "units": args.units, "dropout": args.dropout,
        "embedding_dropout": args.embedding_dropout, "output_vocabulary": size,
        "output_prior": log_prior(targets, size)}


def _config_data_options(builder: str, config: dict) -> dict:
    return {"vocabulary": list(config["vocabulary"]), "max_length": config["max_length"],
            "output_vocabulary": config.get("output_vocabulary") or len(config["vocabulary"])}


def _preset_assets(builder: str, config: dict) -> dict:
    from tasks.common.tokenizer_assets import tokenizer_assets

    return tokenizer_assets(config["vocabulary"], PUNCTUATION, config["max_length"])


TASK = Task(
    name="wordlm",
    summary="Bidirectional word language model (next and previous word) on unlabeled text: "
            "perplexity; pretrains the sentiment encoder",
    builders=("wordlm-bilstm", "wordlm-bigru"),
    load=load,
    metric=metric,
    representative=representative,
    loss="sparse_categorical_crossentropy",
    primary_metric="nll",
    lower_is_better=True,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    builder_config=_builder_config,
    needs_data=True,
    data_license="research use (the unlabeled text of SST-2 train, the UCI sentences and the "
                 "polarity reviews)",
    dataset_name="unlabeled sentiment text: polarity reviews, UCI sentences, SST-2 train",
    train_defaults={"epochs": 10, "batch_size": 64, "learning_rate": 3e-3, "patience": 2},
    config_data_options=_config_data_options,
    preset_assets=_preset_assets,
)

__all__ = ["SPLITS", "TASK", "corpus", "metric", "windows"]
