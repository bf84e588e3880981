"""tf.data pipelines of captioned images: a COCO captions folder, or TFDS ``coco_captions``.

Both give unbatched examples with a static image shape; images are decoded by
`tasks.captioning.images` (`read_image` for files, `decode_image` for TFDS's encoded bytes)
inside a parallel ``map`` over a ``numpy_function`` (``num_parallel_calls=parallel``,
AUTOTUNE by default, output order kept; Pillow releases the GIL while it decodes), every
image to uint8 ``[size, size, 3]`` (its centre square):

* `caption_pairs`: one example per caption, ``(image, caption)``, for teacher-forced
  training. The caption is a ``tf.string``, or, given a `Vocabulary` and ``max_length``,
  int32 ids ``[max_length]`` (``<start> ... <end>`` padded with ``<pad>`` = 0; a longer
  caption is cut to a prefix without ``<end>``, see `Vocabulary.encode`, and the pass's
  summary line counts such captions). An image is decoded once for all its captions.
  ``shuffle`` shuffles the images every pass (before decoding), then the pairs in a buffer
  of ``shuffle_buffer`` pairs, so that one image's captions do not come together.
* `image_references`: one example per image, ``(image, string [n])`` with all its captions,
  the references of BLEU; ``padded_batch`` pads them with ``b""``.

Bad images: an image that fails to decode is left out, with one ``note:`` line on stderr
naming it and the problem when first met, and one summary line at the end of a pass that met
something new (`CaptionDecodeReport`, the video pipeline's `DecodeReport` plus cut
captions); the dataset's cardinality is then unknown. ``strict=True`` decodes every image
once before the dataset is returned (a thread pool) and raises the first bad one's
`ImageError`; the cardinality is then known.

`load(path, split, ...)`: `tasks.captioning.coco.load_task_split` and one of the two, or, for
``path`` = ``tfds:coco_captions`` (`tfds_dataset`), TFDS's COCO 2014 captions with Karpathy
and Li's splits: ``train`` is TFDS's ``train+restval`` (113,287 images, the usual training
set), ``val``/``validation`` its ``val`` and ``test`` its ``test`` (5,000 each). Its images
stay encoded (``SkipDecoding``) until `decode_image`, so they go through the same
conversions as files; captions without words are dropped, and an image left with none is
skipped. The builder is read from ``tfds_data_dir`` (TFDS's default when None); one that is
not prepared is refused unless ``download=True``, since preparing it downloads the COCO 2014
image zips (tens of GB). With TFDS, ``strict`` makes a bad image fail the pipeline when it
is met (nothing is decoded beforehand).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from tasks.captioning.coco import CaptionedImage, image_errors, load_task_split
from tasks.captioning.images import ImageError, decode_image, read_image
from tasks.common.decode_report import DecodeReport
from tasks.common.vocabulary import PAD_ID, Vocabulary, tokenize

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER = 1024  # pairs
TFDS_PREFIX = "tfds:"
TFDS_SPLITS = {"train": "train+restval", "val": "val", "validation": "val", "test": "test"}


class CaptionDecodeReport(DecodeReport):
    """`DecodeReport` of a captioning pipeline: also the captions cut to ``max_length``."""

    def __init__(self, total: int, **kwargs):
        super().__init__(max(1, total), **kwargs)
        self.cut: dict[str, int] = {}

    def truncated(self, name: str, count: int) -> None:
        """Image ``name`` had ``count`` captions cut."""
        with self._lock:
            if name not in self.cut:
                self.cut[name] = count
                self._new = True  # the pass's summary line says so

    def summary(self) -> str:
        line = super().summary()
        if self.cut:
            captions, images = sum(self.cut.values()), len(self.cut)
            line += (f"; {captions} caption{'s' * (captions != 1)} of {images} "
                     f"image{'s' * (images != 1)} cut to max_length")
        return line


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return int(size)


Encoder = Callable[[Sequence[str]], tuple[np.ndarray, int]]


def _encoder(vocabulary: Vocabulary | None, max_length: int | None) -> Encoder | None:
    """captions -> (ids ``[n, max_length]`` padded, how many were cut), or None for text."""
    if vocabulary is None:
        if max_length is not None:
            raise ValueError("max_length is for encoded captions: give a vocabulary too")
        return None
    if max_length is None:
        raise ValueError("encoded captions need max_length (ids are padded to it)")
    vocabulary.encode("", max_length=max_length)  # checks max_length

    def encode(texts: Sequence[str]) -> tuple[np.ndarray, int]:
        ids = np.full((len(texts), max_length), PAD_ID, np.int32)
        cut = 0
        for row, text in enumerate(texts):
            encoded, dropped = vocabulary.encode_counted(text, max_length=max_length)
            ids[row, :len(encoded)] = encoded
            cut += dropped > 0
        return ids, cut

    return encode


def _pipeline(data: tf.data.Dataset, *, decode: Callable[[bytes, str], np.ndarray],
              size: int, encode: Encoder | None, references: bool, strict: bool,
              parallel: int, report: CaptionDecodeReport, shuffle: bool, seed: int | None,
              shuffle_buffer: int, prefix: str = "") -> tf.data.Dataset:
    """``data`` of ``(source, name, captions [n])`` -> ``(image, references)`` or pairs;
    ``decode(source, prefix + name)`` reads one image (the name is its name in errors)."""
    shape = (size, size, 3)
    width = encode([""])[0].shape[1] if encode else 0

    def work(source: bytes, name: bytes, texts: np.ndarray):
        label = prefix + name.decode()
        captions = [t.decode() if isinstance(t, bytes) else str(t) for t in texts]
        captions = [" ".join(t.split()) for t in captions if tokenize(t)]
        try:
            if not captions:
                raise ImageError(label, "no captions")
            image = decode(source, label)
        except ImageError as error:
            if strict:
                raise
            report.bad(label, error.problem, str(error))
            empty = np.zeros((0, width), np.int32) if encode else np.zeros(0, object)
            return np.zeros(shape, np.uint8), empty, False
        if encode:
            out, cut = encode(captions)
            if cut:
                report.truncated(label, cut)  # before good(): good() may end the pass
        else:
            out = np.array(captions, dtype=object)
        report.good(label, [])
        return image, out, True

    def call(source, name, texts):
        image, captions, ok = tf.numpy_function(
            work, [source, name, texts], (tf.uint8, tf.int32 if encode else tf.string, tf.bool))
        image.set_shape(shape)
        captions.set_shape((None, width) if encode else (None,))
        ok.set_shape(())
        return image, captions, ok

    if shuffle:
        data = data.shuffle(max(1, shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    data = data.map(call, num_parallel_calls=parallel, deterministic=True)
    data = data.filter(_decoded_ok).map(_without_flag)
    if references:
        return data
    data = data.flat_map(_pairs)
    if shuffle:
        data = data.shuffle(max(1, shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    return data


def _decoded_ok(image, captions, ok):
    return ok


def _without_flag(image, captions, ok):
    return image, captions


def _pairs(image, captions):
    return tf.data.Dataset.zip(tf.data.Dataset.from_tensors(image).repeat(),
                               tf.data.Dataset.from_tensor_slices(captions))


def _items_dataset(items: Sequence[CaptionedImage], *, size: int, references: bool,
                   vocabulary: Vocabulary | None, max_length: int | None, strict: bool,
                   parallel: int, shuffle: bool, seed: int | None, shuffle_buffer: int,
                   report: CaptionDecodeReport | None) -> tf.data.Dataset:
    size = _check_size(size)
    encode = _encoder(vocabulary, max_length)
    items = list(items)
    if not items:
        raise ValueError("no captioned images to read")
    if strict:
        first = next((e for e in image_errors([i.path for i in items]) if e is not None), None)
        if first is not None:
            raise first
    report = report or CaptionDecodeReport(len(items), what="images")
    paths = tf.constant([item.path for item in items])
    texts = tf.ragged.constant([list(item.captions) for item in items], dtype=tf.string)
    data = tf.data.Dataset.from_tensor_slices((paths, paths, texts))
    data = _pipeline(data, decode=lambda source, name: read_image(name, size), size=size,
                     encode=encode, references=references, strict=strict, parallel=parallel,
                     report=report, shuffle=shuffle, seed=seed, shuffle_buffer=shuffle_buffer)
    if strict:  # every image decoded once already: the count is known
        count = len(items) if references else sum(len(i.captions) for i in items)
        data = data.apply(tf.data.experimental.assert_cardinality(count))
    return data


def caption_pairs(items: Sequence[CaptionedImage], *, size: int,
                  vocabulary: Vocabulary | None = None, max_length: int | None = None,
                  strict: bool = False, parallel: int = AUTOTUNE, shuffle: bool = False,
                  seed: int | None = None, shuffle_buffer: int = SHUFFLE_BUFFER,
                  report: CaptionDecodeReport | None = None) -> tf.data.Dataset:
    """One ``(uint8 [size, size, 3], caption)`` example per caption of ``items``: the
    caption as a string, or as int32 ids ``[max_length]`` given ``vocabulary`` (see the
    module docstring). ``report``: a `CaptionDecodeReport` to fill (one is made when None)."""
    return _items_dataset(items, size=size, references=False, vocabulary=vocabulary,
                          max_length=max_length, strict=strict, parallel=parallel,
                          shuffle=shuffle, seed=seed, shuffle_buffer=shuffle_buffer,
                          report=report)


def image_references(items: Sequence[CaptionedImage], *, size: int, strict: bool = False,
                     parallel: int = AUTOTUNE, shuffle: bool = False, seed: int | None = None,
                     report: CaptionDecodeReport | None = None) -> tf.data.Dataset:
    """One ``(uint8 [size, size, 3], string [n])`` example per image of ``items``, with all
    its captions (the references of BLEU)."""
    return _items_dataset(items, size=size, references=True, vocabulary=None,
                          max_length=None, strict=strict, parallel=parallel, shuffle=shuffle,
                          seed=seed, shuffle_buffer=max(1, len(items)), report=report)


def load(path: str | os.PathLike, split: str = "train", *, size: int,
         references: bool = False, vocabulary: Vocabulary | None = None,
         max_length: int | None = None, strict: bool = False, check_images: bool = False,
         shuffle: bool = False, seed: int | None = None, parallel: int = AUTOTUNE,
         tfds_data_dir: str | os.PathLike | None = None,
         download: bool = False) -> tf.data.Dataset:
    """`image_references` (``references=True``) or `caption_pairs` of ``split`` of the COCO
    captions folder at ``path`` (`load_task_split`: ``strict``, ``check_images``; a folder
    without test captions divides its val images into validation and test) or of
    ``tfds:coco_captions`` (`tfds_dataset`)."""
    if str(path).startswith(TFDS_PREFIX):
        return tfds_dataset(str(path)[len(TFDS_PREFIX):], split, size=size,
                            references=references, vocabulary=vocabulary,
                            max_length=max_length, strict=strict, data_dir=tfds_data_dir,
                            parallel=parallel, shuffle=shuffle, seed=seed, download=download)
    items, _ = load_task_split(path, split, strict=strict, check_images=check_images)
    if references:
        return image_references(items, size=size, strict=strict, parallel=parallel,
                                shuffle=shuffle, seed=seed)
    return caption_pairs(items, size=size, vocabulary=vocabulary, max_length=max_length,
                         strict=strict, parallel=parallel, shuffle=shuffle, seed=seed)


# TFDS ---------------------------------------------------------------------------------------
def tfds_split(split: str) -> str:
    """The TFDS ``coco_captions`` split string of ``train``, ``val``/``validation`` or
    ``test`` (Karpathy and Li's splits; training adds ``restval``)."""
    if split not in TFDS_SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(TFDS_SPLITS)}")
    return TFDS_SPLITS[split]


def tfds_dataset(name: str, split: str, *, size: int, references: bool = False,
                 vocabulary: Vocabulary | None = None, max_length: int | None = None,
                 strict: bool = False, data_dir: str | os.PathLike | None = None,
                 parallel: int = AUTOTUNE, shuffle: bool = False, seed: int | None = None,
                 download: bool = False,
                 report: CaptionDecodeReport | None = None) -> tf.data.Dataset:
    """`caption_pairs` / `image_references` of TFDS ``name`` (``coco_captions`` or
    ``coco_captions/2014``; see the module docstring)."""
    import tensorflow_datasets as tfds

    size = _check_size(size)
    encode = _encoder(vocabulary, max_length)
    name = name or "coco_captions"
    where = f"{TFDS_PREFIX}{name}"
    builder = tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
    if not builder.is_prepared():
        if not download:
            raise FileNotFoundError(
                f"{where}: not prepared in {builder.data_dir}; preparing it downloads the "
                "COCO 2014 image zips (tens of GB): run `tfds build coco_captions` (or pass "
                "download=True), or give the data folder of a prepared copy (tfds_data_dir "
                "or TFDS_DATA_DIR)")
        builder.download_and_prepare()
    data = builder.as_dataset(split=tfds_split(split),
                              decoders={"image": tfds.decode.SkipDecoding()},
                              shuffle_files=shuffle,
                              read_config=tfds.ReadConfig(shuffle_seed=seed))
    total = int(data.cardinality()) if int(data.cardinality()) > 0 else 0
    report = report or CaptionDecodeReport(total, what=f"{where} images")

    def fields(example):
        label = tf.strings.join([tf.strings.as_string(example["image/id"]),
                                 example["image/filename"]], " ")
        return example["image"], label, example["captions"]["text"]

    return _pipeline(data.map(fields),
                     decode=lambda source, label: decode_image(source, size=size, name=label),
                     size=size, encode=encode, references=references, strict=strict,
                     parallel=parallel, report=report, shuffle=shuffle, seed=seed,
                     shuffle_buffer=SHUFFLE_BUFFER, prefix=f"{where} image ")
