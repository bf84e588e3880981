"""Every registered builder exports with `rnnzoo export`'s default options (float32 and int8).

A tiny untrained model of each builder goes through `export.export_model` with the defaults of
the export command (SavedModel and TFLite, sequence and step files, batch 1, float input and
output tensors), verified on random inputs: every artifact must be written and must run, and
float32 files must give the Keras outputs. Calibration sequences are shorter than the verified
ones where the model's time axis is open (a fixed-length int8 file fed longer examples was the
defect this test was written for). A builder registered without an entry in `TINY` fails the
suite, so a new family cannot skip it.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import export
import zoo
from zoo import registry

# builder -> configurations of a tiny model (several where the structure differs).
TINY = {
    "captioning-attention": [{"vocabulary": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                              "image_size": 16, "encoder_filters": [4], "units": 4,
                              "attention_units": 4, "embedding_dim": 3}],
    "adding-gru": [{"length": 10, "units": 4}],
    "adding-lstm": [{"length": 10, "units": 4}],
    "adding-simple": [{"length": 10, "units": 4}],
    "forecast-ar-gru": [{"lookback": 6, "horizon": 3, "features": 2, "targets": 1, "units": 4,
                         "season": 2}],
    "forecast-ar-lstm": [{"lookback": 6, "horizon": 3, "units": [4, 4], "quantiles": 3,
                          "base": "last"}],
    "forecast-direct-gru": [{"lookback": 6, "horizon": 2, "units": 4, "base": "linear"}],
    # horizon = quantiles = 3 and one target: the case a broadcast add once got wrong in TFLite
    "forecast-direct-lstm": [{"lookback": 6, "horizon": 3, "units": 4, "season": 2,
                              "quantiles": 3},
                             {"lookback": 6, "horizon": 4, "features": 3, "targets": 2,
                              "units": 4, "quantiles": 3, "season": 3}],
    "music-notes-gru": [{"units": 4}],
    "music-notes-lstm": [{"units": [4, 4]}],
    "music-pianoroll-gru": [{"units": 4}],
    "music-pianoroll-gru-ar": [{"units": 4}, {"units": 4, "form": "nade", "nade_units": 3}],
    "music-pianoroll-lstm": [{"units": 4}],
    "music-pianoroll-lstm-ar": [{"units": [4, 3], "form": "nade", "nade_units": 3},
                                {"units": 4, "form": "rnn-nade", "nade_units": 3}],
    "music-pianoroll-simple": [{"units": 4}],
    "ner-bilstm-crf": [{"words": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                        "characters": ["<pad>", "<unk>", "a", "b"],
                        "tags": ["O", "B-X", "I-X"], "max_length": 6, "max_word_length": 4,
                        "word_dim": 4, "char_dim": 3, "char_filters": 4, "units": 4}],
    "sentiment-bigru": [{"vocabulary": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                         "max_length": 6, "embedding_dim": 4, "units": 4}],
    "sentiment-bilstm": [{"vocabulary": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                          "max_length": 6, "embedding_dim": 4, "units": 4}],
    "textgen-char-gru": [{"characters": ["<pad>", "<unk>", "a", "b", " "], "units": 4,
                          "embedding": 3}],
    "textgen-char-lstm": [{"characters": ["<pad>", "<unk>", "a", "b", " "], "units": [4, 3],
                           "embedding": 3, "dropout": 0.1}],
    "translation-attention": [{"vocabulary_size": 12, "max_source_length": 5,
                               "embedding_dim": 4, "encoder_units": 4, "decoder_units": 4,
                               "attention_units": 4},
                              {"vocabulary_size": 12, "max_source_length": 5, "kind": "lstm",
                               "embedding_dim": 4, "encoder_units": 4, "decoder_units": 4,
                               "attention": "bahdanau", "attention_units": 4}],
    "wordlm-bigru": [{"vocabulary": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                      "max_length": 6, "embedding_dim": 4, "units": 4}],
    "wordlm-bilstm": [{"vocabulary": ["<pad>", "<start>", "<end>", "<unk>", "a", "b"],
                       "max_length": 6, "embedding_dim": 4, "units": 4,
                       "output_vocabulary": 5}],
    "speech-crnn": [{"max_seconds": 0.25, "n_mels": 8, "conv_filters": [4], "units": [4],
                     "features": "mfcc", "n_mfcc": 6, "normalize": "batch", "pooling": "max"}],
    "speech-ctc": [
        {"max_seconds": 0.25, "n_mels": 8, "conv_filters": [4], "units": [4]},
        {"max_seconds": 0.25, "n_mels": 8, "conv_filters": [4], "units": [4],
         "bidirectional": True},
    ],
    "video-convlstm": [{"labels": ["a", "b", "c"], "frames": 6, "size": 16,
                        "filters": [4, 4]}],
    "video-frame-average": [{"labels": ["a", "b"], "frames": 6, "size": 16, "filters": [4]}],
    "video-lrcn": [{"labels": ["a", "b", "c"], "frames": 6, "size": 16, "filters": [4, 8],
                    "units": 4},
                   {"labels": ["a", "b"], "frames": 6, "size": 16, "filters": [4],
                    "units": 4, "frame_pooling": "flatten", "frame_units": 6,
                    "frame_dropout": 0.5},
                   {"labels": ["a", "b"], "frames": 6, "size": 16, "filters": [4],
                    "units": 4, "motion": True}],
}
# Known defects, each failing its case until fixed (strict: a fix makes the mark fail too).
KNOWN_FAILURES: dict[str, str] = {}
CASES = [pytest.param(name, config, id=f"{name}-{i}",
                      marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[name])]
                      if name in KNOWN_FAILURES else [])
         for name, configs in sorted(TINY.items()) for i, config in enumerate(configs)]
OPEN_LENGTH, CALIBRATION_LENGTH = 12, 7  # time steps verified / calibrated on (open axes)
FLOAT_TOLERANCE = 1e-4  # max |TFLite float32 - Keras| on the sample inputs


def test_every_registered_builder_has_a_tiny_export_case():
    assert set(TINY) == set(zoo.list_models()), \
        "add a tiny configuration of each new builder to TINY"
    covered = {registry.builder_info(name).fn.__module__ for name in TINY}
    assert covered == set(registry.FAMILY_MODULES)


# Families whose inputs have a scale of their own: video models take pixel values 0-255 (a
# frame of near-constant values would only measure rounding in its contrast normalization).
PIXELS = ("video-",)


def _inputs(model, count: int, length: int, rng: np.random.Generator):
    from export.step import input_names

    if getattr(model, "rnnzoo_parts", None):  # an image (pixels) or source ids, and tokens
        config = model.rnnzoo_config
        vocabulary = config.get("vocabulary_size") or len(config["vocabulary"])
        parts = {}
        for name, tensor in zip(input_names(model), model.inputs):
            if name == "image":
                parts[name] = rng.uniform(0.0, 255.0, (count, 20, 20, 3)).astype(np.float32)
            else:
                shape = [count, *(length if d is None else d for d in tensor.shape[1:])]
                parts[name] = rng.integers(1, vocabulary, shape).astype(np.int32)
        return parts
    arrays = {}  # several inputs (autoregressive piano roll): a dict by input name
    for name, tensor in zip(input_names(model), model.inputs):
        shape = [count, *(length if d is None else d for d in tensor.shape[1:])]
        if "int" in str(tensor.dtype):  # token ids (the tagger's words and characters)
            arrays[name] = rng.integers(1, 4, shape).astype(np.int32)
        elif model.rnnzoo_builder.startswith(PIXELS):
            arrays[name] = rng.uniform(0.0, 255.0, shape).astype(np.float32)
        else:
            arrays[name] = rng.normal(0.0, 0.3, shape).astype(np.float32)
    return arrays if len(arrays) > 1 else next(iter(arrays.values()))


def _examples(batch, keep_batch_axis: bool) -> list:
    """A batch of inputs (an array, or a dict of arrays) as single examples: with a batch axis
    of 1 (calibration samples) or without (dataset examples)."""
    count = len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)
    pick = (lambda v, i: v[i:i + 1]) if keep_batch_axis else (lambda v, i: v[i])
    if isinstance(batch, dict):
        return [{k: pick(v, i) for k, v in batch.items()} for i in range(count)]
    return [pick(batch, i) for i in range(count)]


def _mean_output(model_fn, dataset) -> dict:
    """A task-free metric: the mean of every output over the dataset."""
    first = dataset[0][0]
    if isinstance(first, dict):
        inputs = {k: np.stack([x[k] for x, _ in dataset]) for k in first}
    else:
        inputs = np.stack([x for x, _ in dataset])
    outputs = model_fn(inputs)
    values = outputs.values() if isinstance(outputs, dict) else [outputs]
    return {"mean_output": float(np.mean([np.mean(v) for v in values]))}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "config"), CASES)
def test_builder_exports_with_the_default_options(name, config, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = zoo.build(name, **config)
    rng = np.random.default_rng(0)
    calibration = _inputs(model, 8, CALIBRATION_LENGTH, rng)
    examples = _inputs(model, 4, OPEN_LENGTH, rng)
    report = export.export_model(
        model, tmp_path / "export", quantize=["fp32", "int8"],
        representative=_examples(calibration, True),
        dataset=[(x, np.zeros(1, np.float32)) for x in _examples(examples, False)],
        metric=_mean_output, name=name, latency=False)

    entries = {(e["format"], e["kind"], e["quantize"]): e for e in report["artifacts"]}
    expected = {("savedmodel", "sequence", "fp32"), ("tflite", "sequence", "fp32")}
    has_step = ("savedmodel", "step", "fp32") in entries
    if getattr(model, "rnnzoo_parts", None):  # an encoder and a decoder step
        expected = {("savedmodel", "sequence", "fp32")} | {
            ("tflite", kind, q) for kind in ("encoder", "decoder", "parts")
            for q in ("fp32", "int8")}
    elif has_step:
        expected |= {("tflite", "step", "fp32"), ("tflite", "step", "int8"),
                     ("tflite", "sequence", "int8")}
    elif model.inputs[0].shape[1] is not None:  # no step form: int8 is unrolled at the length
        expected.add(("tflite", "sequence", "int8"))
    assert expected <= set(entries), (sorted(entries), report["notes"])
    for key, entry in entries.items():
        if key[1] in ("encoder", "decoder"):  # scored as a pair, in the "parts" entry
            assert (tmp_path / "export" / entry["path"]).exists()
            continue
        assert entry["metric"] is not None, (key, entry["notes"])
        assert np.isfinite(entry["max_abs_diff"]), key
        for path in entry["path"].split("+"):  # a "parts" entry names the pair of files
            assert (tmp_path / "export" / path).exists()
        if key[2] == "fp32":
            assert entry["max_abs_diff"] <= FLOAT_TOLERANCE, (key, entry["max_abs_diff"])


def _speech_latency_report(tmp_path):
    model = zoo.build("speech-crnn", **TINY["speech-crnn"][0])
    examples = _inputs(model, 2, OPEN_LENGTH, np.random.default_rng(1))
    return export.verify([], model, [(x, np.zeros(1, np.float32)) for x in examples],
                         _mean_output, base=tmp_path)


@pytest.mark.slow
def test_keras_latency_is_measured_for_a_model_of_another_familys_layers(tmp_path):
    """The latency child loads the model with its builder's module imported (the speech
    front-end layers live outside zoo.layers)."""
    report = _speech_latency_report(tmp_path)
    assert report["keras"]["latency_ms"] > 0, report["notes"]
    assert not [n for n in report["notes"] if "latency" in n]


@pytest.mark.slow
def test_a_latency_that_cannot_be_measured_is_noted(tmp_path, monkeypatch):
    verify_module = importlib.import_module("export.verification")
    monkeypatch.setattr(verify_module, "layer_modules", lambda model: ["zoo.layers"])
    report = _speech_latency_report(tmp_path)
    assert "latency_ms" not in report["keras"]
    assert any(n.startswith("Keras latency not measured:") for n in report["notes"])
