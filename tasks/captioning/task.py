"""captioning: describe an image in a sentence (one-to-many), show-attend-tell.

Data: a COCO captions folder (``captions_<split>2017.json`` and the images, as
``../shared/data/coco_captions_mini``; `tasks.captioning.coco`), ``tfds:coco_captions``, or,
with no ``--data``, the procedural shapes of `tasks.captioning.shapes`, written once in the
COCO format under the rnnzoo cache (``$RNNZOO_HOME/data/``) and read back through the same
loader. Every example is one caption of one image: ``({"image": uint8 [size, size, 3],
"tokens": <start> w1 .. wn [max_length]}, w1 .. wn <end> [max_length])``, padded with 0.

The vocabulary is built from the training captions (`tasks.common.vocabulary`, words seen at
least ``min_count`` times) and becomes part of the model's config; ``rnnzoo train`` also
stores it in the card's data options, so that evaluation and export encode references with the
model's own words (`Task.config_data_options`).

Metric: BLEU-1..4 of greedy captions against every reference of each image
(`tasks.captioning.bleu`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tasks.common.task import Task

IMAGE_SIZE, MAX_LENGTH, MIN_COUNT = 96, 20, 1
SHAPES_IMAGES, SHAPES_TEST_IMAGES, SEED = 4000, 500, 1


def generated_root(*, images: int = SHAPES_IMAGES, test_images: int = SHAPES_TEST_IMAGES,
                   data_seed: int = SEED) -> Path:
    """The procedural shapes dataset with these settings under the rnnzoo cache, written
    (once, with progress on stderr) when it is not there yet."""
    from tasks.captioning import shapes
    from zoo.download import cache_home

    name = (f"captioning-shapes-v{shapes.GENERATOR_VERSION}-s{data_seed}-n{images}"
            f"-t{test_images}")
    root = cache_home() / "data" / name
    if not (root / shapes.METADATA_FILE).is_file():
        print(f"writing the procedural captioning-shapes dataset to {root} (once)",
              file=sys.stderr, flush=True)
        shapes.write_dataset(root, images=images, test_images=test_images, seed=data_seed,
                             overwrite=True)
    return root


def _source(path, images: int, test_images: int, data_seed: int) -> str:
    if path is not None:
        return str(path)
    return str(generated_root(images=images, test_images=test_images, data_seed=data_seed))


def training_vocabulary(source: str, *, min_count: int = MIN_COUNT, strict: bool = False):
    """The `Vocabulary` of the training captions of ``source``."""
    from tasks.captioning.coco import load_captions
    from tasks.common.vocabulary import Vocabulary

    if source.startswith("tfds:"):
        from tasks.captioning.dataset import load as load_pairs

        texts = (c.decode() for _, c in load_pairs(source, "train", size=16)
                 .as_numpy_iterator())
    else:
        items, _ = load_captions(source, "train", strict=strict)
        texts = (caption for item in items for caption in item.captions)
    return Vocabulary.build(texts, min_count=min_count)


def load(path: str | os.PathLike | None, split: str = "train", *,
         image_size: int = IMAGE_SIZE, max_length: int = MAX_LENGTH, min_count: int = MIN_COUNT,
         vocabulary: list[str] | None = None, strict: bool = False,
         images: int = SHAPES_IMAGES, test_images: int = SHAPES_TEST_IMAGES,
         data_seed: int = SEED) -> tf.data.Dataset:
    """Unbatched caption examples of one split (see the module docstring). ``vocabulary``:
    the model's words by id (default: built from the training captions with
    ``min_count``); ``max_length``: ids of the token input and target (longer captions are
    cut, and counted on stderr); ``images``, ``test_images``, ``data_seed``: the procedural
    shapes when ``path`` is None."""
    from tasks.captioning.dataset import load as load_pairs

    source = _source(path, images, test_images, data_seed)
    words = _words(source, vocabulary, min_count, strict)
    return _as_examples(load_pairs(source, split, size=image_size, vocabulary=words,
                                   max_length=max_length + 1, strict=strict))


def _words(source: str, vocabulary: list[str] | None, min_count: int, strict: bool):
    from tasks.common.vocabulary import Vocabulary

    if vocabulary is not None:
        return Vocabulary(vocabulary)
    return training_vocabulary(source, min_count=min_count, strict=strict)


def _as_examples(pairs: tf.data.Dataset) -> tf.data.Dataset:
    """(image, <start> w1 .. wn <end>) -> ({"image", "tokens": <start> w1 .. wn}, w1 .. <end>)."""
    return pairs.map(lambda image, ids: ({"image": image, "tokens": ids[:-1]}, ids[1:]),
                     num_parallel_calls=tf.data.AUTOTUNE)


def representative(path: str | os.PathLike | None, n: int = 100, *,
                   image_size: int = IMAGE_SIZE, max_length: int = MAX_LENGTH,
                   min_count: int = MIN_COUNT, vocabulary: list[str] | None = None,
                   strict: bool = False, images: int = SHAPES_IMAGES,
                   test_images: int = SHAPES_TEST_IMAGES, data_seed: int = SEED) -> list[dict]:
    """Up to ``n`` training examples (image and caption tokens, batch axis of 1) for int8
    calibration: the first caption of ``n`` images spread over the training split (only
    those images are decoded; the first ``n`` examples for TFDS). Options as `load`."""
    from dataclasses import replace

    from tasks.captioning.coco import load_captions
    from tasks.captioning.dataset import caption_pairs

    source = _source(path, images, test_images, data_seed)
    if source.startswith("tfds:"):
        data = load(path, "train", image_size=image_size, max_length=max_length,
                    min_count=min_count, vocabulary=vocabulary, strict=strict).take(n)
    else:
        items, _ = load_captions(source, "train", strict=strict)
        picked = [replace(item, captions=item.captions[:1])
                  for item in items[::max(1, len(items) // max(1, n))][:n]]
        words = _words(source, vocabulary, min_count, strict)
        data = _as_examples(caption_pairs(picked, size=image_size, vocabulary=words,
                                          max_length=max_length + 1, strict=strict))
    samples = []
    for x, _ in data.as_numpy_iterator():
        samples.append({"image": x["image"][None].astype(np.float32),
                        "tokens": x["tokens"][None].astype(np.int32)})
    if not samples:
        raise ValueError(f"{path}: no training captions for calibration")
    return samples


def metric(model_fn, dataset) -> dict[str, float]:
    """BLEU-1..4 (0-1) of greedy captions, with the counts of images and references."""
    from tasks.captioning.bleu import caption_metric

    return caption_metric(model_fn, dataset)


def _add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("captioning")
    group.add_argument("--encoder", type=_encoder_name, default="small-cnn",
                       help="image encoder: small-cnn (trained with the decoder; the "
                            "procedural shapes), efficientnet-lite0 (ImageNet weights, frozen; "
                            "photos), or keras:<Application> (any keras.applications backbone, "
                            "e.g. keras:MobileNetV3Small, frozen, with --encoder-weights) "
                            "(default: small-cnn)")
    group.add_argument("--encoder-weights", default=None, metavar="PATH",
                       help="keras:<Application> encoders: the application's weights file "
                            "without top (keras.applications cannot download here); the "
                            "preset does not store these weights and needs the file to load")
    group.add_argument("--image-size", type=int, default=None,
                       help=f"images are resized to this square (default: {IMAGE_SIZE}, 224 "
                            "with efficientnet-lite0)")
    group.add_argument("--encoder-filters", type=int, nargs="+", default=None,
                       help="small-cnn conv widths, one 2x2 pooling each (default: 24 48 96 128)")
    group.add_argument("--units", type=int, default=256, help="LSTM units (default: 256)")
    group.add_argument("--embedding-dim", type=int, default=64,
                       help="word embedding width (default: 64)")
    group.add_argument("--attention-units", type=int, default=128,
                       help="additive attention units (default: 128)")
    group.add_argument("--dropout", type=float, default=0.3,
                       help="dropout before the word classifier (default: 0.3)")
    group.add_argument("--max-length", type=int, default=None,
                       help=f"caption ids with <start>/<end> (default: {MAX_LENGTH})")
    group.add_argument("--min-count", type=int, default=None,
                       help=f"words seen fewer times in training captions are <unk> "
                            f"(default: {MIN_COUNT})")
    group.add_argument("--images", type=int, default=None,
                       help=f"procedural shapes only (no --data): training images "
                            f"(default: {SHAPES_IMAGES})")
    group.add_argument("--test-images", type=int, default=None,
                       help=f"procedural shapes only: test images from another seed "
                            f"(default: {SHAPES_TEST_IMAGES})")
    group.add_argument("--data-seed", type=int, default=None,
                       help=f"procedural shapes only: the training seed (default: {SEED})")
    group.add_argument("--strict", action="store_true",
                       help="fail on the first bad image or caption instead of skipping it")


def _encoder_name(value: str) -> str:
    from zoo.captioning import ENCODERS, KERAS_PREFIX

    if value in ENCODERS or (value.startswith(KERAS_PREFIX) and len(value) > len(KERAS_PREFIX)):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: expected one of {', '.join(ENCODERS)} or "
                                     f"{KERAS_PREFIX}<keras.applications name>")


def _image_size(args: argparse.Namespace) -> int:
    if args.image_size:
        return args.image_size
    return IMAGE_SIZE if args.encoder == "small-cnn" else 224


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = {k: getattr(args, k) for k in ("images", "test_images", "data_seed")
               if getattr(args, k, None) is not None}
    source = _source(args.data, options.get("images", SHAPES_IMAGES),
                     options.get("test_images", SHAPES_TEST_IMAGES),
                     options.get("data_seed", SEED))
    words = training_vocabulary(source, min_count=args.min_count or MIN_COUNT,
                                strict=args.strict)
    config = {"vocabulary": list(words.tokens), "image_size": _image_size(args),
              "encoder": args.encoder, "embedding_dim": args.embedding_dim,
              "units": args.units, "attention_units": args.attention_units,
              "dropout": args.dropout}
    if args.encoder_filters:
        config["encoder_filters"] = list(args.encoder_filters)
    if args.encoder_weights:
        config["encoder_weights"] = str(Path(args.encoder_weights).expanduser().resolve())
    return "captioning-attention", config


def _config_data_options(builder: str, config: dict) -> dict:
    return {"vocabulary": list(config["vocabulary"]), "image_size": config["image_size"]}


def _predict(preset, args: argparse.Namespace):
    from tasks.captioning.predict import predict

    return predict(preset, args)


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.captioning.predict import add_predict_options

    add_predict_options(parser)


TASK = Task(
    name="captioning",
    summary="Image captioning (show, attend and tell): procedural shapes, or COCO captions",
    builders=("captioning-attention",),
    load=load,
    metric=metric,
    representative=representative,
    # padding (id 0) after <end> is not a word to predict
    loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
    primary_metric="bleu4",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=("image_size", "max_length", "min_count", "strict", "images",
                       "test_images", "data_seed"),
    builder_config=_builder_config,
    needs_data=False,
    data_license="procedural shapes generated by rnnzoo (no licence needed); COCO: "
                 "annotations CC BY 4.0, images under their Flickr licences",
    dataset_name="captioning: procedural shapes (train/validation from one seed, test from "
                 "another) or COCO captions",
    train_defaults={"epochs": 30, "batch_size": 32, "learning_rate": 2e-3, "patience": 5},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
)
