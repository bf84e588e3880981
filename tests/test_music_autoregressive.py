"""Autoregressive key models: the output layer, its numpy key loop, the AR builders and data."""

from __future__ import annotations

import argparse
import itertools
import json

import keras
import numpy as np
import pytest

import tasks
import zoo
from tasks.music.keys import METADATA_KIND, KeyModel
from tasks.music.pianoroll import load_jsb, representative_jsb
from tasks.music.sampling import KerasStepper, generate_frames, stepwise_model_fn
from zoo import autoregressive
from zoo.autoregressive import AutoregressiveBernoulli

FORMS = [("triangular", {}), ("nade", {"hidden_units": 3}), ("rnn-nade", {"hidden_units": 3})]
K, H = 4, 3  # keys and hidden features of the tiny layer


def _layer(form: str, options: dict, seed: int = 0) -> AutoregressiveBernoulli:
    """A built layer with large random weights (so the lower keys matter)."""
    keras.utils.set_random_seed(seed)
    layer = AutoregressiveBernoulli(K, form=form, **options)
    layer.build([(None, H), (None, K)])
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(0.0, 1.5, weight.shape).astype(np.float32))
    return layer


def _all_frames(keys: int = K) -> np.ndarray:
    return np.array(list(itertools.product([0.0, 1.0], repeat=keys)), np.float32)


def _log_bernoulli(logits, x):
    return -(x * np.logaddexp(0.0, -logits) + (1 - x) * np.logaddexp(0.0, logits)).sum(-1)


@pytest.mark.parametrize(("form", "options"), FORMS)
def test_probabilities_of_all_frames_sum_to_one_and_match_the_key_loop(form, options):
    layer = _layer(form, options)
    frames = _all_frames()
    keys = KeyModel.from_layer(layer)
    for h in np.random.default_rng(1).normal(0, 1, (3, H)).astype(np.float32):
        hidden = np.repeat(h[None], len(frames), axis=0)
        logits = keras.ops.convert_to_numpy(layer([hidden, frames])).astype(np.float64)
        log_p = _log_bernoulli(logits, frames)
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-6)
        assert np.exp(log_p).max() < 0.9  # not a trivial distribution
        zero = keras.ops.convert_to_numpy(layer([hidden[:1], np.zeros((1, K))]))[0]
        np.testing.assert_allclose(keys.log_prob(zero, frames, h), log_p, atol=1e-5)
        np.testing.assert_allclose(keys.logits(zero, frames, h), logits, atol=1e-5)


@pytest.mark.parametrize(("form", "options"), FORMS)
def test_a_keys_logit_does_not_depend_on_that_key_or_higher_ones(form, options):
    layer = _layer(form, options)
    if form == "triangular":  # the mask acts in every call, whatever the kernel holds
        layer.kernel.assign(np.ones((K, K), np.float32))
    rng = np.random.default_rng(2)
    hidden = rng.normal(0, 1, (8, H)).astype(np.float32)
    frames = rng.integers(0, 2, (8, K)).astype(np.float32)
    before = keras.ops.convert_to_numpy(layer([hidden, frames]))
    for k in range(K):
        changed = frames.copy()
        changed[:, k:] = 1 - changed[:, k:]
        after = keras.ops.convert_to_numpy(layer([hidden, changed]))
        np.testing.assert_array_equal(after[:, :k + 1], before[:, :k + 1])
        if k + 1 < K:
            assert not np.allclose(after[:, k + 1:], before[:, k + 1:])


@pytest.mark.parametrize(("form", "options"), FORMS)
def test_key_by_key_sampling_draws_frames_with_the_model_probabilities(form, options):
    layer = _layer(form, options, seed=3)
    keys = KeyModel.from_layer(layer)
    h = np.random.default_rng(4).normal(0, 1, (1, H)).astype(np.float32)
    zero = keras.ops.convert_to_numpy(layer([h, np.zeros((1, K))]))[0]
    h = h[0]
    frames = _all_frames()
    expected = np.exp(keys.log_prob(zero, frames, h))
    rng = np.random.default_rng(5)
    draws = np.array([keys.sample(zero, rng.random(K), context=h) for _ in range(4000)])
    index = (draws @ (2 ** np.arange(K - 1, -1, -1))).astype(int)  # frame -> row of frames
    observed = np.bincount(index, minlength=len(frames)) / len(draws)
    np.testing.assert_allclose(observed, expected, atol=0.03)
    greedy = np.zeros(K)
    for k in range(K):  # each key on where its logit, given the keys below, is positive
        greedy[k] = keys.logits(zero, greedy, h)[k] > 0
    np.testing.assert_array_equal(keys.greedy(zero, h), greedy)
    for _ in range(20):  # near zero temperature: the greedy frame every time
        np.testing.assert_array_equal(
            keys.sample(zero, rng.random(K), temperature=1e-4, context=h), greedy)


def test_the_conditioned_key_model_reads_the_state_and_needs_it():
    """rnn-nade: the same h-free output with another hidden input gives other key
    interactions; without the hidden input the key loop refuses to guess."""
    layer = _layer("rnn-nade", {"hidden_units": 3}, seed=7)
    keys = KeyModel.from_layer(layer)
    assert keys.conditioned and keys.arrays["U"].shape == (H, 3)
    assert not KeyModel.from_layer(_layer("nade", {"hidden_units": 3})).conditioned
    zero, frame = np.zeros(K), np.array([1.0, 0.0, 1.0, 0.0])
    h1, h2 = np.random.default_rng(8).normal(0, 1, (2, H))
    assert not np.allclose(keys.offsets(frame, h1), keys.offsets(frame, h2))
    with pytest.raises(ValueError, match="needs the hidden input"):
        keys.sample(zero, np.full(K, 0.5))


def test_layer_refuses_bad_settings_and_round_trips_its_parameters():
    with pytest.raises(ValueError, match="unknown form 'made'"):
        AutoregressiveBernoulli(4, form="made")
    with pytest.raises(ValueError, match="hidden_units"):
        AutoregressiveBernoulli(4, form="nade", hidden_units=0)
    layer = _layer("triangular", {})
    entry = json.loads(json.dumps(layer.app_metadata()))
    assert entry["kind"] == METADATA_KIND == autoregressive.METADATA_KIND
    W = KeyModel.from_metadata(entry).arrays["W"]
    assert W.shape == (K, K) and not np.triu(W).any()
    np.testing.assert_array_equal(W, layer.key_parameters()["W"])
    with pytest.raises(ValueError, match="strictly lower triangular"):
        KeyModel("triangular", {"W": np.ones((K, K))})


@pytest.mark.parametrize(("builder", "form"), [("music-pianoroll-gru-ar", "triangular"),
                                               ("music-pianoroll-lstm-ar", "nade"),
                                               ("music-pianoroll-lstm-ar", "rnn-nade")])
def test_ar_builders_save_load_and_step_like_the_sequence_model(builder, form, tmp_path):
    keras.utils.set_random_seed(0)
    model = zoo.build(builder, units=[5, 4], dropout=0.1, form=form, nade_units=3)
    rng = np.random.default_rng(6)
    inputs = {"previous_frame": rng.integers(0, 2, (2, 5, 88)).astype(np.float32),
              "frame": rng.integers(0, 2, (2, 5, 88)).astype(np.float32)}
    expected = model.predict_on_batch(inputs)
    assert expected.shape == (2, 5, 88)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(inputs), expected, atol=1e-6)
    stepper = KerasStepper(loaded)
    assert stepper.keys.form == form
    np.testing.assert_allclose(stepwise_model_fn(stepper)(inputs), expected, atol=1e-5)
    first = generate_frames(stepper, length=6, seed=2, temperature=0.8)
    assert first.shape == (6, 88) and set(np.unique(first)) <= {0.0, 1.0}
    np.testing.assert_array_equal(generate_frames(stepper, length=6, seed=2, temperature=0.8),
                                  first)


def test_music_jsb_options_choose_the_ar_builder_and_feed_it_the_frame():
    task = tasks.get_task("music-jsb")
    parser = argparse.ArgumentParser()
    task.add_options(parser)
    assert task.builder_config(parser.parse_args([])) == (
        "music-pianoroll-gru", {"units": 100, "dropout": 0.0, "input_dropout": 0.0})
    builder, config = task.builder_config(parser.parse_args(
        ["--keys", "nade", "--nade-units", "7", "--kind", "lstm", "--units", "8"]))
    assert builder == "music-pianoroll-lstm-ar"
    assert config == {"units": 8, "dropout": 0.0, "input_dropout": 0.0, "form": "nade",
                      "nade_units": 7}
    assert task.builder_config(parser.parse_args(
        ["--keys", "rnn-nade", "--nade-units", "5", "--kind", "lstm"]))[1]["nade_units"] == 5
    assert task.config_data_options(builder, config) == {"frame_input": True}
    assert task.config_data_options("music-pianoroll-gru", {}) == {}
    with pytest.raises(ValueError, match="--keys triangular needs --kind gru or lstm"):
        task.builder_config(parser.parse_args(["--keys", "triangular", "--kind", "simple"]))


CHORALES = {"train": [[[60, 64, 67], [62, 65], [64, 67, 72]], [[48, 52, 55], [50]]],
            "valid": [[[60], [62]]], "test": [[[60, 64]]]}


def test_frame_input_data_gives_the_frame_as_an_input_too(tmp_path):
    (tmp_path / "jsb-chorales-quarter.json").write_text(json.dumps(CHORALES))
    (inputs, target, weight), _ = list(load_jsb(tmp_path, "train", frame_input=True)
                                       .as_numpy_iterator())
    assert sorted(inputs) == ["frame", "previous_frame"]
    np.testing.assert_array_equal(inputs["frame"], target)
    np.testing.assert_array_equal(inputs["previous_frame"][1:], target[:-1])
    samples = representative_jsb(tmp_path, 5, length=2, frame_input=True)
    assert len(samples) == 2 and samples[0]["frame"].shape == (1, 2, 88)
    np.testing.assert_array_equal(samples[0]["previous_frame"][0, 1], samples[0]["frame"][0, 0])


def test_short_training_of_an_ar_model_learns_the_chords(tmp_path):
    """On chorales made of one repeated chord, the key-by-key model gets far below the
    factorized model's floor: given its lowest note, the rest of the chord is certain."""
    chord_a, chord_b = [60, 64, 67], [62, 65, 69]
    rng = np.random.default_rng(0)
    train = [[chord_a if rng.random() < 0.5 else chord_b for _ in range(12)] for _ in range(16)]
    (tmp_path / "jsb-chorales-quarter.json").write_text(json.dumps(
        {"train": train, "valid": train[:2], "test": train[:2]}))
    task = tasks.get_task("music-jsb")
    figures = {}
    for builder in ("music-pianoroll-gru", "music-pianoroll-gru-ar"):
        keras.utils.set_random_seed(0)
        data = load_jsb(tmp_path, "train", frame_input=builder.endswith("-ar"))
        model = zoo.build(builder, units=8)
        model.compile(keras.optimizers.Adam(3e-2), loss=task.loss)
        model.fit(data.repeat(4).batch(8), epochs=12, verbose=0, shuffle=False)
        figures[builder] = task.metric(model.predict_on_batch, data)["nll"]
    # independent keys cannot go below 6 log 2 = 4.2 nats (each chord half the time)
    assert figures["music-pianoroll-gru"] > 3.5, figures
    assert figures["music-pianoroll-gru-ar"] < 1.5, figures
