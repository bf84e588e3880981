"""The translation model (zoo.translation): shapes, masked attention, tied embeddings, the
encoder/decoder parts against the whole model, saving, and a trained toy model beating an
untrained one on BLEU."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from export.parts import PartsRunner, parts_of
from tasks.common.decoding import greedy_prefix
from tasks.common.subwords import END_ID, START_ID
from tasks.translation.bleu import translate, translation_metric
from tests.translation_toy import trained_toy

SMALL = {"vocabulary_size": 40, "max_source_length": 7, "embedding_dim": 8,
         "encoder_units": 6, "decoder_units": 10, "attention_units": 5}
SOURCE = np.array([[5, 6, 7, 0, 0, 0, 0], [8, 9, 10, 11, 12, 13, 14]], np.int32)
TOKENS = np.array([[1, 20, 21, 22], [1, 30, 31, 0]], np.int32)


@pytest.mark.parametrize("kind,attention", [("gru", "luong"), ("lstm", "bahdanau")])
def test_parts_give_the_whole_models_output(kind, attention):
    model = zoo.build("translation-attention", kind=kind, attention=attention, **SMALL)
    whole = model.predict_on_batch({"source": SOURCE, "tokens": TOKENS})
    assert whole.shape == (2, 4, 40)
    np.testing.assert_allclose(whole.sum(-1), 1.0, atol=1e-5)
    parts = parts_of(model)
    states = ["state_c_0", "state_h_0"] if kind == "lstm" else ["state_h_0"]
    assert sorted(parts.states) == states
    assert sorted(parts.context) == ["keys", "memory", "source_mask"]
    stepped = PartsRunner.from_parts(parts)({"source": SOURCE, "tokens": TOKENS})
    np.testing.assert_allclose(stepped[0], whole[0], atol=1e-5)
    np.testing.assert_allclose(stepped[1, :3], whole[1, :3], atol=1e-5)  # step 4 is padding
    encoded = parts.encoder.predict_on_batch(SOURCE)
    np.testing.assert_array_equal(encoded["source_mask"], SOURCE != 0)


def test_attention_ignores_padded_source_positions():
    short = zoo.build("translation-attention", **SMALL)
    longer = zoo.build("translation-attention", **{**SMALL, "max_source_length": 11})
    longer.set_weights(short.get_weights())  # no weight depends on the source length
    padded = np.pad(SOURCE, ((0, 0), (0, 4)))
    a = short.predict_on_batch({"source": SOURCE, "tokens": TOKENS})
    b = longer.predict_on_batch({"source": padded, "tokens": TOKENS})
    np.testing.assert_allclose(a, b, atol=1e-5)
    runner = PartsRunner.from_parts(parts_of(longer))
    outputs, _ = runner.step(np.array([START_ID, START_ID]), runner.encode({"source": padded}))
    assert np.all(outputs["attention"][0, 3:] == 0) and np.all(outputs["attention"][1, 7:] == 0)
    np.testing.assert_allclose(outputs["attention"].sum(-1), 1.0, atol=1e-5)


def test_tied_embedding_and_safe_loading(tmp_path):
    model = zoo.build("translation-attention", **SMALL)
    tables = [w for w in model.weights if w.path.startswith("embedding/")]
    assert sorted(tuple(w.shape) for w in tables) == [(40,), (40, 8)]  # one table, one output bias
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    feed = {"source": SOURCE, "tokens": TOKENS}
    np.testing.assert_allclose(again.predict_on_batch(feed), model.predict_on_batch(feed),
                               atol=1e-6)
    with pytest.raises(ValueError, match="attention must be one of luong, bahdanau"):
        zoo.build("translation-attention", attention="dot")


def test_trained_toy_model_beats_an_untrained_one_on_bleu():
    model, words, validation, _ = trained_toy()
    untrained = zoo.build("translation-attention", **model.rnnzoo_config)
    before = translation_metric(untrained.predict_on_batch, validation, subwords=words)
    after = translation_metric(model.predict_on_batch, validation, subwords=words)
    assert after["sentences"] == 40 and "tok:13a" in after["bleu_signature"]
    # margin: a word-for-word mapping is learned well above an untrained model's ~0 BLEU
    assert after["bleu"] > 50 and after["bleu"] > before["bleu"] + 40, (before, after)

    # greedy through the whole model and through its Keras parts agree; beam search runs
    sources = np.stack([x["source"] for x, _ in validation[:8]])
    whole = translate(model.predict_on_batch, sources, max_length=16)
    runner = PartsRunner.from_parts(parts_of(model))
    assert greedy_prefix(runner, {"source": sources}, start=START_ID, end=END_ID,
                         max_length=16) == whole
    beamed = translate(model.predict_on_batch, sources, max_length=16, beam=3, alpha=0.0)
    assert len(beamed) == 8 and all(beamed)
