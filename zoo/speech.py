"""Speech builders: raw waveform in, front end inside the model.

* ``speech-crnn`` (many-to-one): spoken-word classifier. Waveform ``[batch, samples]`` ->
  log-mel or MFCC -> per-utterance normalization -> SpecAugment -> conv -> GRU/LSTM
  (bidirectional option) -> class probabilities.
* ``speech-ctc`` (many-to-many): CTC recognizer. Waveform -> log-mel -> normalization ->
  SpecAugment -> conv -> GRU/LSTM layers -> per-frame logits over ``[blank, *labels]``
  (blank is index 0). Unidirectional models use a causal front end (center=False framing,
  BatchNorm instead of per-utterance statistics, causal convolutions), so they run chunk by
  chunk with their state carried (`tasks.speech.streaming`).

Waveform augmentation (gain, noise, shift) and SpecAugment are layers that act in training
only. Every setting is in the builder config, so a preset's config.json fully describes its
front end.
"""

from __future__ import annotations

import keras

from zoo.audio_frontend import (
    MFCC,
    FrequencyWarp,
    MelSpectrogram,
    SpecAugment,
    UtteranceNorm,
    WaveAugment,
)
from zoo.layers import recurrent
from zoo.registry import register

DIGIT_LABELS = [str(d) for d in range(10)]
FLOOR = 1e-6


def _front_end(waveform, *, sample_rate: int, n_fft: int, hop_length: int, n_mels: int,
               fmin: float, fmax: float | None, features: str, n_mfcc: int, normalize: str,
               wave_augment: dict | None, spec_augment: dict | None,
               freq_warp: float | None = None):
    x = waveform
    if wave_augment is not None:
        x = WaveAugment(**wave_augment, name="wave_augment")(x)
    common = dict(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                  fmin=fmin, fmax=fmax)
    if features == "logmel":
        x = MelSpectrogram(**common, floor=FLOOR, name="log_mel")(x)
    elif features == "mfcc":
        x = MFCC(**common, n_mfcc=n_mfcc, top_db=None, name="mfcc")(x)
    else:
        raise ValueError(f"features must be 'logmel' or 'mfcc', got {features!r}")
    if normalize == "utterance":
        if features != "logmel":
            raise ValueError("normalize='utterance' needs features='logmel'")
        x = UtteranceNorm(name="utterance_norm")(x)
    elif normalize == "batch":
        x = keras.layers.BatchNormalization(name="feature_norm")(x)
    elif normalize != "none":
        raise ValueError(f"normalize must be 'utterance', 'batch' or 'none', got {normalize!r}")
    if freq_warp:
        x = FrequencyWarp(freq_warp, name="frequency_warp")(x)
    if spec_augment is not None:
        x = SpecAugment(**spec_augment, name="spec_augment")(x)
    return x


def _convs(x, filters: list[int], kernel: int, stride: int, causal: bool):
    for i, f in enumerate(filters):
        x = keras.layers.Conv1D(f, kernel, strides=stride if i == 0 else 1,
                                padding="causal" if causal else "same", use_bias=False,
                                name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"conv_{i}_norm")(x)
        x = keras.layers.ReLU(name=f"conv_{i}_relu")(x)
    return x


def _freq_convs(x, filters: list[int]):
    """2-D convolutions over (time, mel band), each halving the bands by max pooling, then
    bands and filters flattened per frame: a formant or pitch shift moves a pattern along the
    band axis, where these filters see it the same (a Conv1D over bands would not)."""
    if not filters:
        return x
    bands = x.shape[-1]
    x = keras.layers.Reshape((-1, bands, 1), name="bands_as_image")(x)
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"freq_conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"freq_conv_{i}_norm")(x)
        x = keras.layers.ReLU(name=f"freq_conv_{i}_relu")(x)
        x = keras.layers.MaxPooling2D((1, 2), name=f"freq_conv_{i}_pool")(x)
        bands //= 2
    return keras.layers.Reshape((-1, bands * filters[-1]), name="bands_flat")(x)


def _samples(sample_rate: int, max_seconds: float | None) -> int | None:
    return None if max_seconds is None else int(round(max_seconds * sample_rate))


@register("speech-crnn", task="speech-digits")
def speech_crnn(labels: list[str] = DIGIT_LABELS, sample_rate: int = 8000,
                max_seconds: float = 1.0, n_fft: int = 256, hop_length: int = 128,
                n_mels: int = 40, fmin: float = 0.0, fmax: float | None = None,
                features: str = "logmel", n_mfcc: int = 20, normalize: str = "utterance",
                conv_filters: list[int] = (64, 64), conv_kernel: int = 5, conv_stride: int = 2,
                kind: str = "gru", units: list[int] = (64,), bidirectional: bool = True,
                dropout: float = 0.2, wave_augment: dict | None = None,
                spec_augment: dict | None = None, freq_warp: float | None = None,
                pooling: str = "last", freq_conv: list[int] = ()) -> keras.Model:
    """Conv + GRU/LSTM classifier of fixed-length waveforms (``max_seconds``, zero-padded).

    Output: probabilities over ``labels``. ``units`` lists the recurrent layers' widths;
    ``freq_warp`` (e.g. 0.15) adds random frequency-axis warping in training; ``pooling``
    summarizes the last recurrent layer: its final state ("last") or the maximum or mean of
    its outputs over time ("max", "mean"); ``freq_conv`` lists 2-D conv widths applied over
    (time, band) before the 1-D convs (each halves the bands).
    """
    if pooling not in ("last", "max", "mean"):
        raise ValueError(f"pooling must be 'last', 'max' or 'mean', got {pooling!r}")
    waveform = keras.Input(shape=(_samples(sample_rate, max_seconds),), name="waveform")
    x = _front_end(waveform, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                   n_mels=n_mels, fmin=fmin, fmax=fmax, features=features, n_mfcc=n_mfcc,
                   normalize=normalize, wave_augment=wave_augment, spec_augment=spec_augment,
                   freq_warp=freq_warp)
    x = _freq_convs(x, list(freq_conv))
    x = _convs(x, list(conv_filters), conv_kernel, conv_stride, causal=False)
    units = list(units)
    for i, width in enumerate(units):
        x = recurrent(kind, width, bidirectional=bidirectional,
                      return_sequences=i < len(units) - 1 or pooling != "last",
                      name=f"{kind}_{i}")(x)
    if pooling == "max":
        x = keras.layers.GlobalMaxPooling1D(name="max_over_time")(x)
    elif pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(len(labels), activation="softmax", name="classes")(x)
    return keras.Model(waveform, probabilities, name="speech_crnn")


@register("speech-ctc", task="speech-connected-digits")
def speech_ctc(labels: list[str] = DIGIT_LABELS, sample_rate: int = 8000,
               max_seconds: float | None = 6.0, n_fft: int = 256, hop_length: int = 160,
               n_mels: int = 40, fmin: float = 0.0, fmax: float | None = None,
               normalize: str = "batch", conv_filters: list[int] = (64,), conv_kernel: int = 3,
               kind: str = "gru", units: list[int] = (96, 96), bidirectional: bool = False,
               dropout: float = 0.1, wave_augment: dict | None = None,
               spec_augment: dict | None = None) -> keras.Model:
    """Conv + GRU/LSTM CTC recognizer: per-frame logits over ``[blank] + labels``.

    Unidirectional models are causal end to end (``normalize`` must then be 'batch' or
    'none'), so they stream; ``max_seconds`` fixes the input length (None: any length).
    """
    causal = not bidirectional
    if causal and normalize == "utterance":
        raise ValueError("a unidirectional (streaming) model needs a causal front end: "
                         "normalize='batch' or 'none', not 'utterance'")
    waveform = keras.Input(shape=(_samples(sample_rate, max_seconds),), name="waveform")
    x = _front_end(waveform, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                   n_mels=n_mels, fmin=fmin, fmax=fmax, features="logmel", n_mfcc=0,
                   normalize=normalize, wave_augment=wave_augment, spec_augment=spec_augment)
    x = _convs(x, list(conv_filters), conv_kernel, 1, causal=causal)
    for i, width in enumerate(units):
        x = recurrent(kind, width, bidirectional=bidirectional, return_sequences=True,
                      name=f"{kind}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(len(labels) + 1, name="logits")(x)
    return keras.Model(waveform, logits, name="speech_ctc")


def chunk_model(model: keras.Model, frames_per_chunk: int) -> keras.Model:
    """The streaming form of a unidirectional ``speech-ctc`` model, sharing its weights.

    Inputs: ``samples [1, frames_per_chunk * hop]``, ``frame_buffer [1, n_fft - hop]`` (the
    last samples of the previous chunk: the framing remainder), one ``conv_buffer_i
    [1, kernel - 1, channels]`` per causal convolution and one ``state_i`` per recurrent
    layer (``h``; LSTM also ``c``). Outputs: ``logits [1, frames_per_chunk, classes]``
    followed by the new buffers and states in the same order. Run over consecutive chunks
    from all-zero buffers and states it gives the offline model's logits (see
    `tasks.speech.streaming.Streamer`, which also primes ``frame_buffer`` with the first
    samples). Recurrent layers are unrolled over the chunk, so the model converts to TFLite
    (int8 too) without a WHILE loop.
    """
    if getattr(model, "rnnzoo_builder", "speech-ctc") != "speech-ctc":
        raise ValueError("chunk_model needs a speech-ctc model")
    mel = model.get_layer("log_mel")
    hop, overlap = mel.hop_length, mel.n_fft - mel.hop_length
    samples = keras.Input(batch_shape=(1, frames_per_chunk * hop), name="samples")
    frame_buffer = keras.Input(batch_shape=(1, overlap), name="frame_buffer")
    inputs, new_buffers, new_states = [samples, frame_buffer], [], []
    joined = keras.layers.Concatenate(axis=1, name="stream_join")([frame_buffer, samples])
    kept = keras.layers.Cropping1D((frames_per_chunk * hop, 0), name="keep_samples")(
        keras.layers.Reshape((overlap + frames_per_chunk * hop, 1), name="to_column")(joined))
    new_buffers.append(keras.layers.Reshape((overlap,), name="new_frame_buffer")(kept))
    x = mel(joined)
    layers = {layer.name: layer for layer in model.layers}
    if "feature_norm" in layers:
        x = layers["feature_norm"](x)
    i = 0
    while f"conv_{i}" in layers:
        conv = layers[f"conv_{i}"]
        if conv.padding != "causal":
            raise ValueError("chunk_model needs causal convolutions (a unidirectional model)")
        width = conv.kernel_size[0] - 1
        buffer = keras.Input(batch_shape=(1, width, x.shape[-1]), name=f"conv_buffer_{i}")
        inputs.append(buffer)
        joined_x = keras.layers.Concatenate(axis=1, name=f"conv_join_{i}")([buffer, x])
        new_buffers.append(keras.layers.Cropping1D((frames_per_chunk, 0),
                                                   name=f"keep_frames_{i}")(joined_x))
        valid = keras.layers.Conv1D(conv.filters, conv.kernel_size, padding="valid",
                                    use_bias=conv.use_bias, name=f"stream_conv_{i}")
        x = valid(joined_x)
        valid.set_weights(conv.get_weights())
        x = layers[f"conv_{i}_relu"](layers[f"conv_{i}_norm"](x))
        i += 1
    j = 0
    while any(name.endswith(f"_{j}") and isinstance(layer, keras.layers.RNN)
              for name, layer in layers.items()):
        rnn = next(layer for name, layer in layers.items()
                   if name.endswith(f"_{j}") and isinstance(layer, keras.layers.RNN))
        kind = type(rnn)
        units = rnn.units
        count = 2 if isinstance(rnn, keras.layers.LSTM) else 1
        states = [keras.Input(batch_shape=(1, units), name=f"state_{j}" + ("_c" if k else ""))
                  for k in range(count)]
        inputs += states
        stream = kind(units, return_sequences=True, return_state=True, unroll=True,
                      activation=rnn.activation, name=f"stream_{rnn.name}")
        outputs = stream(x, initial_state=states if count > 1 else states[0])
        stream.set_weights(rnn.get_weights())
        x, states_out = outputs[0], list(outputs[1:])
        new_states += states_out
        j += 1
    logits = layers["logits"](x)
    return keras.Model(inputs, [logits, *new_buffers, *new_states], name="speech_ctc_chunk")
