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
