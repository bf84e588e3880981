"""``rnnzoo predict`` for captioning presets: a caption per image, beam search, attention.

Each image is read as the training images were (`tasks.captioning.images.read_image`: every
mode to 8-bit RGB, EXIF orientation, the centre square at the model's size), encoded once,
and decoded word by word through the model's decoder step (`export.parts.PartsRunner`, the
computation of the exported files) with beam search (`tasks.common.decoding`). ``--plot``
draws each image with the attention map of every word of its caption.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tasks.common.decoding import add_beam_options
from tasks.common.figures import save_figure

BEAM, ALPHA, MAX_WORDS = 3, 0.7, 20


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    add_beam_options(parser, beam=BEAM, alpha=ALPHA)
    parser.add_argument("--max-words", type=int, default=MAX_WORDS,
                        help=f"longest caption (default: {MAX_WORDS})")
    parser.add_argument("--plot", metavar="PNG",
                        help="write each image with the attention map of every word")


def caption_image(runner, image: np.ndarray, vocabulary: list[str], *, beam: int = BEAM,
                  alpha: float = ALPHA, max_words: int = MAX_WORDS) -> dict:
    """The caption of one uint8 image ``[size, size, 3]``: ``words``, ``ids``, ``score`` (log
    probability over the length penalty) and ``attention`` (``[words, cells]``, the weights
    of each emitted word, ``<end>`` excluded)."""
    from tasks.common.decoding import beam_search

    state = runner.encode({"image": image[None].astype(np.float32)})
    best = beam_search(runner.step_fn(), state, start=1, end=2, max_length=max_words + 1,
                       width=beam, alpha=alpha)[0]
    attention, current, last = [], state, 1
    for token in best.tokens:  # replay the caption for the attention of each word
        outputs, current = runner.step(np.array([last]), current)
        attention.append(np.asarray(outputs["attention"])[0])
        last = token
    return {"ids": best.tokens, "words": [vocabulary[i] for i in best.tokens],
            "score": float(best.score),
            "attention": np.stack(attention) if attention else np.zeros((0, 0))}


def predict(preset, args: argparse.Namespace) -> list[dict]:
    """Caption ``args.inputs`` with ``preset``; print unless ``args.json``; return the rows."""
    from export.parts import PartsRunner, parts_of
    from tasks.captioning.images import read_image

    if not args.inputs:
        raise ValueError("give one or more image files to caption")
    if args.beam < 1:
        raise ValueError(f"--beam must be at least 1, got {args.beam}")
    if args.max_words < 1:
        raise ValueError(f"--max-words must be at least 1, got {args.max_words}")
    config = preset.config["config"]
    vocabulary, size = list(config["vocabulary"]), int(config.get("image_size", 64))
    runner = PartsRunner.from_parts(parts_of(preset.model))
    rows, images = [], []
    for path in args.inputs:
        image = read_image(path, size=size)
        images.append(image)
        result = caption_image(runner, image, vocabulary, beam=args.beam, alpha=args.alpha,
                               max_words=args.max_words)
        rows.append({"input": str(path), "caption": " ".join(result["words"]),
                     "score": result["score"], "attention": result["attention"]})
    if args.plot:
        _plot(args.plot, images, rows)
    if not args.json:
        for row in rows:
            print(f"{row['input']}: {row['caption']}")
        if args.plot:
            print(f"attention maps written to {args.plot}")
        sys.stdout.flush()
    return [{k: v for k, v in row.items() if k != "attention"} for row in rows]


def _plot(path: str, images: list[np.ndarray], rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    words = max(1, max(len(r["caption"].split()) for r in rows))
    fig, axes = plt.subplots(len(rows), words + 1, figsize=((words + 1) * 1.6, len(rows) * 1.9),
                             squeeze=False)
    for r, (image, row) in enumerate(zip(images, rows)):
        for ax in axes[r]:
            ax.axis("off")
        axes[r][0].imshow(image)
        axes[r][0].set_title(Path(row["input"]).name, fontsize=8)
        attention = row["attention"]
        side = int(round(np.sqrt(attention.shape[1]))) if attention.size else 0
        for w, word in enumerate(row["caption"].split()):
            ax = axes[r][w + 1]
            ax.imshow(image)
            if side * side == attention.shape[1]:
                grid = attention[w].reshape(side, side)
                ax.imshow(grid, cmap="magma", alpha=0.6, interpolation="bilinear",
                          extent=(0, image.shape[1], image.shape[0], 0))
            ax.set_title(word, fontsize=9)
    save_figure(fig, path, dpi=80)
