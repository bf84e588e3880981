"""``rnnzoo bench text-textgen``: registered, and its table reports what the figures say."""

from __future__ import annotations

from rnnzoo.bench import BENCHMARKS, get_benchmark


def _result(keras_nats: float) -> dict:
    return {
        "source": "preset textgen-shakespeare",
        "validation": {
            "characters": 111_360, "subset": None, "target_nats_per_char": 1.5,
            "meets_target": keras_nats <= 1.5, "int8_minus_float32": 0.012,
            "figures": {"keras": {"nats_per_char": keras_nats, "bits_per_char": 2.1},
                        "step.fp32": {"nats_per_char": keras_nats, "bits_per_char": 2.1,
                                      "bytes": 4_800_000, "latency_ms_per_step": 0.2},
                        "step.int8": {"nats_per_char": keras_nats + 0.012,
                                      "bits_per_char": 2.12, "bytes": 1_300_000,
                                      "latency_ms_per_step": 0.1}}},
        "generation": {"prompt": "ROMEO:", "characters": 1000, "seed": 0, "threads": 1,
                       "float32_tflite_text_equals_keras": True,
                       "figures": {"keras": {"characters_per_second": 900.0, "text": "x"},
                                   "step.fp32": {"characters_per_second": 4000.0,
                                                 "text": "\nThe king"},
                                   "step.int8": {"error": "boom"}}},
        "training": {"builder": "textgen-char-lstm", "units": [300, 300], "parameters": 1,
                     "batch": 64, "length": 128, "steps_per_second": 2.0,
                     "characters_per_second": 16384.0},
    }


def test_registered_and_table_states_the_target():
    assert BENCHMARKS["text-textgen"][0] == "rnnzoo.bench.text_textgen"
    bench = get_benchmark("text-textgen")
    good = bench.table(_result(1.47))
    assert "1.4700 nats/char meets the target <= 1.50" in good
    assert "int8 - float32: +0.0120" in good
    assert "failed: boom" in good and "ROMEO:\nThe king" in good
    assert "16,384 characters/s" in good
    assert "MISSES the target" in bench.table(_result(1.53))


def test_validation_exports_with_the_preset_card_export_defaults(tmp_path, monkeypatch):
    """The benchmark's int8 file is the one `rnnzoo export` makes: the card's
    ``export_defaults`` (textgen-shakespeare: LSTM cell states in float) reach the export."""
    from types import SimpleNamespace

    import keras

    import export
    import zoo
    from rnnzoo.bench import text_textgen

    text = tmp_path / "input.txt"
    text.write_text("to be or not to be, that is the question.\n" * 40, encoding="utf-8")
    from tasks.textgen.data import training_vocabulary

    chars = list(training_vocabulary(text).tokens)
    keras.utils.set_random_seed(0)
    model = zoo.build("textgen-char-lstm", characters=chars, units=[8], embedding=4,
                      dropout=0.0)
    card = {"data_options": {"length": 16, "characters": chars},
            "export_defaults": {"float_cell_state": True, "why": "a test"}}
    preset = SimpleNamespace(model=model, card=card, assets=None, name="tiny-textgen")
    calls = []
    monkeypatch.setattr(export, "export_model",
                        lambda *args, **kwargs: calls.append(kwargs) or {"artifacts": []})
    scores, _ = text_textgen.validation(preset, text, True, tmp_path)
    assert calls[0]["float_cell_state"] is True and "per_channel" not in calls[0]
    assert scores["export_options"] == {"float_cell_state": True}
    result = _result(1.47)
    result["validation"]["export_options"] = scores["export_options"]
    table = text_textgen.table(result)
    assert "int8 export options from the preset card: float_cell_state" in table
    assert "export options" not in text_textgen.table(_result(1.47))
