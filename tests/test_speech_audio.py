"""Audio loading (errors name the file) and the in-model front end against librosa."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tasks.speech.audio import AudioError, check_samples, load_audio, load_many

RATE = 8000


def _tone(seconds=0.5, rate=RATE, freq=440.0, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def _chirp(seconds=0.7, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(1)
    return (0.4 * np.sin(2 * np.pi * (100 + 1500 * t) * t) + rng.normal(0, 0.02, t.size)).astype(
        np.float32
    )


@pytest.mark.parametrize("fmt,ext", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg")])
def test_reads_formats(tmp_path, fmt, ext):
    path = tmp_path / f"clip{ext}"
    sf.write(path, _tone(), RATE, format=fmt)
    samples = load_audio(path, RATE)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - RATE // 2) < 50
    tolerance = 0.05 if fmt == "OGG" else 1e-3
    assert np.max(np.abs(samples[:1000] - _tone()[:1000])) < tolerance


def test_stereo_is_mixed_and_resampled(tmp_path):
    left, right = _tone(rate=16000), np.zeros(8000, np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    samples = load_audio(path, RATE)
    assert samples.size == 4000  # 0.5 s at 8 kHz
    assert 0.1 < np.max(np.abs(samples)) < 0.2  # the mean of a 0.3 tone and silence


def _bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all, just text " * 10)
    good = tmp_path / "good.wav"
    sf.write(good, _tone(), RATE)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    nan = tmp_path / "nan.wav"
    bad = _tone()
    bad[100] = np.nan
    sf.write(nan, bad, RATE, subtype="FLOAT")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4000, np.float32), RATE)
    return {"empty": (empty, "empty file"), "not audio": (text, "not an audio file"),
            "truncated": (truncated, "truncated"), "nan": (nan, "NaN or infinite"),
            "silence": (silent, "silence only")}


def test_bad_files_raise_naming_the_file(tmp_path):
    for path, words in _bad_files(tmp_path).values():
        with pytest.raises(AudioError) as caught:
            load_audio(path, RATE)
        assert str(path) in str(caught.value) and words in str(caught.value)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav", RATE)


def test_too_long_is_refused_or_truncated(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, _tone(seconds=2.0), RATE)
    with pytest.raises(
        AudioError, match=r"long.wav: 2.00 s is longer than this model's maximum of 1 s"
    ):
        load_audio(path, RATE, max_seconds=1.0)
    assert load_audio(path, RATE, max_seconds=1.0, on_long="truncate").size == RATE
    with pytest.raises(AudioError, match="infinite"):
        check_samples(np.array([0.1, np.inf], np.float32), RATE, name="x")


def test_load_many_skips_and_reports(tmp_path, capsys):
    bad = _bad_files(tmp_path)
    paths = sorted(tmp_path.glob("*.wav"))
    waves, kept, report = load_many(paths, RATE)
    assert [p.name for p in kept] == ["good.wav"] and len(waves) == 1
    assert report.loaded == 1 and len(report.skipped) == len(bad)
    assert "skipped 5 bad ones" in capsys.readouterr().err
    with pytest.raises(AudioError, match="--strict"):
        load_many(paths, RATE, strict=True)


# ---------------------------------------------------------------------------------------------
# front end


@pytest.mark.parametrize(
    "settings",
    [
        {"n_fft": 256, "hop_length": 80, "n_mels": 40},
        {
            "n_fft": 512,
            "hop_length": 128,
            "win_length": 400,
            "n_mels": 64,
            "fmin": 20.0,
            "fmax": 3800.0,
        },
    ],
)
def test_log_mel_matches_librosa(settings):
    import librosa

    from zoo.audio_frontend import MelSpectrogram

    y = _chirp()
    ours = MelSpectrogram(sample_rate=RATE, **settings)(y[None])[0].numpy()
    ref = librosa.feature.melspectrogram(y=y, sr=RATE, center=False, power=2.0, **settings).T
    assert ours.shape == ref.shape
    # |log a - log b| <= 1e-4 is a relative difference of (mel + floor) within 1e-4
    np.testing.assert_allclose(ours, np.log(ref + 1e-6), rtol=0, atol=1e-4)
    power = MelSpectrogram(sample_rate=RATE, log=False, **settings)(y[None])[0].numpy()
    np.testing.assert_allclose(power, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_mfcc_matches_librosa(shared_data):
    import librosa

    from zoo.audio_frontend import MFCC

    for name in ("3_jackson_7.wav", "8_yweweler_30.wav"):
        y, _ = librosa.load(shared_data / "fsdd" / "recordings" / name, sr=None)
        for top_db in (80.0, None):
            ours = MFCC(sample_rate=RATE, n_fft=256, hop_length=80, n_mels=40, n_mfcc=13,
                        top_db=top_db)(y[None])[0].numpy()
            mel = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=256, hop_length=80,
                                                 n_mels=40, center=False)
            ref = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=top_db), n_mfcc=13).T
            if top_db == 80.0:  # the same as librosa's own path from the waveform
                np.testing.assert_array_equal(ref, librosa.feature.mfcc(
                    y=y, sr=RATE, n_mfcc=13, n_fft=256, hop_length=80, n_mels=40, center=False).T)
            assert ours.shape == ref.shape
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)


def test_mfcc_on_synthetic_audio_matches_librosa():
    import librosa

    from zoo.audio_frontend import MFCC

    y = _chirp()
    ours = MFCC(sample_rate=RATE, n_fft=256, hop_length=80, n_mels=40, n_mfcc=20)(y[None])[0]
    ref = librosa.feature.mfcc(y=y, sr=RATE, n_mfcc=20, n_fft=256, hop_length=80, n_mels=40,
                               center=False).T
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-3)


def test_front_end_layers_round_trip_and_are_causal():
    import keras

    from zoo.audio_frontend import MFCC, MelSpectrogram, SpecAugment, UtteranceNorm, WaveAugment

    y = _chirp()[None]
    for layer in (MelSpectrogram(sample_rate=RATE, n_mels=20), MFCC(sample_rate=RATE, top_db=None),
                  UtteranceNorm(), SpecAugment(seed=1), WaveAugment(seed=1, max_shift=10)):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        assert "Lambda" not in str(keras.saving.serialize_keras_object(layer))
    mel = MelSpectrogram(sample_rate=RATE)
    full = mel(y).numpy()
    half = mel(y[:, :4000]).numpy()  # a frame never looks at later samples
    np.testing.assert_array_equal(full[:, : half.shape[1]], half)


def test_augment_layers_only_in_training():
    from zoo.audio_frontend import SpecAugment, WaveAugment

    features = np.random.default_rng(0).normal(size=(4, 50, 20)).astype(np.float32) + 5
    spec = SpecAugment(time_masks=2, max_time=8, freq_masks=2, max_freq=4, seed=3)
    np.testing.assert_array_equal(spec(features).numpy(), features)
    masked = spec(features, training=True).numpy()
    zeros = masked == 0
    assert zeros.any() and zeros.mean() < 0.6
    np.testing.assert_array_equal(masked[~zeros], features[~zeros])
    wave = np.zeros((3, 1000), np.float32)
    wave[:, :600] = _tone(seconds=600 / RATE)
    aug = WaveAugment(max_shift=50, seed=4)
    np.testing.assert_array_equal(aug(wave).numpy(), wave)
    out = aug(wave, training=True).numpy()
    assert not np.allclose(out, wave)
    assert np.all(out[:, 700:] == 0)  # padding stays silent


def test_utterance_norm_ignores_padding():
    from zoo.audio_frontend import MelSpectrogram, UtteranceNorm

    y = _chirp()
    mel = MelSpectrogram(sample_rate=RATE)
    some, more = (UtteranceNorm()(mel(np.pad(y, (0, n))[None])).numpy()[0] for n in (1000, 4000))
    np.testing.assert_allclose(more[: some.shape[0]], some, atol=1e-4)  # the amount does not matter
    assert np.all(more[some.shape[0]:] == 0) and np.all(some[-5:] == 0)
    np.testing.assert_allclose(some[some.any(axis=1)].mean(axis=0), 0, atol=1e-4)


def test_frequency_warp_only_in_training_and_monotone():
    from zoo.audio_frontend import FrequencyWarp

    ramp = np.tile(np.arange(20, dtype=np.float32)[None, None, :], (4, 3, 1))
    warp = FrequencyWarp(0.2, seed=2)
    np.testing.assert_array_equal(warp(ramp).numpy(), ramp)
    out = warp(ramp, training=True).numpy()
    assert not np.allclose(out, ramp)
    assert np.all(np.diff(out, axis=-1) >= 0) and np.all(out[..., 0] == 0)
    scale = out[:, 0, 10] / 10  # channel c reads c / alpha: a ramp becomes c / alpha
    assert np.all((scale > 1 / 1.2 - 1e-5) & (scale < 1 / 0.8 + 1e-5))
    np.testing.assert_array_equal(out[:, 0], out[:, 2])  # one warp per example, all frames


@pytest.mark.slow
def test_mfcc_fp16_tflite_stays_finite_on_silent_padding(tmp_path):
    """fp16 files store constants in half precision, where MFCC's amin (1e-10) is 0: the dB
    floor is applied after the log, so silence (zero padding) gives the floor, not NaN."""
    import keras

    import export
    from export.runner import TFLiteRunner
    from zoo.audio_frontend import MFCC

    wave = np.zeros((1, RATE // 2), np.float32)
    # broadband noise, then zero padding (a pure tone's window sidelobes, -100 dB in float32,
    # rise to about -66 dB with an fp16 window: that is fp16, not this bug)
    wave[0, :1000] = np.random.default_rng(0).normal(0.0, 0.1, 1000)
    inputs = keras.Input((RATE // 2,))
    model = keras.Model(inputs, MFCC(sample_rate=RATE, n_fft=256, hop_length=80, n_mels=40,
                                     n_mfcc=13, top_db=None)(inputs))
    expected = model.predict_on_batch(wave)
    assert expected[0, -1, 0] == pytest.approx(-100.0 * np.sqrt(40), rel=1e-5)  # the floor
    path = tmp_path / "fp16.tflite"
    export.convert_variants(model, {export.Variant(kind="sequence", quantize="fp16"): path})
    got = np.asarray(TFLiteRunner(path).predict(wave))
    assert np.isfinite(got).all()
    noise, silence = slice(0, 9), slice(13, None)  # frames inside the noise, after it
    np.testing.assert_allclose(got[:, noise], expected[:, noise], rtol=1e-2, atol=0.5)
    np.testing.assert_allclose(got[:, silence], expected[:, silence], rtol=1e-3, atol=0.1)
