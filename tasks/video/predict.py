"""``rnnzoo predict`` for video presets: top-3 actions per clip, a frame strip, streaming.

Each file is decoded as the training data was (`tasks.video.decode.read_clip`: the preset's
frame count and size, uniform sampling); ``--plot`` writes the sampled frames as one strip with
the prediction, ``--stream`` prints the running prediction after every frame
(`tasks.video.streaming.FrameStreamer`, the computation of the exported step model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tasks.common.figures import save_figure

TOP = 3


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--top", type=int, default=TOP,
                        help=f"how many actions to print per clip (default: {TOP})")
    parser.add_argument("--plot", metavar="PNG",
                        help="write the sampled frames of each clip as a strip with the "
                             "prediction (several clips: one row each)")
    parser.add_argument("--stream", action="store_true",
                        help="print the running prediction after every frame (the step model)")


def _top(probabilities: np.ndarray, labels: list[str], count: int) -> list[dict]:
    order = np.argsort(probabilities)[::-1][:count]
    return [{"action": labels[i], "probability": float(probabilities[i])} for i in order]


def predict(preset, args: argparse.Namespace) -> list[dict]:
    """Classify ``args.inputs`` with ``preset``; print unless ``args.json``; return the rows."""
    from tasks.video.decode import read_clip

    if not args.inputs:
        raise ValueError("give one or more video files to classify")
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    config = preset.config["config"]
    labels, size = list(config["labels"]), int(config.get("size", 64))
    frames = int(config.get("frames") or 16)
    clips, rows = [], []
    for path in args.inputs:
        clip, notes = read_clip(path, frames=frames, size=size)
        clips.append(clip)
        rows.append({"input": str(path), "notes": notes})
    probabilities = np.asarray(preset.model.predict_on_batch(
        np.stack(clips).astype(np.float32)))
    for row, p in zip(rows, probabilities):
        row["top"] = _top(p, labels, args.top)
    if args.stream:
        from tasks.video.streaming import FrameStreamer

        streamer = FrameStreamer(preset.model)
        for row, clip in zip(rows, clips):
            streamer.reset()
            row["stream"] = [_top(streamer.step(frame), labels, 1)[0] for frame in clip]
    if args.plot:
        _plot(args.plot, clips, rows)
    if not args.json:
        _print(rows, args)
    return rows


def _print(rows: list[dict], args: argparse.Namespace) -> None:
    for row in rows:
        best = ", ".join(f"{t['action']} {t['probability']:.3f}" for t in row["top"])
        print(f"{row['input']}: {best}")
        for note in row["notes"]:
            print(f"  note: {note}")
        for t, guess in enumerate(row.get("stream", []), start=1):
            print(f"  frame {t:3d}: {guess['action']} ({guess['probability']:.3f})")
    if args.plot:
        print(f"frame strip written to {args.plot}")
    sys.stdout.flush()


def _plot(path: str, clips: list[np.ndarray], rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(len(c) for c in clips)
    fig, axes = plt.subplots(len(clips), count, figsize=(count * 1.1, len(clips) * 1.4),
                             squeeze=False)
    for r, (clip, row) in enumerate(zip(clips, rows)):
        for t in range(count):
            ax = axes[r][t]
            ax.axis("off")
            if t < len(clip):
                ax.imshow(clip[t])
        best = row["top"][0]
        axes[r][0].set_title(f"{Path(row['input']).name}: {best['action']} "
                             f"({best['probability']:.2f})", loc="left", fontsize=9)
    save_figure(fig, path, dpi=80)
