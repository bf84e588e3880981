"""Offline data augmentation that is too costly per step: speed, pitch and tempo changes.

Speed perturbation (Ko et al. 2015) resamples the waveform by a factor and plays it at the
original rate, changing tempo and pitch together; pitch shifting (librosa's phase vocoder
and resampling) keeps the tempo, and tempo changes (phase vocoder) keep the pitch. All three
give extra training copies made once before training; gain, noise and time shift are applied
per step inside the model (`zoo.audio_frontend.WaveAugment`) and SpecAugment masks the
features.
"""

from __future__ import annotations

import numpy as np


def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """``wave`` played ``factor`` times faster (``factor`` > 1 is shorter and higher)."""
    from scipy.signal import resample_poly

    if factor == 1.0:
        return wave
    up = 100
    down = int(round(100 * factor))
    return resample_poly(wave, up, down).astype(np.float32)


def pitch(wave: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """``wave`` shifted by ``semitones`` with the same duration."""
    import librosa

    if semitones == 0:
        return wave
    n_fft = 256 if sample_rate <= 8000 else 512
    return librosa.effects.pitch_shift(wave, sr=sample_rate, n_steps=semitones, n_fft=n_fft,
                                       res_type="soxr_hq").astype(np.float32)


def tempo(wave: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """``wave`` played ``factor`` times faster with the same pitch (phase vocoder)."""
    import librosa

    if factor == 1.0:
        return wave
    n_fft = 256 if sample_rate <= 8000 else 512
    return librosa.effects.time_stretch(wave, rate=factor, n_fft=n_fft).astype(np.float32)


def perturbed_copies(waves: list[np.ndarray], labels: list, sample_rate: int, *,
                     speeds: tuple[float, ...] = (), pitches: tuple[float, ...] = (),
                     tempos: tuple[float, ...] = ()) -> tuple[list[np.ndarray], list]:
    """The originals followed by one copy per speed factor, pitch shift and tempo factor."""
    out_waves, out_labels = list(waves), list(labels)
    for factor in speeds:
        if factor != 1.0:
            out_waves += [speed(w, factor) for w in waves]
            out_labels += labels
    for semitones in pitches:
        if semitones != 0:
            out_waves += [pitch(w, sample_rate, semitones) for w in waves]
            out_labels += labels
    for factor in tempos:
        if factor != 1.0:
            out_waves += [tempo(w, sample_rate, factor) for w in waves]
            out_labels += labels
    return out_waves, out_labels


def trim_silence(wave: np.ndarray, top_db: float = 35.0) -> np.ndarray:
    """``wave`` without the leading and trailing parts more than ``top_db`` below its peak."""
    import librosa

    trimmed, _ = librosa.effects.trim(wave, top_db=top_db, frame_length=256, hop_length=64)
    return trimmed if trimmed.size else wave


def pad_or_cut(wave: np.ndarray, length: int) -> np.ndarray:
    """``wave`` zero-padded at the end, or cut, to ``length`` samples."""
    if wave.size >= length:
        return wave[:length].astype(np.float32)
    return np.pad(wave, (0, length - wave.size)).astype(np.float32)
