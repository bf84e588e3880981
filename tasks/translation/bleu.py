"""Translation metrics: sacrebleu BLEU and chrF of detokenized output.

Model outputs (subword ids) are decoded to text by the model's own subword model
(`tasks.common.subwords`: detokenized, as a user reads it) and scored against the reference
sentences with sacrebleu's defaults (BLEU: 13a tokenization, mixed case, exponential
smoothing; one reference each), on the 0-100 scale of the literature, with sacrebleu's
signature of that BLEU beside the figures. References are the target
side of the data, decoded from its ids (the subword model is lossless: byte fallback, no
normalization), so a reference longer than the data's ``max_length`` is scored as cut.

`translate` decodes a batch of sources greedily (``beam=1``) or by beam search of width
``beam`` with GNMT length normalization ``alpha`` (`tasks.common.decoding`), through any
whole-model function (the Keras model's ``predict_on_batch``; an exported encoder/decoder
pair's `export.parts.PartsRunner`, whose decoder steps beam search calls directly; a zoo
model's ``predict_on_batch`` is beam-searched through its own Keras parts the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from tasks.common.subwords import END_ID, START_ID, Subwords

BEAM, ALPHA = 5, 0.6


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus ``bleu`` and ``chrf`` (0-100) of ``hypotheses`` against one reference each, and
    sacrebleu's ``bleu_signature``."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not hypotheses:
        raise ValueError("no translations to score")
    bleu = BLEU()
    score = bleu.corpus_score(hypotheses, [references]).score
    return {"bleu": score, "chrf": CHRF().corpus_score(hypotheses, [references]).score,
            "bleu_signature": str(bleu.get_signature())}


def translate(model_fn: Callable, sources: np.ndarray, *, max_length: int, beam: int = 1,
              alpha: float = ALPHA, batch_size: int = 64) -> list[list[int]]:
    """The output ids (without ``<start>``/``<end>``) for ``sources`` ``[n, S]``."""
    from export.parts import PartsRunner
    from tasks.common.decoding import beam_prefix, beam_search, greedy_prefix

    inputs = {"source": np.asarray(sources, np.int32)}
    if beam == 1:
        return greedy_prefix(model_fn, inputs, start=START_ID, end=END_ID,
                             max_length=max_length, batch_size=batch_size)
    model = getattr(model_fn, "__self__", None)  # a Keras model's predict_on_batch
    if not isinstance(model_fn, PartsRunner) and getattr(model, "rnnzoo_parts", None):
        from export.parts import parts_of

        model_fn = PartsRunner.from_parts(parts_of(model))  # its steps, not whole prefixes
    if not isinstance(model_fn, PartsRunner):
        return beam_prefix(model_fn, inputs, start=START_ID, end=END_ID, max_length=max_length,
                           width=beam, alpha=alpha)
    outputs = []
    for row in inputs["source"]:
        state = model_fn.encode({"source": row[None]})
        best = beam_search(model_fn.step_fn(), state, start=START_ID, end=END_ID,
                           max_length=max_length, width=beam, alpha=alpha)
        outputs.append(list(best[0].tokens) if best else [])
    return outputs


def _arrays(dataset: Iterable) -> tuple[np.ndarray, np.ndarray]:
    sources, targets = [], []
    for x, target in dataset:
        sources.append(np.asarray(x["source"]))
        targets.append(np.asarray(target))
    if not sources:
        raise ValueError("no sentence pairs to score")
    return np.stack(sources), np.stack(targets)


def translation_metric(model_fn: Callable, dataset: Iterable, *, subwords: str | Subwords,
                       beam: int = 1, alpha: float = ALPHA,
                       max_length: int | None = None) -> dict:
    """BLEU and chrF (0-100) of ``model_fn``'s translations of the sources of ``dataset``
    (``({"source", "tokens"}, target ids)`` examples), with the count of ``sentences`` and
    ``bleu_signature``. ``subwords``: the model's subword model (or its `to_text`);
    ``max_length``: the longest output (default: the target length of the data)."""
    words = subwords if isinstance(subwords, Subwords) else Subwords.from_text(subwords)
    sources, targets = _arrays(dataset)
    length = max_length or int(targets.shape[-1])
    outputs = translate(model_fn, sources, max_length=length, beam=beam, alpha=alpha)
    hypotheses = [words.decode(ids) for ids in outputs]
    references = [words.decode(ids) for ids in targets]
    scores = corpus_scores(hypotheses, references)
    signature = scores.pop("bleu_signature")
    return {**scores, "sentences": len(references), "bleu_signature": signature}
