"""speech-digits: FSDD splits, loading, the speech-crnn builder and the CLI on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.cli import main
from tasks.speech import fsdd
from tasks.speech.synthetic import write_fsdd

DATA = Path(__file__).resolve().parent / "data"
TINY = [
    "--features",
    "logmel",
    "--normalize",
    "utterance",
    "--units",
    "8",
    "--conv-filters",
    "8",
    "--n-mels",
    "16",
    "--epochs",
    "15",
    "--no-spec-augment",
    "--no-wave-augment",
    "--batch-size",
    "8",
    "--learning-rate",
    "0.02",
    "--clipnorm",
    "0",
    "--quiet",
]


@pytest.fixture(scope="module")
def fake_fsdd(tmp_path_factory) -> Path:
    return write_fsdd(tmp_path_factory.mktemp("fsdd"), digits=3, speakers=2, takes=16)


@pytest.fixture(scope="module")
def trained(fake_fsdd, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "digits"
    assert main(["train", "speech-digits", "--data", str(fake_fsdd), *TINY, "--out", str(out)]) == 0
    return out


def test_conventional_and_speaker_splits(fake_fsdd):
    clips = fsdd.list_clips(fake_fsdd)
    assert len(clips) == 3 * 2 * 16
    test, val, train = (fsdd.select(clips, s) for s in ("test", "validation", "train"))
    assert {c.index for c in test} == set(range(5)) and {c.index for c in val} == set(range(5, 10))
    assert {c.index for c in train} == set(range(10, 16))
    assert not {c.path for c in test} & {c.path for c in train}
    every = fsdd.select(clips, "train+validation")
    assert {c.path for c in every} == {c.path for c in train} | {c.path for c in val}
    held = fsdd.select(clips, "test", holdout_speaker="bob")
    assert {c.speaker for c in held} == {"bob"} and len(held) == 48
    for split in ("train", "validation"):
        assert {c.speaker for c in fsdd.select(clips, split, holdout_speaker="bob")} == {"alice"}
    with pytest.raises(ValueError, match="unknown speaker 'zed'"):
        fsdd.select(clips, "test", holdout_speaker="zed")


def test_tempo_changes_length_and_keeps_pitch():
    from tasks.speech.perturb import tempo
    from tasks.speech.synthetic import word

    wave = word(3, seconds=0.4)
    peak = np.argmax(np.abs(np.fft.rfft(wave))) / wave.size  # cycles per sample
    for factor in (0.75, 1.3):
        slower_or_faster = tempo(wave, 8000, factor)
        assert abs(slower_or_faster.size - wave.size / factor) <= 2
        moved = np.argmax(np.abs(np.fft.rfft(slower_or_faster))) / slower_or_faster.size
        assert abs(moved - peak) / peak < 0.02  # same pitch (speed() would move it by the factor)
    assert tempo(wave, 8000, 1.0) is wave


def test_load_pads_and_perturbs_training_copies(fake_fsdd):
    from tasks.speech.digits import load

    plain = list(load(str(fake_fsdd), "train").as_numpy_iterator())
    assert len(plain) == 36 and plain[0][0].shape == (8000,) and plain[0][0].dtype == np.float32
    more = list(load(str(fake_fsdd), "train", speeds=[0.9, 1.1], pitches=[2], tempos=[0.8])
                .as_numpy_iterator())
    assert len(more) == 5 * 36
    assert sorted(int(y) for _, y in more) == sorted(5 * [int(y) for _, y in plain])
    np.testing.assert_array_equal(more[0][0], plain[0][0])  # the originals come first
    assert len(list(load(str(fake_fsdd), "test", speeds=[0.9]).as_numpy_iterator())) == 30
    assert len(list(load(str(fake_fsdd), "train", all_takes=True).as_numpy_iterator())) == 36 + 30
    assert len(list(load(str(fake_fsdd), "validation", all_takes=True).as_numpy_iterator())) == 30


def test_load_skips_bad_files_or_fails_when_strict(fake_fsdd, tmp_path, capsys):
    import shutil

    from tasks.speech.audio import AudioError
    from tasks.speech.digits import load

    copy = tmp_path / "fsdd"
    shutil.copytree(fake_fsdd, copy)
    (copy / "recordings" / "2_alice_3.wav").write_bytes(b"")
    data = load(str(copy), "test")
    assert len(list(data)) == 29
    assert "2_alice_3.wav: empty file" in capsys.readouterr().err
    with pytest.raises(AudioError, match="2_alice_3.wav: empty file"):
        load(str(copy), "test", strict=True)


def test_crnn_builds_both_kinds_and_round_trips(tmp_path):
    import zoo

    for kind, bidirectional, features in (("gru", True, "logmel"), ("lstm", False, "mfcc")):
        model = zoo.build("speech-crnn", kind=kind, bidirectional=bidirectional, units=[8, 8],
                          conv_filters=[8], n_mels=16, features=features, n_mfcc=13,
                          normalize="utterance" if features == "logmel" else "batch",
                          spec_augment={"max_time": 3}, wave_augment={"max_shift": 10})
        x = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype(np.float32)
        probabilities = model.predict_on_batch(x)
        assert probabilities.shape == (2, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
        folder = zoo.save(model, tmp_path / kind, card={"task": "speech-digits", "metrics": {}})
        assert "Lambda" not in (folder / "config.json").read_text()
        np.testing.assert_allclose(zoo.load(folder).model.predict_on_batch(x), probabilities,
                                   atol=1e-6)


def test_train_evaluate_predict_end_to_end(trained, fake_fsdd, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(trained), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["examples"] == 30
    assert result["metrics"]["accuracy"] > 0.5  # three tone "digits", learnable in a few steps
    clip = fake_fsdd / "recordings" / "2_bob_1.wav"
    assert main(["predict", str(trained), str(clip), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["input"] == str(clip) and row["label"] in [str(d) for d in range(10)]
    assert main(["predict", str(trained), str(clip)]) == 0
    assert capsys.readouterr().out.startswith(f"{clip}: ")
    assert main(["predict", str(trained), str(fake_fsdd / "missing.wav")]) == 2
    assert "missing.wav" in capsys.readouterr().err


def test_representative_samples(fake_fsdd):
    from tasks.speech.digits import representative

    samples = representative(str(fake_fsdd), n=5)
    assert len(samples) == 5 and samples[0].shape == (1, 8000)


def test_bundled_clips_are_a_test_split_and_calibration_clips_a_training_split():
    """The demo scores the test takes of fsdd-clips and calibrates int8 on the training takes
    of fsdd-calibration; a folder without training takes is refused for calibration."""
    from tasks.speech.digits import load, representative

    clips, calibration = DATA / "fsdd-clips", DATA / "fsdd-calibration"
    assert len(list(load(str(clips), "test").as_numpy_iterator())) == 10
    with pytest.raises(ValueError, match="no usable FSDD clips in the train split"):
        load(str(clips), "train")
    with pytest.raises(ValueError, match=r"fsdd-clips: no FSDD training takes .*"
                                         r"--calibration-data"):
        representative(str(clips), n=4)
    assert len(representative(str(calibration), n=4)) == 4
    assert len(representative(str(calibration), n=100)) == 10
    takes = {c.index for c in fsdd.list_clips(calibration)}
    assert min(takes) >= 10 and not takes & {c.index for c in fsdd.list_clips(clips)}


@pytest.mark.slow
def test_export_calibrates_apart_from_the_verification_data(trained, tmp_path, capsys):
    clips, calibration = DATA / "fsdd-clips", DATA / "fsdd-calibration"
    common = ["--format", "tflite", "--quantize", "int8", "--kinds", "sequence", "--data",
              str(clips), "--split", "test"]
    capsys.readouterr()
    code = main(["export", str(trained), "--out", str(tmp_path / "refused"), *common])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "fsdd-clips: no FSDD training takes" in err and "--calibration-data" in err
    assert not (tmp_path / "refused").exists()

    out = tmp_path / "export"
    code = main(["export", str(trained), "--out", str(out), *common,
                 "--calibration-data", str(calibration)])
    text = capsys.readouterr().out
    assert code == 0
    assert f"int8 calibrated on 10 examples of the train split of {calibration}" in text
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["calibration"] == {"data": {"name": "fsdd-calibration"}, "split": "train",
                                       "examples": 10, "int8_weights": "per_tensor"}
    assert metadata["data"] == {"name": "fsdd-clips"}  # absolute paths stay out


def test_crnn_pooling_options():
    import zoo

    x = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype(np.float32)
    for pooling in ("max", "mean"):
        model = zoo.build("speech-crnn", units=[8], conv_filters=[8], n_mels=16, pooling=pooling)
        assert model.predict_on_batch(x).shape == (2, 10)
    with pytest.raises(ValueError, match="pooling"):
        zoo.build("speech-crnn", pooling="attention")


def test_pooling_option_reaches_the_builder():
    import argparse

    from tasks.speech.digits import TASK

    parser = argparse.ArgumentParser()
    TASK.add_options(parser)
    _, config = TASK.builder_config(parser.parse_args(["--pooling", "max"]))
    assert config["pooling"] == "max"
    assert TASK.builder_config(parser.parse_args([]))[1]["pooling"] == "max"
    assert TASK.builder_config(parser.parse_args(["--pooling", "last"]))[1]["pooling"] == "last"
    with pytest.raises(SystemExit):
        parser.parse_args(["--pooling", "attention"])


def test_crnn_freq_conv_shapes_round_trip_and_option(tmp_path):
    """2-D convs over (time, band): the output per frame has bands/4 x filters values, the
    model round-trips with safe_mode, and the option reaches the builder from the CLI."""
    import argparse

    import keras

    import zoo
    from tasks.speech.digits import TASK

    model = zoo.build("speech-crnn", units=[8], conv_filters=[8], n_mels=16, features="logmel",
                      normalize="batch", freq_conv=[4, 6])
    assert model.get_layer("bands_flat").output.shape[-1] == 16 // 4 * 6
    x = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    parser = argparse.ArgumentParser()
    TASK.add_options(parser)
    _, config = TASK.builder_config(parser.parse_args(["--freq-conv", "16,32"]))
    assert config["freq_conv"] == [16, 32]
    assert "freq_conv" not in TASK.builder_config(parser.parse_args([]))[1]
