"""Reading audio files: decode, mix to mono, resample, and refuse bad input by name.

`load_audio` reads WAV, FLAC and OGG through soundfile (libsndfile) and falls back to
librosa's audioread path for what libsndfile cannot decode (MP3 where a codec is installed).
Every problem raises `AudioError` naming the file: empty file, not audio, truncated header,
no samples, NaN or infinite samples, silence only, longer than the allowed maximum.

Long input: ``max_seconds`` refuses longer audio (``on_long="refuse"``, the default) or cuts
it (``on_long="truncate"``); streaming recognizers take long audio chunk by chunk instead
(`tasks.speech.streaming`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

SILENCE_PEAK = 1e-4  # peak |sample| at or below this (about -80 dBFS) is "silence only"


class AudioError(RnnzooError):
    """An audio file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(samples [n, channels] float32, sample rate) of ``path``; AudioError when undecodable."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except (sf.LibsndfileError, RuntimeError) as error:
        sndfile_problem = str(error)
    try:  # audioread fallback (MP3 and other codecs where ffmpeg/gstreamer is installed)
        import warnings

        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, rate = librosa.load(str(path), sr=None, mono=False)
        data = np.atleast_2d(data).T.astype(np.float32)
        return data, int(rate)
    except Exception:  # noqa: BLE001 - audioread raises many kinds; the sndfile reason is better
        pass
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[:4] in (b"RIFF", b"fLaC", b"OggS") or head[8:12] == b"WAVE":
        raise AudioError(path, f"truncated or corrupt audio header ({sndfile_problem})")
    raise AudioError(
        path, f"not an audio file soundfile or audioread can decode ({sndfile_problem})"
    )


def load_audio(path: str | os.PathLike, sample_rate: int, *, max_seconds: float | None = None,
               on_long: str = "refuse", allow_silence: bool = False) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` Hz, in [-1, 1].

    Stereo (or more channels) is averaged to mono; other rates are resampled with librosa
    (soxr_hq). Raises `AudioError` naming the file for empty, non-audio, truncated, NaN/inf,
    silent (unless ``allow_silence``) or too long input (``max_seconds`` with
    ``on_long="refuse"``; ``"truncate"`` keeps the first ``max_seconds``).
    """
    if on_long not in ("refuse", "truncate"):
        raise ValueError(f"on_long must be 'refuse' or 'truncate', got {on_long!r}")
    path = check_input_file(path, "audio", AudioError)
    data, rate = _decode(path)
    if data.size == 0:
        raise AudioError(path, "no audio samples (the header is there, the data is not)")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "contains NaN or infinite samples")
    samples = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        import librosa

        samples = librosa.resample(samples, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    samples = np.asarray(samples, dtype=np.float32)
    return check_samples(samples, sample_rate, name=str(path), max_seconds=max_seconds,
                         on_long=on_long, allow_silence=allow_silence)


def check_samples(samples: np.ndarray, sample_rate: int, *, name: str = "<audio>",
                  max_seconds: float | None = None, on_long: str = "refuse",
                  allow_silence: bool = False) -> np.ndarray:
    """Check an in-memory waveform as `load_audio` checks a file; returns it as float32 1-D."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1 if samples.shape[1] <= 8 else 0)
    if samples.ndim != 1:
        raise AudioError(
            name, f"expected a 1-D waveform (or [samples, channels]), got shape {samples.shape}"
        )
    if samples.size == 0:
        raise AudioError(name, "no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError(name, "contains NaN or infinite samples")
    if not allow_silence and float(np.max(np.abs(samples))) <= SILENCE_PEAK:
        raise AudioError(name, f"silence only (peak {float(np.max(np.abs(samples))):.1e})")
    if max_seconds is not None and samples.size > max_seconds * sample_rate:
        seconds = samples.size / sample_rate
        if on_long == "refuse":
            raise AudioError(name, f"{seconds:.2f} s is longer than this model's maximum of "
                                   f"{max_seconds:g} s (cut it, or use a streaming model)")
        samples = samples[: int(max_seconds * sample_rate)]
    return samples


@dataclass
class LoadReport:
    """What a dataset loader read: the files it skipped and why."""

    loaded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add_skip(self, path: str | os.PathLike, problem: str) -> None:
        self.skipped.append((str(path), problem))

    def summary(self) -> str:
        """One line: how many were read and skipped, naming the skipped files."""
        line = f"read {self.loaded} audio files"
        if self.skipped:
            names = "; ".join(f"{Path(p).name}: {why}" for p, why in self.skipped[:10])
            more = f" (and {len(self.skipped) - 10} more)" if len(self.skipped) > 10 else ""
            line += f", skipped {len(self.skipped)} bad ones: {names}{more}"
        return line


def load_many(paths: list[Path], sample_rate: int, *, strict: bool = False,
              max_seconds: float | None = None, on_long: str = "refuse",
              report: LoadReport | None = None, quiet: bool = False,
              ) -> tuple[list[np.ndarray], list[Path], LoadReport]:
    """Load every file of ``paths``; bad files are skipped and reported (``strict`` raises).

    Returns the waveforms, the paths they came from (bad ones left out) and the report; the
    report's summary goes to stderr when anything was skipped, unless ``quiet``.
    """
    import sys

    report = report or LoadReport()
    waves, kept = [], []
    for path in paths:
        try:
            waves.append(load_audio(path, sample_rate, max_seconds=max_seconds, on_long=on_long))
        except AudioError as error:
            if strict:
                raise AudioError(error.path, f"{error.problem} (--strict: stopping at the first "
                                             "bad file)") from None
            report.add_skip(path, error.problem)
            continue
        kept.append(path)
        report.loaded += 1
    if report.skipped and not quiet:
        print(f"note: {report.summary()}", file=sys.stderr, flush=True)
    return waves, kept, report
