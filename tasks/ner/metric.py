"""Entity-level scores of a tagger: seqeval's precision, recall and F1 (conlleval's
definition: an entity counts only with its exact span and type), in percent, over the
sentences' real tokens; tags are IOB2."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BATCH = 64


def tag_sequences(ids: np.ndarray, words: np.ndarray, tags: Sequence[str]) -> list[list[str]]:
    """Tag names of each row of ``ids`` over its real tokens (``words != 0``)."""
    out = []
    for row, word_row in zip(np.asarray(ids), np.asarray(words)):
        length = int(np.count_nonzero(word_row))
        out.append([tags[int(i)] if 0 <= int(i) < len(tags) else "O" for i in row[:length]])
    return out


def scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """``f1``, ``precision``, ``recall`` (percent), per-type F1 and the counts."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    figures = {"f1": 100 * f1_score(gold, predicted, zero_division=0),
               "precision": 100 * precision_score(gold, predicted, zero_division=0),
               "recall": 100 * recall_score(gold, predicted, zero_division=0)}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    for name, row in sorted(report.items()):
        if name.endswith(" avg"):
            continue
        figures[f"f1_{name.lower()}"] = 100 * float(row["f1-score"])
    figures["entities"] = float(sum(row["support"] for name, row in report.items()
                                    if not name.endswith(" avg")))
    figures["sentences"] = float(len(gold))
    return {k: round(float(v), 4) for k, v in figures.items()}


def metric(model_fn, dataset, tags: Sequence[str] | None = None) -> dict[str, float]:
    """Scores (`scores`) of a model whose output is tag ids on ``dataset`` (from
    `tasks.ner.data.load`). ``tags``: the tag names of the ids, bound from the card's data
    options by `Task.metric_with`; without them, those of the most recent load."""
    if tags is None:
        from tasks.ner.data import loaded_tags

        tags = loaded_tags()
    gold, predicted = [], []
    for inputs, targets in dataset.batch(BATCH).as_numpy_iterator():
        output = model_fn(inputs)
        if isinstance(output, dict):
            output = output.get("tags", next(iter(output.values())))
        gold += tag_sequences(targets, inputs["words"], tags)
        predicted += tag_sequences(np.asarray(output), inputs["words"], tags)
    return scores(gold, predicted)
