"""``rnnzoo predict`` for translation presets: translate sentences, beam search, attention.

Each INPUT is a sentence (quote it; ``-`` reads one per line from stdin, ``--file PATH`` from a
UTF-8 file). It is cut into the model's subwords (to the model's fixed source length: a longer
sentence is cut, and stderr says so), encoded once, and decoded token by token through the
model's decoder step (`export.parts.PartsRunner`, the computation of the exported files) with
beam search and GNMT length normalization (`tasks.common.decoding`). ``--plot`` draws the
attention matrix of each translation: one row per output subword, one column per source
subword.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tasks.common.decoding import add_beam_options
from tasks.common.figures import save_figure
from tasks.common.subwords import END_ID, START_ID, Subwords
from tasks.common.text_lines import FILE_OPTION_HELP, input_sentences
from tasks.translation.bleu import ALPHA, BEAM

MAX_TOKENS = 60


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    add_beam_options(parser, beam=BEAM, alpha=ALPHA)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS,
                        help=f"longest translation in subwords (default: {MAX_TOKENS})")
    parser.add_argument("--file", metavar="PATH", help=FILE_OPTION_HELP)
    parser.add_argument("--plot", metavar="PNG",
                        help="write the attention matrix of each translation (rows: output "
                             "subwords, columns: source subwords)")


def translate_sentence(runner, subwords: Subwords, sentence: str, max_source_length: int, *,
                       beam: int = BEAM, alpha: float = ALPHA,
                       max_tokens: int = MAX_TOKENS) -> dict:
    """The translation of ``sentence``: ``text``, ``ids``, ``score`` (log probability over the
    length penalty), ``source_ids`` (as the model read them), ``cut`` (source ids dropped) and
    ``attention`` ``[output ids, source ids]`` (``<end>`` excluded)."""
    from tasks.common.decoding import beam_search
    from tasks.translation.data import encode_source

    ids = subwords.encode(sentence)
    source = encode_source(subwords, sentence, max_source_length)
    kept = min(len(ids), max_source_length)
    state = runner.encode({"source": source[None]})
    hypotheses = beam_search(runner.step_fn(), state, start=START_ID, end=END_ID,
                             max_length=max_tokens + 1, width=beam, alpha=alpha)
    best = hypotheses[0]
    attention, current, last = [], state, START_ID
    for token in best.tokens:  # replay the output for the attention of each token
        outputs, current = runner.step(np.array([last]), current)
        attention.append(np.asarray(outputs["attention"])[0][:kept])
        last = token
    return {"text": subwords.decode(best.tokens), "ids": list(best.tokens),
            "score": float(best.score), "source_ids": ids[:kept], "cut": len(ids) - kept,
            "attention": np.stack(attention) if attention else np.zeros((0, kept))}


def predict(preset, args: argparse.Namespace) -> list[dict]:
    """Translate ``args.inputs`` (sentences) with ``preset``; print unless ``args.json``;
    return the rows."""
    from export.parts import PartsRunner, parts_of

    sentences = input_sentences(args.inputs, args.file)
    if args.beam < 1:
        raise ValueError(f"--beam must be at least 1, got {args.beam}")
    if args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    config = preset.config["config"]
    subwords = Subwords.from_text(config["subwords"], where=f"{preset.name}: config subwords")
    length = int(config["max_source_length"])
    runner = PartsRunner.from_parts(parts_of(preset.model))
    rows = []
    for sentence in sentences:
        result = translate_sentence(runner, subwords, sentence, length, beam=args.beam,
                                    alpha=args.alpha, max_tokens=args.max_tokens)
        if result["cut"]:
            print(f"translation: the input was cut to the model's {length} source subwords "
                  f"({result['cut']} dropped): {sentence[:60]!r}", file=sys.stderr)
        rows.append({"input": sentence, "translation": result["text"],
                     "score": result["score"], "source_cut": result["cut"],
                     "_source": subwords.pieces(result["source_ids"]),
                     "_output": subwords.pieces(result["ids"]),
                     "_attention": result["attention"]})
    if args.plot:
        _plot(args.plot, rows)
    if not args.json:
        for row in rows:
            print(row["translation"] if len(rows) == 1 else
                  f"{row['input']} -> {row['translation']}")
        if args.plot:
            print(f"attention matrix written to {args.plot}")
        sys.stdout.flush()
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


def _plot(path: str, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, squeeze=False, figsize=(
        max(4.0, 0.45 * max(len(r["_source"]) for r in rows) + 2),
        sum(max(2.0, 0.35 * len(r["_output"]) + 1.2) for r in rows)))
    for ax, row in zip(axes[:, 0], rows):
        weights = row["_attention"]
        ax.imshow(weights if weights.size else np.zeros((1, 1)), cmap="viridis", vmin=0,
                  vmax=1, aspect="auto")
        ax.set_xticks(range(len(row["_source"])), row["_source"], rotation=60, fontsize=8,
                      ha="right")
        ax.set_yticks(range(len(row["_output"])), row["_output"], fontsize=8)
        ax.set_title(row["translation"][:80], fontsize=9)
    save_figure(fig, path, dpi=100)
