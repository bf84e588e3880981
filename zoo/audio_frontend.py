"""In-model audio front end: raw waveform -> log-mel / MFCC, normalization, augmentation.

Every layer is registered for Keras serialization (no Lambda) and keeps its settings in its
config; constants (window, librosa's mel filterbank, DCT matrix) are rebuilt from the config,
so a model takes raw samples ``[batch, samples]`` and exported TFLite models do too.

Framing is librosa's ``center=False``: frame ``t`` covers samples ``[t*hop, t*hop + n_fft)``,
so a frame depends only on past samples (a causal front end, delayed by ``n_fft`` samples).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# The TFLite converter quantizes constant weights of at least this many values in
# dynamic-range mode (its min_elements_for_weights); smaller ones stay float.
SMALL_CONSTANT = 1024


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                   fmax: float | None) -> np.ndarray:
    """librosa.filters.mel (Slaney scale and norm), transposed to ``[1 + n_fft//2, n_mels]``."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                               fmax=fmax).T.astype(np.float32)


def analysis_window(n_fft: int, win_length: int) -> np.ndarray:
    """librosa's window: periodic Hann of ``win_length`` centred in ``n_fft`` samples."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left)).astype(np.float32)


def num_frames(samples: int, n_fft: int, hop_length: int) -> int:
    """Frames of a ``samples``-long waveform with ``center=False`` framing."""
    return 0 if samples < n_fft else 1 + (samples - n_fft) // hop_length


# MFCC's floor is applied as max(K mel, K amin) / K: K amin must not underflow in fp16 files
# (smallest half-precision value 6e-8), and K itself must fit (largest 65504)
FP16_SAFE_SCALE = 2.0 ** 15


@keras.saving.register_keras_serializable(package="rnnzoo")
class MelSpectrogram(keras.layers.Layer):
    """Waveform ``[batch, samples]`` -> mel power or log-mel ``[batch, frames, n_mels]``.

    Matches ``librosa.feature.melspectrogram(y, sr, n_fft, hop_length, win_length,
    center=False, power=2, n_mels, fmin, fmax)``; with ``log=True`` (default) the output is
    ``log(mel + floor)``. Uses tf.signal.frame and tf.signal.rfft (TFLite RFFT2D, float only).
    Full-int8 exports keep it in float: a power spectrum does not fit 8 bits
    (`export.float_layers`).
    """

    keep_float_in_int8 = True

    def __init__(self, sample_rate: int = 8000, n_fft: int = 256, hop_length: int = 80,
                 win_length: int | None = None, n_mels: int = 40, fmin: float = 0.0,
                 fmax: float | None = None, log: bool = True, floor: float = 1e-6, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        win_length = win_length or n_fft
        if n_fft & (n_fft - 1):
            raise ValueError(f"n_fft must be a power of two (TFLite RFFT2D), got {n_fft}")
        if not 0 < hop_length <= n_fft or not 0 < win_length <= n_fft:
            raise ValueError(f"need 0 < hop_length, win_length <= n_fft; got hop {hop_length}, "
                             f"win {win_length}, n_fft {n_fft}")
        self.sample_rate, self.n_fft, self.hop_length = (
            int(sample_rate),
            int(n_fft),
            int(hop_length),
        )
        self.win_length, self.n_mels = int(win_length), int(n_mels)
        self.fmin, self.fmax = float(fmin), None if fmax is None else float(fmax)
        self.log, self.floor = bool(log), float(floor)
        self._window = analysis_window(self.n_fft, self.win_length)
        self._mel = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)

    def mel_power(self, waveform):
        frames = tf.signal.frame(waveform, self.n_fft, self.hop_length, pad_end=False)
        spectrum = tf.signal.rfft(frames * tf.constant(self._window), fft_length=[self.n_fft])
        power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
        return tf.concat([tf.tensordot(power, tf.constant(part), axes=1)
                          for part in self._mel_parts()], axis=-1)

    def _mel_parts(self) -> list[np.ndarray]:
        """The filterbank in column blocks of under `SMALL_CONSTANT` values each: the TFLite
        converter leaves constants that small in float in dynamic-range files, whose mel
        projection would otherwise get int8 weights and an on-the-fly int8 power spectrum
        (speech-digits: 0.88 instead of 1.00). The result is the same product."""
        per_part = max(1, (SMALL_CONSTANT - 1) // self._mel.shape[0])
        return [self._mel[:, i : i + per_part] for i in range(0, self.n_mels, per_part)]

    def call(self, waveform):
        mel = self.mel_power(tf.cast(waveform, tf.float32))
        return tf.math.log(mel + self.floor) if self.log else mel

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else num_frames(samples, self.n_fft, self.hop_length)
        return (*input_shape[:-1], frames, self.n_mels)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
                      win_length=self.win_length, n_mels=self.n_mels, fmin=self.fmin,
                      fmax=self.fmax, log=self.log, floor=self.floor)
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class MFCC(MelSpectrogram):
    """Waveform -> MFCC ``[batch, frames, n_mfcc]``, as ``librosa.feature.mfcc`` (center=False).

    dB mel power ``10 log10(max(mel, amin))``, computed as ``10 log10(max(K mel, K amin)) -
    10 log10(K)`` with ``K`` = 2**15: an fp16 TFLite file stores constants in half precision,
    where ``amin`` = 1e-10 is 0 and ``log(0)`` made the whole output NaN, while ``K amin`` (3.3e-6)
    survives. (Taking the floor after the log instead let ``log(0) = -inf`` into int8
    calibration, and the converter crashed.) Clipped at ``top_db`` below the utterance's
    maximum when ``top_db`` is set (librosa's default 80; not causal: use None for streaming),
    then an orthonormal DCT-II (a constant matrix) keeping ``n_mfcc`` coefficients.
    """

    def __init__(self, n_mfcc: int = 13, top_db: float | None = 80.0, amin: float = 1e-10,
                 **kwargs):
        kwargs["log"] = False
        super().__init__(**kwargs)
        if not 0 < n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in [1, n_mels={self.n_mels}], got {n_mfcc}")
        self.n_mfcc, self.amin = int(n_mfcc), float(amin)
        self.top_db = None if top_db is None else float(top_db)
        import scipy.fft

        dct = scipy.fft.dct(np.eye(self.n_mels), type=2, norm="ortho", axis=0)  # [k, m]
        self._dct = dct[: self.n_mfcc].T.astype(np.float32)  # [n_mels, n_mfcc]

    def call(self, waveform):
        mel = self.mel_power(tf.cast(waveform, tf.float32))
        # FP16_SAFE_SCALE keeps the floor constant above half precision's smallest value
        scaled = tf.maximum(mel * FP16_SAFE_SCALE, self.amin * FP16_SAFE_SCALE)
        db = (10.0 / np.log(10.0)) * (tf.math.log(scaled) - float(np.log(FP16_SAFE_SCALE)))
        if self.top_db is not None:
            db = tf.maximum(db, tf.reduce_max(db, axis=[-2, -1], keepdims=True) - self.top_db)
        return tf.tensordot(db, tf.constant(self._dct), axes=1)

    def compute_output_shape(self, input_shape):
        return (*super().compute_output_shape(input_shape)[:-1], self.n_mfcc)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("log")
        config.update(n_mfcc=self.n_mfcc, top_db=self.top_db, amin=self.amin)
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class UtteranceNorm(keras.layers.Layer):
    """Per-utterance mean and variance normalization of features ``[batch, frames, channels]``.

    Kept in float in full-int8 exports, with the front end it follows.

    Frames whose every channel is at the log floor (``log(floor)``: all-zero padding) are left
    out of the statistics and set to 0, so zero padding does not change the result.
    """

    keep_float_in_int8 = True

    def __init__(self, floor_value: float = float(np.log(1e-6)), epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.floor_value, self.epsilon = float(floor_value), float(epsilon)

    def call(self, features):
        valid = tf.cast(tf.reduce_max(features, axis=-1, keepdims=True)
                        > self.floor_value + 1e-3, features.dtype)
        count = tf.maximum(tf.reduce_sum(valid, axis=1, keepdims=True), 1.0)
        mean = tf.reduce_sum(features * valid, axis=1, keepdims=True) / count
        var = tf.reduce_sum(tf.square(features - mean) * valid, axis=1, keepdims=True) / count
        return (features - mean) * tf.math.rsqrt(var + self.epsilon) * valid

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(floor_value=self.floor_value, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class SpecAugment(keras.layers.Layer):
    """SpecAugment time and frequency masking (Park et al. 2019), in training only.

    Each example gets ``time_masks`` masks of up to ``max_time`` frames and ``freq_masks``
    masks of up to ``max_freq`` channels, at random places, set to 0 (the mean after
    normalization). At inference the layer is the identity.
    """

    training_only = True

    def __init__(self, time_masks: int = 2, max_time: int = 10, freq_masks: int = 2,
                 max_freq: int = 6, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.time_masks, self.max_time = int(time_masks), int(max_time)
        self.freq_masks, self.max_freq = int(freq_masks), int(max_freq)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _masks(self, batch, size, count, max_width):
        keep = tf.ones([batch, size], tf.bool)
        positions = tf.range(size)[None, :]
        for _ in range(count):
            width = tf.cast(keras.random.uniform([batch, 1], 0, max_width + 1,
                                                 seed=self.seed_generator), tf.int32)
            start = tf.cast(keras.random.uniform([batch, 1], 0, 1, seed=self.seed_generator)
                            * tf.cast(tf.maximum(size - width, 1), tf.float32), tf.int32)
            keep &= ~((positions >= start) & (positions < start + width))
        return keep

    def call(self, features, training=None):
        if not training:
            return features
        shape = tf.shape(features)
        batch, frames, channels = shape[0], shape[1], shape[2]
        time_keep = self._masks(batch, frames, self.time_masks, self.max_time)
        freq_keep = self._masks(batch, channels, self.freq_masks, self.max_freq)
        keep = time_keep[:, :, None] & freq_keep[:, None, :]
        return features * tf.cast(keep, features.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(time_masks=self.time_masks, max_time=self.max_time,
                      freq_masks=self.freq_masks, max_freq=self.max_freq, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class WaveAugment(keras.layers.Layer):
    """Waveform augmentation in training only: random gain, white noise, time shift.

    Gain is uniform in ``[-gain_db, gain_db]`` dB; noise is added at an SNR uniform in
    ``[snr_min, snr_max]`` dB over the signal (up to its last non-zero sample, so zero padding
    stays zero); the signal is delayed by up to ``max_shift`` samples (taken from the
    padding at the end). At inference the layer is the identity.
    """

    training_only = True

    def __init__(self, gain_db: float = 6.0, snr_min: float = 15.0, snr_max: float = 40.0,
                 noise_prob: float = 0.8, max_shift: int = 0, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.gain_db, self.snr_min, self.snr_max = float(gain_db), float(snr_min), float(snr_max)
        self.noise_prob, self.max_shift, self.seed = float(noise_prob), int(max_shift), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, batch, low, high):
        return keras.random.uniform([batch, 1], low, high, seed=self.seed_generator)

    def call(self, waveform, training=None):
        if not training:
            return waveform
        x = tf.cast(waveform, tf.float32)
        batch, samples = tf.shape(x)[0], tf.shape(x)[1]
        nonzero = tf.cast(tf.abs(x) > 0, tf.int32)
        valid = tf.cast(tf.math.cumsum(nonzero, axis=1, reverse=True) > 0, tf.float32)
        if self.max_shift > 0:
            shift = tf.cast(self._uniform(batch, 0, self.max_shift + 1), tf.int32)[:, 0]
            index = tf.range(samples)[None, :] - shift[:, None]
            inside = tf.cast(index >= 0, tf.float32)
            x = tf.gather(x, tf.maximum(index, 0), batch_dims=1) * inside
            valid = tf.gather(valid, tf.maximum(index, 0), batch_dims=1) * inside
        gain = tf.pow(10.0, self._uniform(batch, -self.gain_db, self.gain_db) / 20.0)
        x = x * gain
        power = tf.reduce_sum(tf.square(x), axis=1, keepdims=True) / tf.maximum(
            tf.reduce_sum(valid, axis=1, keepdims=True), 1.0)
        snr = self._uniform(batch, self.snr_min, self.snr_max)
        use = tf.cast(self._uniform(batch, 0.0, 1.0) < self.noise_prob, tf.float32)
        scale = tf.sqrt(power / tf.pow(10.0, snr / 10.0)) * use
        noise = keras.random.normal(tf.shape(x), seed=self.seed_generator) * scale
        return tf.cast(x + noise * valid, waveform.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(gain_db=self.gain_db, snr_min=self.snr_min, snr_max=self.snr_max,
                      noise_prob=self.noise_prob, max_shift=self.max_shift, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="rnnzoo")
class FrequencyWarp(keras.layers.Layer):
    """Random warp of the frequency axis of features ``[batch, frames, channels]``, in
    training only: a vocal-tract-length-style augmentation (Jaitly & Hinton 2013).

    Each example's channels are resampled (linear interpolation) at ``c / alpha`` with
    ``alpha`` uniform in ``[1 - max_warp, 1 + max_warp]``; channels past the edge take the
    edge value. At inference the layer is the identity.
    """

    training_only = True

    def __init__(self, max_warp: float = 0.15, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_warp, self.seed = float(max_warp), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, features, training=None):
        if not training or self.max_warp <= 0:
            return features
        batch, channels = tf.shape(features)[0], tf.shape(features)[2]
        alpha = keras.random.uniform([batch, 1], 1 - self.max_warp, 1 + self.max_warp,
                                     seed=self.seed_generator)
        last = tf.cast(channels - 1, tf.float32)
        source = tf.clip_by_value(tf.range(channels, dtype=tf.float32)[None, :] / alpha, 0.0, last)
        low = tf.cast(tf.floor(source), tf.int32)
        high = tf.minimum(low + 1, channels - 1)
        weight = (source - tf.cast(low, tf.float32))[:, None, :]
        x = tf.transpose(features, [0, 2, 1])  # [batch, channels, frames]
        lower = tf.transpose(tf.gather(x, low, batch_dims=1), [0, 2, 1])
        upper = tf.transpose(tf.gather(x, high, batch_dims=1), [0, 2, 1])
        return lower * (1 - weight) + upper * weight

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(max_warp=self.max_warp, seed=self.seed)
        return config
