"""Full-int8 files keep the audio front end in float (export.float_layers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CLIPS = Path(__file__).resolve().parent / "data" / "fsdd-clips"
CALIBRATION = Path(__file__).resolve().parent / "data" / "fsdd-calibration"  # training takes


def _tiny_crnn(normalize: str):
    import zoo

    return zoo.build("speech-crnn", units=[8], conv_filters=[8], n_mels=16, normalize=normalize,
                     spec_augment={"max_time": 3}, wave_augment={"max_shift": 10})


def test_front_end_and_its_normalization_are_picked():
    from export.float_layers import float_layers

    assert float_layers(_tiny_crnn("batch")) == ["log_mel", "feature_norm", "spec_augment"]
    assert float_layers(_tiny_crnn("utterance")) == ["log_mel", "utterance_norm", "spec_augment"]
    # conv_0_norm is a BatchNormalization too, but fed by an int8 convolution: not picked
    assert "conv_0_norm" not in float_layers(_tiny_crnn("batch"))


def test_models_without_a_front_end_keep_nothing_in_float():
    import zoo
    from export.float_layers import float_layers

    assert float_layers(zoo.build("adding-lstm", units=8, length=10)) == []


def test_a_flagged_layer_nested_in_a_time_distributed_cnn_is_picked():
    """The video LRCN's frame contrast normalization sits inside its TimeDistributed CNN;
    at 8 bits it cost the shipped video preset 1.6 points of validation accuracy."""
    import zoo
    from export.float_layers import float_layers, nested_layers

    model = zoo.build("video-lrcn", labels=["a", "b"], frames=4, size=16, filters=[4])
    assert "frame_contrast" not in {layer.name for layer in model.layers}
    assert "frame_contrast" in nested_layers(model)
    assert float_layers(model) == ["frame_contrast"]


@pytest.mark.slow
def test_int8_step_file_keeps_the_nested_layer_in_float(tmp_path):
    import zoo
    from export import tflite_file, to_tflite

    model = zoo.build("video-lrcn", labels=["a", "b"], frames=4, size=16, filters=[4])
    frames = np.random.default_rng(0).uniform(0, 255, (8, 4, 16, 16, 3)).astype(np.float32)
    artifact = to_tflite(model, tmp_path / "s.tflite", kind="step", quantize="int8",
                         representative=[clip[None] for clip in frames])
    assert any("kept in float: frame_contrast" in note for note in artifact.notes)
    assert "RSQRT" in tflite_file.op_summary(artifact.path.read_bytes()).get("float", [])


def test_layer_names_match_converter_tensor_names():
    from export.convert_worker import layer_tensors

    names = ["crnn_1/log_mel_1/Log", "crnn_1/log_mel_1/Tensordot/MatMul",
             "crnn_1/feature_norm_1/batchnorm/mul;crnn_1/conv_0_1/Conv1D",
             "crnn_1/conv_0_1/Conv1D;crnn_1/feature_norm_1/batchnorm/add_1",
             "crnn_1/log_mel_extra/Mul", "log_mel/Square", "waveform"]
    assert layer_tensors(names, ["log_mel", "feature_norm"]) == [
        "crnn_1/feature_norm_1/batchnorm/mul;crnn_1/conv_0_1/Conv1D",
        "crnn_1/log_mel_1/Log", "crnn_1/log_mel_1/Tensordot/MatMul", "log_mel/Square"]
    assert layer_tensors(names, []) == []


def test_unknown_float_layer_is_refused(tmp_path):
    from export import to_tflite

    model = _tiny_crnn("batch")
    with pytest.raises(ValueError, match="float_layers names no layer of the model: nope"):
        to_tflite(model, tmp_path / "m.tflite", quantize="int8", float_layers=["nope"],
                  representative=[np.zeros((1, 8000), np.float32)])


def test_int8_speech_digits_keeps_its_accuracy_on_the_bundled_clips(tmp_path):
    """The shipped preset in full int8: same answers as Keras on the ten bundled clips (one
    may differ), front end in float; quantizing everything instead loses most of them."""
    import zoo
    from export import to_tflite
    from export.runner import TFLiteRunner
    from export.tflite_file import op_summary
    from tasks.speech import digits

    model = zoo.load("speech-digits").model
    data = list(digits.load(str(CLIPS), "test").as_numpy_iterator())
    waves = np.stack([x for x, _ in data])
    keras_answers = model.predict_on_batch(waves).argmax(axis=-1)
    calibration = digits.representative(str(CALIBRATION), n=10)  # not the clips it scores

    def answers(path: Path, **options) -> np.ndarray:
        artifact = to_tflite(model, path, quantize="int8", representative=calibration, **options)
        runner = TFLiteRunner(artifact.path)
        name, output = runner.inputs[0], runner.outputs[0]
        return np.array([runner.run_sequence({name: w[None]})[output].argmax()
                         for w in waves]), artifact

    kept, artifact = answers(tmp_path / "kept.tflite")
    assert np.sum(kept == keras_answers) >= len(waves) - 1
    front = model.layers[2].name  # log_mel or mfcc, after the input and wave augmentation
    assert front in ("log_mel", "mfcc")
    assert any(f"kept in float: {front}, feature_norm" in note for note in artifact.notes)
    assert "LOG" in op_summary(artifact.path.read_bytes())["float"]
    everything, _ = answers(tmp_path / "all.tflite", float_layers=[])
    assert np.sum(everything == keras_answers) < np.sum(kept == keras_answers)


def test_mel_filterbank_is_split_below_the_dynamic_range_threshold():
    from zoo.audio_frontend import SMALL_CONSTANT, MelSpectrogram

    for n_fft, n_mels in ((256, 40), (512, 80), (64, 4)):
        layer = MelSpectrogram(n_fft=n_fft, hop_length=n_fft // 2, n_mels=n_mels)
        parts = layer._mel_parts()
        assert all(part.size < SMALL_CONSTANT for part in parts)
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), layer._mel)


def test_dynamic_range_speech_digits_matches_keras_on_the_bundled_clips(tmp_path):
    """Dynamic-range int8 quantizes weights of 1,024+ values; the mel filterbank is kept
    under that, so the power spectrum is not squeezed into 8 bits on the fly: the file's
    probabilities stay within 0.01 of Keras' (with one filterbank constant: up to 0.31)."""
    import zoo
    from export import to_tflite
    from export.runner import TFLiteRunner
    from tasks.speech import digits

    model = zoo.load("speech-digits").model
    waves = np.stack([x for x, _ in digits.load(str(CLIPS), "test").as_numpy_iterator()])
    expected = model.predict_on_batch(waves)
    runner = TFLiteRunner(to_tflite(model, tmp_path / "dynamic.tflite", quantize="dynamic").path)
    name, output = runner.inputs[0], runner.outputs[0]
    got = np.concatenate([runner.run_sequence({name: w[None]})[output] for w in waves])
    np.testing.assert_allclose(got, expected, atol=0.01)
