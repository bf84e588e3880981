"""`transcribe(preset, audio)`: the Python entry to every speech preset."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from tasks.speech.audio import AudioError, check_samples, load_audio
from tasks.speech.ctc import transcribe_logits
from tasks.speech.perturb import pad_or_cut


@lru_cache(maxsize=4)
def _load(name: str):
    import zoo

    return zoo.load(name)


def _samples(preset, audio, sample_rate: int | None) -> tuple[np.ndarray, str]:
    rate = preset.config["config"].get("sample_rate", 8000)
    if isinstance(audio, (str, os.PathLike)):
        return load_audio(audio, rate), str(audio)
    wave = check_samples(np.asarray(audio), sample_rate or rate, name="<audio array>")
    if sample_rate and sample_rate != rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=sample_rate, target_sr=rate).astype(np.float32)
    return wave, "<audio array>"


def transcribe(preset, audio, *, sample_rate: int | None = None, beam_width: int = 0) -> str:
    """What ``preset`` hears in ``audio``: a digit label for classifiers, a transcript for CTC.

    ``preset`` is a preset name, folder or a loaded `zoo.registry.Preset`; ``audio`` a file
    path or a 1-D waveform at ``sample_rate`` (default: the model's rate). CTC models decode
    greedily, or by beam search with ``beam_width`` > 1. Audio longer than a fixed-length
    model's input is run chunk by chunk on streaming (unidirectional) models and refused,
    with an `AudioError` naming the input, by the others.
    """
    if isinstance(preset, (str, os.PathLike)):
        preset = _load(str(preset))
    config = preset.config["config"]
    wave, name = _samples(preset, audio, sample_rate)
    rate, max_seconds = config.get("sample_rate", 8000), config.get("max_seconds")
    if preset.builder == "speech-crnn":
        from tasks.speech.digits import classify

        labels = config.get("labels", [str(d) for d in range(10)])
        return classify(preset.model, [wave], labels, max_seconds or 1.0)[0][0]
    labels = config.get("labels", [str(d) for d in range(10)])
    separator = "" if " " in labels else " "
    samples = None if max_seconds is None else int(round(max_seconds * rate))
    if samples is not None and wave.size > samples:
        if config.get("bidirectional"):
            raise AudioError(name, f"{wave.size / rate:.2f} s is longer than this model's "
                                   f"maximum of {max_seconds:g} s (it is not a streaming model)")
        from tasks.speech.streaming import Streamer

        streamer = Streamer(preset, beam_width=beam_width)
        streamer.push(wave)
        return streamer.finish()
    batch = (pad_or_cut(wave, samples) if samples else wave)[None]
    logits = np.asarray(preset.model.predict_on_batch(batch))[0]
    return transcribe_logits(logits, labels, separator, beam_width)
