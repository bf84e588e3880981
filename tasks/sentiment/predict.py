"""``rnnzoo predict`` for sentiment presets: label and probability of each text.

Each INPUT is a text; an INPUT that names an existing file is read as UTF-8 lines, one text
per line (empty lines skipped, a line that is not UTF-8 is an error naming the file and
line); ``-`` reads lines from standard input. ``--text`` takes every INPUT as text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tasks.common.text_lines import TextInputError, decode_utf8, read_text_lines
from tasks.common.vocabulary import Vocabulary


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + (
        " INPUT: a text in quotes, a file of texts (one per line), or - for lines on stdin.")
    parser.add_argument("--text", action="store_true",
                        help="take every INPUT as a text, even one that names a file")
    parser.add_argument("--tflite", metavar="FILE",
                        help="run this exported .tflite file of the preset instead of Keras")


def _texts(inputs: list[str], as_text: bool) -> tuple[list[str], list[str]]:
    """``(texts, where)`` from the INPUT arguments (see the module docstring)."""
    texts, where = [], []
    for item in inputs:
        if item == "-" and not as_text:
            data = sys.stdin.buffer.read()
            lines = decode_utf8(data, "<stdin>").replace("\r\n", "\n").split("\n")
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    texts.append(line.strip())
                    where.append(f"<stdin>:{number}")
        elif not as_text and Path(item).is_file():
            lines = read_text_lines(item, kind="text")
            for number, line in lines:
                texts.append(line.strip())
                where.append(f"{item}:{number}")
        else:
            if not item.strip():
                raise TextInputError("<argument>", "empty text")
            texts.append(item)
            where.append("<argument>")
    if not texts:
        raise ValueError("no texts: give one or more texts, files of texts, or - for stdin")
    return texts, where


def _model_fn(preset, tflite: str | None):
    if tflite is None:
        return preset.model.predict_on_batch
    from export import TFLiteRunner

    return TFLiteRunner(tflite, num_threads=1).predict


def predict(preset, args: argparse.Namespace) -> dict:
    """Classify the texts of ``args.inputs``; prints one line per text unless ``args.json``."""
    from tasks.sentiment import LABELS
    from tasks.sentiment.encoding import PUNCTUATION, encode_texts

    config = preset.config["config"]
    texts, where = _texts(list(args.inputs), args.text)
    vocabulary = Vocabulary(config["vocabulary"], punctuation=PUNCTUATION)
    ids, report = encode_texts(texts, vocabulary, int(config["max_length"]), where)
    message = report.message("texts")
    if message:
        print(f"note: {message}", file=sys.stderr)
    model_fn = _model_fn(preset, args.tflite)
    probabilities = np.concatenate([np.asarray(model_fn(ids[i:i + 64]))
                                    for i in range(0, len(ids), 64)])
    results = []
    for text, p in zip(texts, probabilities):
        label = int(np.argmax(p))
        results.append({"text": text, "label": LABELS[label],
                        "probability": float(p[label]), "positive": float(p[1])})
        if not args.json:
            print(f"{LABELS[label]}\t{p[label]:.3f}\t{text}")
    return {"preset": preset.name, "max_length": int(config["max_length"]),
            "truncated": report.truncated, "results": results}
