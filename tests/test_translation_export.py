"""Translation export and benchmark: the encoder and decoder-step TFLite pair (float32, int8)
of a trained toy model; a greedy decode loop over the float32 files gives the Keras model's
output token for token; the int8 pair stays close in BLEU; ``rnnzoo bench translation``'s
figures and table."""

from __future__ import annotations

import numpy as np

import zoo
from rnnzoo.bench import translation as bench
from tests.translation_toy import trained_toy


def test_tflite_pair_decodes_like_keras_and_int8_stays_close(tmp_path):
    model, words, validation, calibration = trained_toy()
    zoo.save(model, tmp_path / "toy", card={"task": "translation"})
    preset = zoo.load(tmp_path / "toy")
    rows = bench.bench_preset(preset, validation, calibration, beam=2)
    keras_row, fp32, int8 = rows["keras"], rows["tflite.fp32"], rows["tflite.int8"]
    assert rows["sentences"] == 40 and "tok:13a" in rows["bleu_signature"]
    assert keras_row["bleu"] > 50
    # the float32 pair's greedy loop gives Keras's output on every sentence (no tolerance:
    # the same tokens), hence the same BLEU
    assert fp32["greedy_agreement"] == 1.0
    assert np.isclose(fp32["bleu"], keras_row["bleu"])
    # int8 tolerance on 40 toy sentences: within 5 BLEU of Keras
    assert abs(int8["bleu"] - keras_row["bleu"]) <= 5.0, rows
    assert int8["bytes"]["decoder"] < fp32["bytes"]["decoder"]
    assert all(r["latency_ms_per_sentence"] > 0 for r in (fp32, int8))
    text = bench.table({"translate-en-de-multi30k": rows,
                        "translate-en-fr-tatoeba": {"skipped": "not shipped"}})
    assert "tflite.int8" in text and "translate-en-fr-tatoeba: skipped (not shipped)" in text


def test_training_throughput_counts_target_tokens():
    model, _, validation, _ = trained_toy()
    small = {**model.rnnzoo_config, "embedding_dim": 8, "encoder_units": 4, "decoder_units": 8}
    figures = bench.training_throughput("translation-attention", small, validation[:8],
                                        steps=1, batch=4)
    tokens = sum(int(np.count_nonzero(y)) for _, y in validation[:8])
    # the timed step sees 4 of the examples (the data repeats to fill the steps)
    assert figures["steps"] == 1 and 0 < figures["target_tokens_per_second"] * figures[
        "seconds"] <= tokens


def test_a_preset_that_cannot_load_is_a_skipped_row_with_its_reason(monkeypatch):
    monkeypatch.setattr(bench, "PRESETS", ("no-such-preset",))
    result = bench.run(quick=True)
    reason = result["no-such-preset"]["skipped"]
    assert reason.startswith("UnknownNameError: ") and "no-such-preset" in reason
    assert len(reason) <= 300
    assert f"no-such-preset: skipped ({reason})" in bench.table(result)
