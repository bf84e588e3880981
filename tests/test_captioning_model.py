"""The captioning model (zoo/captioning.py): its encoder and decoder-step parts give the
whole model's output, and it exports as two TFLite files that a decode loop runs."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
from export.parts import PartsRunner, parts_of, valid_steps
from zoo.captioning import SPECIAL_TOKENS, caption_parts

VOCABULARY = [*SPECIAL_TOKENS, "a", "red", "circle", "left", "of", "blue", "square"]
TINY = {"vocabulary": VOCABULARY, "image_size": 16, "encoder_filters": [4, 8], "units": 8,
        "attention_units": 6, "embedding_dim": 5}
FLOAT_TOLERANCE = 1e-5  # Keras parts against the whole Keras model


def _tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return zoo.build("captioning-attention", **TINY)


def _inputs(count: int = 3, length: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(4, len(VOCABULARY), (count, length)).astype(np.int32)
    tokens[:, 0] = 1  # <start>
    tokens[1, 3:] = 0  # a shorter caption, padded
    return {"image": rng.uniform(0, 255, (count, 20, 24, 3)).astype(np.float32),
            "tokens": tokens}


def test_the_parts_step_by_step_give_the_whole_models_output_padding_included():
    model = _tiny_model()
    inputs = _inputs()
    whole = model.predict_on_batch(inputs)
    stepped = PartsRunner.from_parts(parts_of(model))(inputs)
    assert stepped.shape == whole.shape == (3, 6, len(VOCABULARY))
    valid = valid_steps(inputs["tokens"])
    assert not valid.all()
    assert np.max(np.abs(stepped[valid] - whole[valid])) < FLOAT_TOLERANCE


def test_the_runner_continues_a_growing_prefix_without_recomputing():
    model = _tiny_model()
    parts = parts_of(model)
    calls = {"encoder": 0}
    runner = PartsRunner.from_parts(parts)
    encode = runner.encoder_fn

    def counting(feed):
        calls["encoder"] += 1
        return encode(feed)

    runner.encoder_fn = counting
    inputs = _inputs(count=2)
    for t in range(1, 7):
        out = runner({"image": inputs["image"], "tokens": inputs["tokens"][:, :t]})
    assert calls["encoder"] == 1
    valid = valid_steps(inputs["tokens"])
    assert np.max(np.abs(out - model.predict_on_batch(inputs))[valid]) < FLOAT_TOLERANCE


def test_decoder_attention_weights_sum_to_one_over_the_grid():
    model = _tiny_model()
    parts = caption_parts(model)
    encoded = parts["encoder"].predict_on_batch(_inputs()["image"])
    out = parts["decoder"].predict_on_batch({"token": np.ones((3, 1), np.int32), **encoded})
    assert out["attention"].shape == (3, 16)  # a 4 x 4 grid: 16 px, two pooling blocks
    np.testing.assert_allclose(out["attention"].sum(axis=-1), 1.0, atol=1e-5)


def test_a_model_without_the_captioning_layers_is_refused():
    model = zoo.build("adding-gru", length=5, units=3)
    with pytest.raises(ValueError, match="not a captioning-attention model"):
        caption_parts(model)


def test_bad_vocabularies_are_refused():
    with pytest.raises(ValueError, match="starts with"):
        zoo.build("captioning-attention", **{**TINY, "vocabulary": ["a", "b"]})
    with pytest.raises(ValueError, match="repeated"):
        zoo.build("captioning-attention", **{**TINY, "vocabulary": [*VOCABULARY, "a"]})


def test_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    model = _tiny_model()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    inputs = _inputs()
    np.testing.assert_allclose(loaded.predict_on_batch(inputs), model.predict_on_batch(inputs),
                               atol=1e-6)


def _mean_probability_of_targets(model_fn, dataset) -> dict:
    """A task-free metric: mean probability the model gives the next token."""
    items = list(dataset)
    batch = {k: np.stack([x[k] for x, _ in items]) for k in items[0][0]}
    targets = np.stack([y for _, y in items])
    probabilities = model_fn(batch)
    picked = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
    return {"p_next": float(picked[:, :3].mean())}


@pytest.mark.slow
def test_the_parts_export_as_an_encoder_and_a_decoder_step(tmp_path):
    import export

    model = _tiny_model()
    inputs = _inputs(count=6, seed=1)
    targets = np.roll(inputs["tokens"], -1, axis=1)
    dataset = [({k: v[i] for k, v in inputs.items()}, targets[i]) for i in range(6)]
    calibration = [{k: v[i:i + 1] for k, v in _inputs(count=8, seed=2).items()}
                   for i in range(8)]
    report = export.export_model(model, tmp_path / "out", quantize=["fp32", "int8"],
                                 representative=calibration, dataset=dataset,
                                 metric=_mean_probability_of_targets, latency=True)
    entries = {(e["format"], e["kind"], e["quantize"]): e for e in report["artifacts"]}
    expected = {("tflite", kind, q) for kind in ("encoder", "decoder", "parts")
                for q in ("fp32", "int8")} | {("savedmodel", "sequence", "fp32")}
    assert expected == set(entries), sorted(entries)
    for kind in ("encoder", "decoder"):
        for q in ("fp32", "int8"):
            assert (tmp_path / "out" / f"{kind}.{q}.tflite").is_file()
            assert entries[("tflite", kind, q)]["latency_ms"] > 0
    assert entries[("tflite", "parts", "fp32")]["max_abs_diff"] <= 1e-4
    assert entries[("savedmodel", "sequence", "fp32")]["max_abs_diff"] <= 1e-4
    int8 = entries[("tflite", "parts", "int8")]
    assert int8["metric"] is not None and int8["max_abs_diff"] < 0.1, int8
    # the per-image contrast normalization stays float in the int8 encoder (its mean and
    # reciprocal square root at 8 bits cost the shapes preset 11 BLEU-4 points)
    assert {"MEAN", "RSQRT"} <= set(entries[("tflite", "encoder", "int8")]["ops"]["float"])


def test_calling_the_model_without_a_training_flag_is_inference():
    """Export traces call model(x): the batch norms must use their moving statistics (the
    defect of keras.layers.Resizing in front of them)."""
    model = _tiny_model()
    inputs = _inputs()
    before = [w.copy() for w in model.get_layer("norm_0").get_weights()]
    called = np.asarray(model(inputs))
    valid = valid_steps(inputs["tokens"])
    assert np.max(np.abs(called - model.predict_on_batch(inputs))[valid]) < FLOAT_TOLERANCE
    for old, new in zip(before, model.get_layer("norm_0").get_weights()):
        np.testing.assert_array_equal(old, new)
