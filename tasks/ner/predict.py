"""``rnnzoo predict`` for ``ner`` presets: the entities of sentences, with character spans.

Each INPUT is a sentence; ``-`` reads one sentence per line from stdin, ``--file PATH`` one
per line from a UTF-8 file. A sentence is split into tokens the way CoNLL text is (`tokenize`:
abbreviations such as ``U.S.``, runs of letters and digits with inner ``.``, ``'``, ``-``
or ``&`` kept, every other mark a token of its own), tagged by the model, and each entity is
printed as ``start-end<TAB>TYPE<TAB>text`` with ``start``/``end`` character offsets into the line
(``end`` exclusive), so ``line[start:end]`` is the entity.
"""

from __future__ import annotations

import argparse
import re
import sys

import numpy as np

_TOKEN = re.compile(r"(?:[^\W_]\.){2,}|[^\W_]+(?:[.'&-][^\W_]+)*|\S")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` of each token of ``text`` (offsets into ``text``)."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """``(type, first token, last token + 1)`` of the IOB2 entities in ``tags`` (a stray
    ``I-X`` starts an entity, as conlleval reads it)."""
    found, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        if current and (tag == "O" or tag.startswith("B-") or tag[2:] != current[0]):
            found.append((current[0], current[1], i))
            current = None
        if tag != "O" and current is None:
            current = (tag[2:], i)
    return found


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " Each INPUT is a sentence ('-' reads sentences from stdin, one per line); prints each "
        "entity as start-end, type and text, with character offsets into the sentence.")
    from tasks.common.text_lines import FILE_OPTION_HELP

    parser.add_argument("--file", metavar="PATH", help=FILE_OPTION_HELP)


def tag_sentences(preset, sentences: list[str]) -> list[dict]:
    """The entities of each sentence: ``{"text", "tokens", "tags", "entities": [{"start",
    "end", "type", "text"}]}``."""
    from tasks.ner.data import encoder

    options = preset.card.get("data_options", {})
    coder = encoder(None, **{k: options[k] for k in ("words", "characters", "tags",
                                                     "max_length", "max_word_length")
                             if k in options})
    rows = []
    for text in sentences:
        tokens = tokenize(text)
        words, chars = coder.token_ids([t for t, _, _ in tokens])
        ids = np.asarray(preset.model.predict_on_batch({"words": words[None],
                                                        "chars": chars[None]}))[0]
        kept = tokens[:coder.max_length]
        tags = [coder.tags[int(i)] for i in ids[:len(kept)]]
        found = [{"start": kept[a][1], "end": kept[b - 1][2], "type": kind,
                  "text": text[kept[a][1]:kept[b - 1][2]]} for kind, a, b in entities(tags)]
        rows.append({"text": text, "tokens": [t for t, _, _ in kept], "tags": tags,
                     "entities": found, "truncated": len(tokens) > len(kept)})
    return rows


def predict(preset, args: argparse.Namespace) -> list[dict]:
    """Tag the sentences of ``args``; print the entities unless ``args.json``."""
    from tasks.common.text_lines import input_sentences

    rows = tag_sentences(preset, input_sentences(args.inputs, args.file))
    if not args.json:
        for n, row in enumerate(rows):
            if len(rows) > 1:
                print(f"{'' if n == 0 else chr(10)}{row['text']}")
            if row["truncated"]:
                print(f"note: only the first {len(row['tokens'])} tokens were tagged",
                      file=sys.stderr)
            if not row["entities"]:
                print("(no entities)")
            for e in row["entities"]:
                print(f"{e['start']}-{e['end']}\t{e['type']}\t{e['text']}")
    return rows
