"""Chunk-by-chunk recognition with a unidirectional ``speech-ctc`` model.

`Streamer` feeds audio as it arrives: samples wait until a whole chunk (``chunk_ms``, rounded
to whole frame steps) is there, the framing remainder (the last ``n_fft - hop`` samples) and the
convolution buffers and recurrent states are carried from chunk to chunk, and the logits of
every frame so far give the partial transcript. `finish` runs the rest (zero-padded, keeping
only the frames the offline model has), so the streamed logits equal the offline ones.
"""

from __future__ import annotations

import numpy as np

from tasks.speech.ctc import transcribe_logits
from zoo.audio_frontend import num_frames


class Streamer:
    """Streaming recognizer over a ``speech-ctc`` preset (or a model with its config)."""

    def __init__(self, preset, *, chunk_ms: float = 100.0, beam_width: int = 0):
        from zoo.speech import chunk_model

        model = getattr(preset, "model", preset)
        config = preset.config["config"] if hasattr(preset, "config") else model.rnnzoo_config
        self.labels = list(config.get("labels", [str(d) for d in range(10)]))
        self.separator = "" if " " in self.labels else " "
        self.beam_width = beam_width
        mel = model.get_layer("log_mel")
        self.n_fft, self.hop = mel.n_fft, mel.hop_length
        self.frames_per_chunk = max(1, round(chunk_ms * mel.sample_rate / 1000 / self.hop))
        self.chunk = chunk_model(model, self.frames_per_chunk)
        self.reset()

    def reset(self) -> None:
        """Start a new utterance: empty buffers, zero states."""
        self._pending = np.zeros(0, np.float32)
        self._carried = [np.zeros(tuple(t.shape), np.float32) for t in self.chunk.inputs[1:]]
        self._primed = False
        self._samples_seen = 0
        self._logits: list[np.ndarray] = []

    @property
    def logits(self) -> np.ndarray:
        """Logits ``[frames, classes]`` of every frame computed so far."""
        if not self._logits:
            return np.zeros((0, len(self.labels) + 1), np.float32)
        return np.concatenate(self._logits)

    def _run(self, samples: np.ndarray) -> np.ndarray:
        outputs = self.chunk.predict_on_batch([samples[None], *self._carried])
        self._carried = [np.asarray(o) for o in outputs[1:]]
        return np.asarray(outputs[0])[0]

    def push(self, samples: np.ndarray) -> str:
        """Add samples; run every whole chunk; return the partial transcript."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        self._samples_seen += samples.size
        self._pending = np.concatenate([self._pending, samples])
        overlap = self.n_fft - self.hop
        if not self._primed and self._pending.size >= overlap:
            self._carried[0] = self._pending[:overlap][None]  # the first frame starts at 0
            self._pending = self._pending[overlap:]
            self._primed = True
        size = self.frames_per_chunk * self.hop
        while self._primed and self._pending.size >= size:
            self._logits.append(self._run(self._pending[:size]))
            self._pending = self._pending[size:]
        return self.partial()

    def partial(self) -> str:
        """The transcript of the frames so far."""
        return transcribe_logits(self.logits, self.labels, self.separator, self.beam_width)

    def finish(self) -> str:
        """Run the remaining samples and return the final transcript."""
        total = num_frames(self._samples_seen, self.n_fft, self.hop)
        done = sum(len(block) for block in self._logits)
        if self._primed and total > done:
            size = self.frames_per_chunk * self.hop
            rest = np.pad(self._pending, (0, size - self._pending.size))
            self._logits.append(self._run(rest)[: total - done])
            self._pending = np.zeros(0, np.float32)
        return self.partial()
