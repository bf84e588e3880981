"""``rnnzoo bench music``'s JSB part on a tiny autoregressive preset (no shipped preset needed)."""

from __future__ import annotations

import json

import keras
import pytest

import zoo
from rnnzoo.bench import music
from tasks.music.pianoroll import load_jsb


@pytest.fixture(scope="module")
def tiny_ar(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-music")
    chords = [[48, 60, 64, 67], [43, 59, 62, 67], [45, 57, 60, 64]]
    chorales = [[chords[(i * j) % 3] for j in range(40)] for i in range(1, 8)]
    data = folder / "jsb-chorales-quarter.json"
    data.write_text(json.dumps({"train": chorales, "valid": chorales[:2], "test": chorales[:3]}))
    keras.utils.set_random_seed(0)
    model = zoo.build("music-pianoroll-gru-ar", units=6, form="nade", nade_units=4)
    model.compile(keras.optimizers.Adam(3e-2),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(load_jsb(data, "train", frame_input=True).batch(4), epochs=5, verbose=0,
              shuffle=False)
    preset = zoo.save(model, folder / "tiny-ar", card={
        "task": "music-jsb", "data_options": {"frame_input": True}, "metrics": {}})
    return preset, data, folder


@pytest.mark.slow
def test_jsb_figures_samples_and_speeds_of_an_ar_preset(tiny_ar):
    preset, data, folder = tiny_ar
    result = music.jsb_preset(str(preset), True, folder / "work", target=5.7, tolerance=0.01,
                              data=str(data))
    figures = result["figures"]
    assert {"keras", "tflite_fp32_step", "tflite_int8_step"} <= set(figures)
    assert figures["tflite_fp32_step"]["nll"] == pytest.approx(figures["keras"]["nll"], 1e-4)
    generation = result["generation"]
    assert generation["float32_same_frames"] is True
    assert generation["frames_per_second"]["keras"] > 0, generation.get("keras_speed_problem")
    assert generation["frames_per_second"]["tflite_int8"] > 0
    assert set(generation["statistics"]) == {"keras", "tflite_int8"}
    stats = generation["statistics"]["keras"]
    assert stats["frames"] == 10 * 16 and sum(stats["notes_per_frame"].values()) == \
        pytest.approx(1.0)
    assert 0 <= figures["keras"]["frame_accuracy_greedy"] <= 1
    text = "\n".join(music.jsb_table(result) + music.samples_table(None, [result]))
    assert "tflite_int8_step" in text and "keras" in text and "frames/s" in text


def test_a_missing_ar_preset_is_skipped_with_a_note():
    assert "not benchmarked" in music._missing("music-jsb-nothing-here")
    lines = music.jsb_table({"preset": "x", "skipped": "x: not benchmarked, the preset ..."})
    assert lines == ["music: JSB chorales test: x: not benchmarked, the preset ..."]
