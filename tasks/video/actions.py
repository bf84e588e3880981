"""video-actions: classify a video clip as one of a set of human actions (many-to-one).

Data is a folder per class (``ROOT/<action>/<clip>.mp4``, UCF101's layout, with its
``trainlist01.txt`` / ``testlist01.txt`` split lists where present), ``tfds:ucf101``, or, when no
``--data`` is given, the procedural stick-figure actions of `tasks.video.synthetic`: written
once as real mp4 files under the rnnzoo cache (``$RNNZOO_HOME/data/``) by seed and size, and
read back through the same decoder a user's clips go through. Their training clips come from
``data_seed``, their test clips from another seed that training never sees; ``validation`` is
a held-out part of the training clips. 1,000 clips an action by default: with 150 the LRCN
stayed at chance on validation, with 500 it reached 0.69 and overfit (docs/design-notes.md).

Clips are sampled to ``frames`` frames (uniformly over the clip, or every ``stride``-th) and
resized and centre-cropped to ``size`` x ``size``; models take them as 0-255 values.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from tasks.common.metrics import classification_metric
from tasks.common.task import Task

FRAMES, SIZE = 16, 64
CLIPS_PER_CLASS, TEST_CLIPS_PER_CLASS, SEED = 1000, 50, 1


def generated_root(*, clips_per_class: int = CLIPS_PER_CLASS,
                   test_clips_per_class: int = TEST_CLIPS_PER_CLASS, data_seed: int = SEED,
                   size: int = SIZE) -> Path:
    """The folder of the procedural dataset with these settings under the rnnzoo cache,
    written (once, with progress on stderr) if it is not there yet."""
    from tasks.video.synthetic import GENERATOR_VERSION, write_dataset
    from zoo.download import cache_home

    name = (f"video-actions-v{GENERATOR_VERSION}-s{data_seed}-n{clips_per_class}"
            f"-t{test_clips_per_class}-{size}px")
    root = cache_home() / "data" / name
    if not (root / "trainlist01.txt").is_file():
        print(f"writing the procedural video-actions dataset to {root} (once)",
              file=sys.stderr, flush=True)
        write_dataset(root, clips_per_class=clips_per_class, seed=data_seed,
                      test_clips_per_class=test_clips_per_class, size=size, overwrite=True)
    return root


def _source(path: str | os.PathLike | None, clips_per_class: int, test_clips_per_class: int,
            data_seed: int, size: int) -> str:
    if path is not None:
        return str(path)
    return str(generated_root(clips_per_class=clips_per_class,
                              test_clips_per_class=test_clips_per_class, data_seed=data_seed,
                              size=size))


def load(path: str | os.PathLike | None, split: str = "train", *, frames: int = FRAMES,
         size: int = SIZE, stride: int | None = None, strict: bool = False,
         clips_per_class: int = CLIPS_PER_CLASS,
         test_clips_per_class: int = TEST_CLIPS_PER_CLASS,
         data_seed: int = SEED) -> tf.data.Dataset:
    """Unbatched ``(frames uint8 [frames, size, size, 3], label)`` of one split.

    ``path``: a folder per class, ``tfds:ucf101``, or None for the procedural dataset made
    with ``clips_per_class``, ``test_clips_per_class`` and ``data_seed``. Bad files are
    skipped and reported on stderr (``strict`` raises instead).
    """
    from tasks.video.dataset import load as load_clips

    source = _source(path, clips_per_class, test_clips_per_class, data_seed, size)
    return load_clips(source, split, frames=frames, size=size, stride=stride, strict=strict)


def class_names(path: str | os.PathLike | None, **options) -> list[str]:
    """The action names of the data ``load`` reads with the same arguments (label order)."""
    from tasks.video.dataset import class_names as names_of

    source = _source(path, options.get("clips_per_class", CLIPS_PER_CLASS),
                     options.get("test_clips_per_class", TEST_CLIPS_PER_CLASS),
                     options.get("data_seed", SEED), options.get("size", SIZE))
    return names_of(source)


def representative(path: str | os.PathLike | None, n: int = 100, *, frames: int = FRAMES,
                   size: int = SIZE, stride: int | None = None, strict: bool = False,
                   clips_per_class: int = CLIPS_PER_CLASS,
                   test_clips_per_class: int = TEST_CLIPS_PER_CLASS,
                   data_seed: int = SEED) -> list[np.ndarray]:
    """Up to ``n`` training clips ``[1, frames, size, size, 3]`` (float32) for int8
    calibration, evenly spread over the training split (never validation or test clips);
    only those clips are decoded. Options as `load`."""
    from tasks.video.dataset import clip_dataset
    from tasks.video.layout import find_clips

    source = _source(path, clips_per_class, test_clips_per_class, data_seed, size)
    if source.startswith("tfds:"):
        data = load(source, "train", frames=frames, size=size, stride=stride,
                    strict=strict).take(n)
    else:
        paths, labels, _ = find_clips(source, "train", strict=strict)
        chosen = np.unique(np.linspace(0, len(paths) - 1, min(n, len(paths))).round())
        data = clip_dataset([paths[i] for i in chosen.astype(int)],
                            [labels[i] for i in chosen.astype(int)], frames=frames, size=size,
                            stride=stride, strict=strict)
    return [x[None].astype(np.float32) for x, _ in data.as_numpy_iterator()]


def metric(model_fn, dataset) -> dict[str, float]:
    """Accuracy, error count and the number of clips."""
    return classification_metric(model_fn, dataset, batch_size=32)


def _add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video-actions")
    group.add_argument("--model", choices=("lrcn", "convlstm", "frame-average"), default="lrcn",
                       help="video-lrcn (per-frame CNN + GRU/LSTM), video-convlstm, or the "
                            "video-frame-average baseline (default: lrcn)")
    group.add_argument("--frames", type=int, default=FRAMES,
                       help=f"frames sampled per clip (default: {FRAMES})")
    group.add_argument("--size", type=int, default=SIZE,
                       help=f"frame size in pixels after resizing and centre-cropping "
                            f"(default: {SIZE})")
    group.add_argument("--stride", type=int, default=None,
                       help="take every N-th frame from the start instead of sampling "
                            "uniformly over the clip")
    group.add_argument("--filters", type=int, nargs="+", default=None,
                       help="conv widths (default: 16 32 64 128 for lrcn and frame-average, "
                            "16 32 for convlstm)")
    group.add_argument("--kind", choices=("gru", "lstm", "simple"), default="gru",
                       help="recurrent layer of the LRCN (default: gru)")
    group.add_argument("--units", type=int, default=128,
                       help="LRCN recurrent units (default: 128)")
    group.add_argument("--dropout", type=float, default=0.3,
                       help="dropout before the classifier (default: 0.3)")
    group.add_argument("--frame-pooling", choices=("max", "average", "flatten"), default=None,
                       help="LRCN and frame-average: how the CNN's last map becomes a frame "
                            "code: its maximum or average over the image, or a dense layer "
                            "over the flattened map (LRCN's fc6) (default: max)")
    group.add_argument("--frame-units", type=int, default=None,
                       help="width of the dense frame code with --frame-pooling flatten "
                            "(default: 256)")
    group.add_argument("--frame-dropout", type=float, default=None,
                       help="LRCN: dropout on the frame codes (default: 0)")
    group.add_argument("--augment", action="store_true",
                       help="LRCN: mirror and zoom each training clip at random, the same "
                            "for all its frames (zoo.video.ClipAugment; training only)")
    group.add_argument("--motion", action="store_true",
                       help="LRCN: the CNN also sees each frame's difference from the previous "
                            "frame (a motion stream; the step model keeps the previous frame "
                            "as a state)")
    group.add_argument("--clips-per-class", type=int, default=None,
                       help=f"procedural data only (no --data): training clips per action "
                            f"(default: {CLIPS_PER_CLASS})")
    group.add_argument("--test-clips-per-class", type=int, default=None,
                       help=f"procedural data only: test clips per action, from another seed "
                            f"(default: {TEST_CLIPS_PER_CLASS})")
    group.add_argument("--data-seed", type=int, default=None,
                       help=f"procedural data only: the training clips' seed; the test clips "
                            f"use another (default: {SEED})")
    group.add_argument("--strict", action="store_true",
                       help="fail on the first bad video file instead of skipping it")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = {k: getattr(args, k) for k in ("clips_per_class", "test_clips_per_class",
                                             "data_seed") if getattr(args, k, None) is not None}
    labels = class_names(args.data, size=args.size, **options)
    config = {"labels": labels, "frames": args.frames, "size": args.size,
              "dropout": args.dropout}
    if args.filters:
        config["filters"] = list(args.filters)
    if args.model in ("lrcn", "frame-average") and args.frame_pooling:
        config["frame_pooling"] = args.frame_pooling
    if args.model == "lrcn":
        config.update(kind=args.kind, units=args.units)
        if args.frame_units:
            config["frame_units"] = args.frame_units
        if args.frame_dropout:
            config["frame_dropout"] = args.frame_dropout
        if args.augment:
            config["augment"] = {}
        if args.motion:
            config["motion"] = True
    return f"video-{args.model}", config


def _predict(preset, args: argparse.Namespace):
    from tasks.video.predict import predict

    return predict(preset, args)


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.video.predict import add_predict_options

    add_predict_options(parser)


TASK = Task(
    name="video-actions",
    summary="Human action recognition from video clips (LRCN, ConvLSTM); procedural "
            "stick-figure actions, a folder per class, or UCF101",
    builders=("video-lrcn", "video-convlstm", "video-frame-average"),
    load=load,
    metric=metric,
    representative=representative,
    loss="sparse_categorical_crossentropy",
    primary_metric="accuracy",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=("frames", "size", "stride", "strict", "clips_per_class",
                       "test_clips_per_class", "data_seed"),
    builder_config=_builder_config,
    needs_data=False,
    data_license="procedural clips generated by rnnzoo (no licence needed); for your own "
                 "data or UCF101, their terms",
    dataset_name="video-actions: procedural stick figures, 8 actions, written as mp4; train "
                 "and validation from one seed, test from another",
    train_defaults={"epochs": 30, "batch_size": 16, "learning_rate": 2e-3, "patience": 6},
    add_predict_options=_add_predict_options,
    predict=_predict,
)
