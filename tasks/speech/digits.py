"""speech-digits: spoken-digit classification on FSDD (many-to-one).

Inputs are fixed-length waveforms (``max_seconds`` at 8 kHz, zero-padded at the end); the
model computes its own features. Splits are in `tasks.speech.fsdd`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import tensorflow as tf

from tasks.common.metrics import classification_metric
from tasks.common.task import Task
from tasks.speech import fsdd
from tasks.speech.model_options import add_model_options, augment_settings, floats, ints
from tasks.speech.perturb import pad_or_cut, perturbed_copies, trim_silence

MAX_SECONDS = 1.0


def load(path: str, split: str = "train", *, holdout_speaker: str | None = None,
         max_seconds: float = MAX_SECONDS, speeds: list[float] = (), pitches: list[float] = (),
         tempos: list[float] = (), strict: bool = False, all_takes: bool = False,
         ) -> tf.data.Dataset:
    """Unbatched ``(waveform [max_seconds * 8000], digit)`` of one FSDD split.

    Leading and trailing silence is trimmed (`prepare`), then the clip is zero-padded.

    ``speeds``, ``pitches`` and ``tempos`` add perturbed copies of the *training* split only.
    Files longer than ``max_seconds`` (after slowing down) are cut; bad files are skipped and
    reported on stderr (``strict`` raises instead). ``all_takes`` makes the training split
    ``train+validation`` (every training take; for the final model once settings are chosen).
    """
    source = "train+validation" if split == "train" and all_takes else split
    waves, clips, _ = fsdd.load_split(path, source, holdout_speaker=holdout_speaker,
                                      strict=strict)
    labels = [c.digit for c in clips]
    waves = [trim_silence(w) for w in waves]
    if split == "train":
        waves, labels = perturbed_copies(waves, labels, fsdd.SAMPLE_RATE,
                                         speeds=tuple(speeds), pitches=tuple(pitches),
                                         tempos=tuple(tempos))
    if not waves:
        raise ValueError(f"{path}: no usable FSDD clips in the {split} split")
    length = int(round(max_seconds * fsdd.SAMPLE_RATE))
    inputs = np.stack([pad_or_cut(w, length) for w in waves])
    return tf.data.Dataset.from_tensor_slices((inputs, np.asarray(labels, np.int32)))


def representative(path: str, n: int = 100, *, holdout_speaker: str | None = None,
                   max_seconds: float = MAX_SECONDS, speeds: list[float] = (),
                   pitches: list[float] = (), tempos: list[float] = (), strict: bool = False,
                   all_takes: bool = False) -> list[np.ndarray]:
    """``n`` training waveforms ``[1, samples]`` for int8 calibration (spread over digits).

    Takes the options of `load`; the perturbed copies (``speeds``, ``pitches``, ``tempos``)
    and ``all_takes`` do not apply: calibration reads the training takes proper (10-49, or
    the other speakers' takes 5-49 with ``holdout_speaker``), never the validation takes.

    A folder without training takes (such as the bundled demo clips, all test takes) is
    refused with a `ValueError` naming it: calibrating on the takes a model is then scored
    on would flatter the int8 file.
    """
    if not str(path).startswith("tfds:"):
        clips = fsdd.select(fsdd.list_clips(path), "train", holdout_speaker)
        if not clips:
            takes = ("the other speakers' takes 5-49" if holdout_speaker
                     else "takes 10-49")
            raise ValueError(f"{path}: no FSDD training takes ({takes}) to calibrate int8 on; "
                             "give a folder of training recordings (rnnzoo export "
                             "--calibration-data PATH)")
    data = load(path, "train", holdout_speaker=holdout_speaker, max_seconds=max_seconds)
    inputs = np.stack([x for x, _ in data.as_numpy_iterator()])
    step = max(1, len(inputs) // n)
    return [inputs[i : i + 1] for i in range(0, len(inputs), step)[:n]]


def metric(model_fn, dataset) -> dict[str, float]:
    """Accuracy, error count and the number of examples."""
    return classification_metric(model_fn, dataset)


def _add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("speech-digits")
    add_model_options(group, units="64", conv="64,64", bidirectional=True, dropout=0.3)
    group.add_argument("--features", choices=("logmel", "mfcc"), default="mfcc",
                       help="front-end features: 20 MFCCs of 40 mels, or the 40 log-mels "
                            "(default: mfcc, which won leave-one-speaker-out: mean 0.798 "
                            "against 0.767 with the same other settings)")
    group.add_argument("--normalize", choices=("utterance", "batch", "none"), default="batch",
                       help="feature normalization: BatchNorm over the log-mels, or per-utterance "
                            "mean and variance (default: batch, which won on validation: 99.2%% "
                            "against 94.8%%)")
    group.add_argument("--tempos", type=floats, default=[],
                       help="tempo-changed training copies at the same pitch, e.g. 0.75,1.3: "
                            "word length then says less about the word (default: none)")
    group.add_argument("--pooling", choices=("last", "max", "mean"), default="max",
                       help="how the recurrent outputs become one vector: the last state, or "
                            "the maximum or mean over time (default: max; with dropout 0.3 and "
                            "--tempos 0.75,1.3 it won leave-one-speaker-out: mean 0.829 "
                            "against 0.798 for last state, dropout 0.2, no tempo copies)")
    group.add_argument("--freq-conv", type=ints, default=[],
                       help="2-D conv widths over (time, mel band) before the 1-D convs, each "
                            "halving the bands, e.g. 16,32 (default: none)")
    group.add_argument("--freq-warp", type=float, default=0.0,
                       help="random frequency-axis warp in training, e.g. 0.15 (default: off)")
    group.add_argument("--holdout-speaker", help="leave-one-speaker-out: test on this speaker, "
                                                 "train on the others")
    group.add_argument("--all-takes", action="store_true",
                       help="train on the validation takes too (every take but the test ones): "
                            "for the final model once the settings are chosen; its validation "
                            "figures are then on takes it trained on")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    return "speech-crnn", {
        "kind": args.kind, "units": args.units, "conv_filters": args.conv_filters,
        "bidirectional": args.bidirectional, "n_mels": args.n_mels, "features": args.features,
        "normalize": args.normalize, "dropout": args.dropout, "pooling": args.pooling,
        **augment_settings(args, max_shift=1600),
        **({"freq_warp": args.freq_warp} if args.freq_warp else {}),
        **({"freq_conv": args.freq_conv} if args.freq_conv else {}),
    }


def prepare(wave: np.ndarray, max_seconds: float) -> np.ndarray:
    """What the classifier is given: silence trimmed, zero-padded or cut to ``max_seconds``."""
    return pad_or_cut(trim_silence(wave), int(round(max_seconds * fsdd.SAMPLE_RATE)))


def classify(model, waves: list[np.ndarray], labels: list[str], max_seconds: float):
    """(label, probability) for each waveform (8 kHz, at most ``max_seconds``)."""
    batch = np.stack([prepare(w, max_seconds) for w in waves])
    probabilities = np.asarray(model.predict_on_batch(batch))
    best = probabilities.argmax(axis=-1)
    return [(labels[i], float(probabilities[row, i])) for row, i in enumerate(best)]


def _predict(preset, args: argparse.Namespace):
    from tasks.speech.audio import load_audio

    if not args.inputs:
        raise ValueError("give one or more audio files to classify")
    config = preset.config["config"]
    labels = config.get("labels", [str(d) for d in range(10)])
    max_seconds = config.get("max_seconds", MAX_SECONDS)
    rate = config.get("sample_rate", fsdd.SAMPLE_RATE)
    waves = [load_audio(p, rate, max_seconds=max(max_seconds, 10.0)) for p in args.inputs]
    results = classify(preset.model, waves, labels, max_seconds)
    out = [{"input": p, "label": label, "probability": prob}
           for p, (label, prob) in zip(args.inputs, results)]
    if not args.json:
        for row in out:
            print(f"{row['input']}: {row['label']} (p={row['probability']:.3f})")
        sys.stdout.flush()
    return out


TASK = Task(
    name="speech-digits",
    summary="Spoken digits (FSDD, 8 kHz): classify a clip as 0-9 from raw audio",
    builders=("speech-crnn",),
    load=load,
    metric=metric,
    representative=representative,
    loss="sparse_categorical_crossentropy",
    primary_metric="accuracy",
    lower_is_better=False,
    add_options=_add_options,
    data_option_names=("holdout_speaker", "speeds", "pitches", "tempos", "strict",
                       "all_takes"),
    refit_options=("all_takes",),
    builder_config=_builder_config,
    needs_data=True,
    data_license="CC BY-SA 4.0 (Free Spoken Digit Dataset, Jakobovski et al.)",
    dataset_name="Free Spoken Digit Dataset (5 speakers); test = takes 0-4, validation = "
                 "takes 5-9, train = takes 10-49 (5-49 with --all-takes)",
    train_defaults={"epochs": 30, "batch_size": 32, "learning_rate": 3e-3, "patience": 8},
    predict=_predict,
)
