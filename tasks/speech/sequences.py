"""What the CTC tasks (yesno, connected digits, characters) share: options, model settings,
datasets of ``(waveform, targets)`` and the ``rnnzoo predict`` hook."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import tensorflow as tf

from tasks.common.task import Task
from tasks.speech.ctc import CTCLoss, add_ctc_predict_options, encode, metric_for
from tasks.speech.model_options import add_model_options, augment_settings
from tasks.speech.perturb import pad_or_cut


def add_options(parser: argparse.ArgumentParser, title: str, *, units: str, conv: str,
                bidirectional: bool, **defaults) -> None:
    """The task options of a CTC task (``defaults``: dropout, spec_augment)."""
    group = parser.add_argument_group(title)
    add_model_options(group, units=units, conv=conv, bidirectional=bidirectional, **defaults)
    group.add_argument("--hop-ms", type=float, default=20.0,
                       help="feature frame step in milliseconds (default: 20)")


def builder_config(args: argparse.Namespace, *, labels: list[str], sample_rate: int,
                   max_seconds: float) -> tuple[str, dict]:
    """``speech-ctc`` settings from the options (causal front end when unidirectional)."""
    n_fft = 256 if sample_rate <= 8000 else 512
    return "speech-ctc", {
        "labels": labels, "sample_rate": sample_rate, "max_seconds": max_seconds,
        "n_fft": n_fft, "hop_length": int(round(args.hop_ms * sample_rate / 1000)),
        "n_mels": args.n_mels, "kind": args.kind, "units": args.units,
        "conv_filters": args.conv_filters, "bidirectional": args.bidirectional,
        "normalize": "utterance" if args.bidirectional else "batch", "dropout": args.dropout,
        **augment_settings(args, max_shift=int(0.1 * sample_rate)),
    }


def ctc_task(*, name: str, summary: str, labels: list[str], separator: str, metric: str,
             sample_rate: int, max_seconds: float, data_option_names: tuple[str, ...],
             **fields) -> Task:
    """The `Task` of a CTC speech task: the speech-ctc builder, CTC loss, WER/CER metric
    (``metric`` names the primary one), the shared predict hook and builder settings from the
    options; ``data_option_names`` are the task options passed to its loader; ``fields`` are the
    rest (load, representative, add_options, data_license, dataset_name, train_defaults)."""
    return Task(name=name, summary=summary, builders=("speech-ctc",),
                builder_config=lambda args: builder_config(
                    args, labels=labels, sample_rate=sample_rate, max_seconds=max_seconds),
                metric=metric_for(labels, separator), loss=CTCLoss(), primary_metric=metric,
                lower_is_better=True, needs_data=True,
                data_option_names=data_option_names,
                add_predict_options=add_ctc_predict_options, predict=predict, **fields)


def to_dataset(waves: list[np.ndarray], transcripts: list[list[str]], labels: list[str],
               samples: int, max_len: int) -> tf.data.Dataset:
    """Unbatched ``(waveform [samples], targets [max_len])``; longer audio is refused."""
    too_long = [i for i, w in enumerate(waves) if w.size > samples]
    if too_long:
        raise ValueError(f"{len(too_long)} utterances are longer than the model input of "
                         f"{samples} samples")
    inputs = np.stack([pad_or_cut(w, samples) for w in waves])
    targets = np.stack([encode(t, labels, max_len) for t in transcripts])
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


def predict(preset, args: argparse.Namespace):
    """``rnnzoo predict`` for CTC presets: print the transcript of each input file."""
    from tasks.speech.transcribe import transcribe

    if not args.inputs:
        raise ValueError("give one or more audio files to transcribe")
    out = []
    for path in args.inputs:
        if args.stream:
            text = _stream_one(preset, path, args)
        else:
            text = transcribe(preset, path, beam_width=args.beam)
        out.append({"input": path, "transcript": text})
        if not args.json:
            print(f"{path}: {text}", flush=True)
    return out


def _stream_one(preset, path: str, args: argparse.Namespace) -> str:
    from tasks.speech.audio import load_audio
    from tasks.speech.streaming import Streamer

    config = preset.config["config"]
    audio = load_audio(path, config["sample_rate"])
    streamer = Streamer(preset, chunk_ms=args.chunk_ms, beam_width=args.beam)
    chunk = max(1, int(args.chunk_ms * config["sample_rate"] / 1000))
    shown = ""
    for start in range(0, audio.size, chunk):
        partial = streamer.push(audio[start : start + chunk])
        if partial != shown and not args.json:
            print(f"  [{(start + chunk) / config['sample_rate']:6.2f} s] {partial}",
                  file=sys.stdout, flush=True)
            shown = partial
    return streamer.finish()


__all__ = ["add_ctc_predict_options", "add_options", "builder_config", "ctc_task", "predict",
           "to_dataset"]
