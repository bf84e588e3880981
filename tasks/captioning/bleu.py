"""Caption metrics: corpus BLEU-1 to BLEU-4 (sacrebleu) of greedy captions against every
reference of each image.

Captions are compared as the vocabulary's tokens (lower case, NFKC, punctuation dropped:
`tasks.common.vocabulary.tokenize`), joined by spaces, with sacrebleu's ``tokenize="none"``
(the text is tokenized already) and its default exponential smoothing; its signature is in
`SIGNATURE`. Scores are on a 0-1 scale (sacrebleu's / 100).

`greedy_captions` decodes with any ``model_fn`` that maps ``{"image", "tokens"}`` batches to
next-token probabilities ``[batch, steps, vocabulary]`` (the Keras model, or an exported pair
through `export.parts.PartsRunner`), by feeding the growing prefix back. References come
from the dataset's target ids, so words the vocabulary does not know are kept apart: an
unknown word in a reference never matches anything, an ``<unk>`` a model emits matches nothing
either, exactly as if the true words had been compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

PAD, START, END, UNKNOWN = 0, 1, 2, 3
ORDERS = (1, 2, 3, 4)
REFERENCE_UNKNOWN, HYPOTHESIS_UNKNOWN = "<unk-ref>", "<unk-hyp>"


def _bleu(order: int):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize="none", max_ngram_order=order)


def signature() -> str:
    """sacrebleu's signature of the BLEU-4 figure."""
    return str(_bleu(4).get_signature())


def corpus_bleu(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """BLEU-1..4 (0-1) of ``hypotheses`` (one string per image) against ``references`` (a
    list per image, any number each)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} reference sets")
    if not hypotheses:
        raise ValueError("no captions to score")
    most = max(len(r) for r in references)
    streams = [[r[i] if i < len(r) else None for r in references] for i in range(most)]
    return {f"bleu{n}": _bleu(n).corpus_score(hypotheses, streams).score / 100.0
            for n in ORDERS}


def ids_text(ids: Iterable[int], unknown: str) -> str:
    """Token ids as a space-separated string of ids up to ``<end>`` (without specials; an
    ``<unk>`` becomes ``unknown``)."""
    words = []
    for i in ids:
        i = int(i)
        if i == END:
            break
        if i in (PAD, START):
            continue
        words.append(unknown if i == UNKNOWN else str(i))
    return " ".join(words)


def images_and_references(dataset: Iterable) -> tuple[dict[str, np.ndarray], list[list[str]]]:
    """Group consecutive caption examples ``({"image", "tokens"}, target ids)`` of the same
    image: the distinct images (and any other non-token inputs) and each one's references."""
    inputs: dict[str, list] = {}
    references: list[list[str]] = []
    last = None
    for x, target in dataset:
        x = {k: np.asarray(v) for k, v in x.items() if k != "tokens"}
        if last is None or any(not np.array_equal(x[k], last[k]) for k in x):
            for k, v in x.items():
                inputs.setdefault(k, []).append(v)
            references.append([])
            last = x
        references[-1].append(ids_text(np.asarray(target), REFERENCE_UNKNOWN))
    return {k: np.stack(v) for k, v in inputs.items()}, references


def greedy_captions(model_fn: Callable, inputs: dict[str, np.ndarray], *, max_length: int,
                    batch_size: int = 32) -> list[list[int]]:
    """Greedy captions (ids without ``<start>``/``<end>``) for a batch of images
    (`tasks.common.decoding.greedy_prefix`)."""
    from tasks.common.decoding import greedy_prefix

    return greedy_prefix(model_fn, inputs, start=START, end=END, max_length=max_length,
                         pad=PAD, batch_size=batch_size)


def beam_captions(model_fn: Callable, inputs: dict[str, np.ndarray], *, max_length: int,
                  width: int = 3, alpha: float = 0.7) -> list[list[int]]:
    """Beam-search captions (`tasks.common.decoding.beam_prefix`; ids without
    ``<start>``/``<end>``) of each image, through ``model_fn`` on the growing prefix (any
    whole-model function: Keras, or an exported encoder/decoder pair's `PartsRunner`)."""
    from tasks.common.decoding import beam_prefix

    return beam_prefix(model_fn, inputs, start=START, end=END, max_length=max_length,
                       width=width, alpha=alpha)


def caption_metric(model_fn: Callable, dataset: Iterable, *, max_length: int | None = None,
                   batch_size: int = 32, beam: int = 1, alpha: float = 0.7) -> dict[str, float]:
    """BLEU-1..4 of greedy captions (``beam=1``), or of `beam_captions` of width ``beam``
    with length penalty ``alpha``, over the images of ``dataset`` (caption examples; see
    `images_and_references`), with ``images`` and ``captions`` counts. ``max_length``: the
    longest caption decoded (default: the dataset's target length)."""
    items = list(dataset)
    if not items:
        raise ValueError("no captions to score")
    inputs, references = images_and_references(items)
    length = max_length or int(np.asarray(items[0][1]).shape[-1])
    if beam > 1:
        captions = beam_captions(model_fn, inputs, max_length=length, width=beam, alpha=alpha)
    else:
        captions = greedy_captions(model_fn, inputs, max_length=length, batch_size=batch_size)
    hypotheses = [ids_text(c, HYPOTHESIS_UNKNOWN) for c in captions]
    return {**corpus_bleu(hypotheses, references), "images": len(references),
            "captions": sum(len(r) for r in references)}
