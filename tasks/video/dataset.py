"""tf.data pipelines of video clips: files decoded in parallel, or TFDS ``ucf101``.

`clip_dataset(paths, labels, ...)` yields ``(uint8 [frames, size, size, 3], int32 label)``,
unbatched, with static shapes. Files are decoded with `tasks.video.decode.read_clip` inside a
parallel ``map`` (``num_parallel_calls=parallel``, AUTOTUNE by default, output order kept):
PyAV releases the GIL while it decodes and scales, so several clips decode at once, one
FFmpeg thread each. ``shuffle=True`` shuffles the paths (not decoded clips) every pass.

Bad files: by default a bad file is left out, with one line on stderr naming it and the
problem when it is first met, and at the end of a pass over the data one summary line: how
many clips were decoded, which were skipped and why, and which had fewer frames than asked
(last frame repeated). ``strict=True`` decodes every file once before the dataset is
returned (in a thread pool, in order) and raises the `VideoError` of the first bad one; this
costs one extra decoding pass, and a file that goes bad later fails the pipeline (as a
TensorFlow error whose message holds the VideoError's). The dataset's cardinality is then
known; without ``strict`` it is unknown (bad files leave it), so Keras warns once, at the
end of the first epoch, that the input "ran out of data".

`load(path, split, ...)` combines `tasks.video.layout.find_clips` and `clip_dataset`.
``path`` may also be ``tfds:ucf101`` (or ``tfds:ucf101/<config>``): the TFDS builder, read from
``tfds_data_dir`` (TFDS's default when None). Its ``train`` and ``test`` are TFDS's (split 1
unless the config says otherwise); ``validation`` is the last ``round(validation_fraction *
n)`` examples of TFDS's train split and ``train`` the rest (TFDS keeps no file names, so this
cannot follow UCF101's actor groups as the folder split does); ``train+validation`` is all of
it. Frames are stored as JPEG: only the sampled ones are decoded (PyAV's MJPEG decoder) and
scaled like a file's frames (`tasks.video.decode.square`); sampling is by frame index (TFDS
keeps no timestamps; UCF101 has a constant frame rate). TFDS's default config
``ucf101_1_256`` stores frames squeezed to 256x256 (aspect ratio not kept); ``ucf101_1``,
``ucf101_2``, ``ucf101_3`` keep 320x240. A builder that is not prepared is prepared only when
the ``ffmpeg`` program is there (TFDS extracts frames with it; the download is 6.5 GB);
otherwise the error says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf

from tasks.common.decode_report import DecodeReport
from tasks.video.decode import (
    VideoError,
    check_options,
    read_clip,
    repeat_note,
    sample_indices,
    square,
)
from tasks.video.layout import LayoutError, class_names as folder_class_names, find_clips
from zoo.checks import check_fraction

AUTOTUNE = tf.data.AUTOTUNE
TFDS_PREFIX = "tfds:"
def clip_dataset(paths: Sequence[str | os.PathLike], labels: Sequence[int], *,
                 frames: int = 16, size: int = 64, stride: int | None = None,
                 strict: bool = False, parallel: int = AUTOTUNE, shuffle: bool = False,
                 seed: int | None = None, report: DecodeReport | None = None,
                 ) -> tf.data.Dataset:
    """Unbatched ``(uint8 [frames, size, size, 3], int32 label)`` of the clips at ``paths``
    (see the module docstring). ``report``: a `DecodeReport` to fill (one is made when None).
    """
    check_options(frames, size, stride)
    paths = [str(p) for p in paths]
    labels = [int(label) for label in labels]
    if len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    if not paths:
        raise ValueError("no clips to read")
    if strict:
        check_clips(paths, frames=frames, size=size, stride=stride)
    report = report or DecodeReport(len(paths))
    shape = (frames, size, size, 3)

    def decode(path: bytes, label: np.int32):
        name = path.decode()
        try:
            clip, notes = read_clip(name, frames=frames, size=size, stride=stride, threads=1)
        except (VideoError, FileNotFoundError) as error:
            if strict:
                raise
            problem = error.problem if isinstance(error, VideoError) else "no such file"
            report.bad(name, problem, str(error))
            return np.zeros(shape, np.uint8), label, False
        report.good(name, notes)
        return clip, label, True

    data = tf.data.Dataset.from_tensor_slices((tf.constant(paths), tf.constant(labels, tf.int32)))
    if shuffle:
        data = data.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    data = _decoded(data, decode, shape, parallel)
    if strict:  # every file decoded once already: the count is known
        data = data.apply(tf.data.experimental.assert_cardinality(len(paths)))
    return data


def _decoded(data: tf.data.Dataset, decode, shape, parallel) -> tf.data.Dataset:
    """``data`` mapped through the numpy function ``decode`` -> (clip, label, ok), the failed
    ones left out, shapes set."""

    def call(source, label):
        clip, label, ok = tf.numpy_function(decode, [source, label],
                                            (tf.uint8, tf.int32, tf.bool))
        clip.set_shape(shape)
        label.set_shape(())
        ok.set_shape(())
        return clip, label, ok

    data = data.map(call, num_parallel_calls=parallel, deterministic=True)
    return data.filter(_decoded_ok).map(_without_flag)


def _decoded_ok(clip, label, ok):
    return ok


def _without_flag(clip, label, ok):
    return clip, label


def check_clips(paths: Sequence[str | os.PathLike], *, frames: int = 16, size: int = 64,
                stride: int | None = None, workers: int | None = None) -> None:
    """Decode every clip (a thread pool of ``workers``, default one per CPU) and raise the
    error of the first bad one in ``paths`` order."""
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(read_clip, p, frames=frames, size=size, stride=stride,
                               threads=1) for p in paths]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def load(path: str | os.PathLike, split: str = "train", *, frames: int = 16, size: int = 64,
         stride: int | None = None, strict: bool = False,
         split_list: str | os.PathLike | bool | None = None,
         validation_fraction: float = 0.15, seed: int = 0, shuffle: bool = False,
         shuffle_seed: int | None = None, parallel: int = AUTOTUNE,
         tfds_data_dir: str | os.PathLike | None = None) -> tf.data.Dataset:
    """Unbatched ``(uint8 [frames, size, size, 3], int32 label)`` of ``split`` of the folder
    per class at ``path`` (`tasks.video.layout.find_clips`: ``split_list``,
    ``validation_fraction``, ``seed`` choose the split) or of ``tfds:ucf101`` (see the module
    docstring). ``shuffle`` shuffles the clips every pass (by path, before decoding) with
    ``shuffle_seed`` (None: TensorFlow's global seed), which leaves the split alone."""
    if str(path).startswith(TFDS_PREFIX):
        return tfds_dataset(str(path)[len(TFDS_PREFIX):], split, frames=frames, size=size,
                            stride=stride, strict=strict,
                            validation_fraction=validation_fraction, data_dir=tfds_data_dir,
                            parallel=parallel, shuffle=shuffle, seed=shuffle_seed)
    paths, labels, _ = find_clips(path, split, split_list=split_list,
                                  validation_fraction=validation_fraction, seed=seed,
                                  strict=strict)
    return clip_dataset(paths, labels, frames=frames, size=size, stride=stride, strict=strict,
                        parallel=parallel, shuffle=shuffle, seed=shuffle_seed)


def class_names(path: str | os.PathLike, *, split_list: str | os.PathLike | bool | None = None,
                tfds_data_dir: str | os.PathLike | None = None) -> list[str]:
    """The class names of the data ``load`` reads from ``path``, in label order."""
    if str(path).startswith(TFDS_PREFIX):
        builder = _tfds_builder(str(path)[len(TFDS_PREFIX):], tfds_data_dir)
        return list(builder.info.features["label"].names)
    return folder_class_names(path, split_list=split_list)


# TFDS ---------------------------------------------------------------------------------------
def _tfds_builder(name: str, data_dir):
    import tensorflow_datasets as tfds

    return tfds.builder(name or "ucf101", data_dir=None if data_dir is None else str(data_dir))


def tfds_split(split: str, train_examples: int, validation_fraction: float) -> str:
    """The TFDS split string for one of ``train``, ``validation``, ``test``,
    ``train+validation``: validation is the last ``round(fraction * n)`` training examples."""
    from tasks.video.layout import SPLITS

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    check_fraction(validation_fraction, "validation_fraction")
    if split in ("test", "train+validation"):
        return "test" if split == "test" else "train"
    held = round(validation_fraction * train_examples)
    if split == "validation":
        if held == 0:
            raise ValueError(f"no validation examples: validation_fraction "
                             f"{validation_fraction} of {train_examples}")
        return f"train[{train_examples - held}:]"
    return f"train[:{train_examples - held}]"


def tfds_dataset(name: str, split: str, *, frames: int = 16, size: int = 64,
                 stride: int | None = None, strict: bool = False,
                 validation_fraction: float = 0.15, data_dir=None, parallel: int = AUTOTUNE,
                 shuffle: bool = False, seed: int | None = None,
                 report: DecodeReport | None = None) -> tf.data.Dataset:
    """``(uint8 [frames, size, size, 3], int32 label)`` of TFDS ``name`` (``ucf101`` or
    ``ucf101/<config>``), converted by `tfds_clip` (see the module docstring)."""
    import shutil

    import tensorflow_datasets as tfds

    check_options(frames, size, stride)
    builder = _tfds_builder(name, data_dir)
    where = f"{TFDS_PREFIX}{name or 'ucf101'}"
    if not builder.is_prepared():
        if shutil.which("ffmpeg") is None:
            raise LayoutError(where, f"not prepared in {builder.data_dir}, and preparing it "
                                     "needs the ffmpeg program (TFDS extracts the frames with "
                                     "it) and a 6.5 GB download; prepare it elsewhere and pass "
                                     "its data folder (tfds_data_dir / TFDS_DATA_DIR)")
        builder.download_and_prepare()
    train_examples = builder.info.splits["train"].num_examples
    data = builder.as_dataset(split=tfds_split(split, train_examples, validation_fraction),
                              decoders={"video": tfds.decode.SkipDecoding()},
                              shuffle_files=shuffle,
                              read_config=tfds.ReadConfig(add_tfds_id=True, shuffle_seed=seed))
    total = int(data.cardinality()) if int(data.cardinality()) > 0 else 0
    report = report or DecodeReport(max(total, 1), what=f"{where} examples")
    shape = (frames, size, size, 3)

    def decode(example_id: bytes, encoded: np.ndarray, label: np.int64):
        name = example_id.decode()
        try:
            clip, notes = tfds_clip(encoded, frames=frames, size=size, stride=stride,
                                    name=f"{where} example {name}")
        except VideoError as error:
            if strict:
                raise
            report.bad(name, error.problem, str(error))
            return np.zeros(shape, np.uint8), np.int32(label), False
        report.good(name, notes)
        return clip, np.int32(label), True

    def call(example):
        clip, label, ok = tf.numpy_function(
            decode, [example["tfds_id"], example["video"], example["label"]],
            (tf.uint8, tf.int32, tf.bool))
        clip.set_shape(shape)
        label.set_shape(())
        ok.set_shape(())
        return clip, label, ok

    if shuffle:
        data = data.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    data = data.map(call, num_parallel_calls=parallel, deterministic=True)
    return data.filter(_decoded_ok).map(_without_flag)


def tfds_clip(encoded: Sequence[bytes], *, frames: int = 16, size: int = 64,
              stride: int | None = None, name: str = "<tfds example>",
              ) -> tuple[np.ndarray, list[str]]:
    """``(clip, notes)`` from the encoded (JPEG or PNG) frames of one TFDS video example:
    sampled by index like `read_clip` samples a constant-rate file, scaled and cropped the
    same way. VideoError naming ``name`` for no frames or a frame that does not decode."""
    check_options(frames, size, stride)
    count = len(encoded)
    if count == 0:
        raise VideoError(name, "zero frames")
    indices, repeated = sample_indices(count, frames, stride)
    out = np.empty((frames, size, size, 3), np.uint8)
    done: dict[int, np.ndarray] = {}
    for row, index in enumerate(indices.tolist()):
        if index not in done:
            done[index] = square(_decode_image(bytes(encoded[index]), index, name), size)
        out[row] = done[index]
    return out, [repeat_note(count, frames, repeated, stride)] if repeated else []


def _decode_image(data: bytes, index: int, name: str):
    """One JPEG or PNG frame as an ``av.VideoFrame``."""
    import av

    codec = "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "mjpeg"
    context = av.CodecContext.create(codec, "r")
    try:
        decoded = context.decode(av.Packet(data)) + context.decode(None)
    except av.error.FFmpegError as error:
        raise VideoError(name, f"frame {index} does not decode "
                               f"({getattr(error, 'strerror', None) or error})") from None
    if not decoded:
        raise VideoError(name, f"frame {index} does not decode")
    return decoded[0]
