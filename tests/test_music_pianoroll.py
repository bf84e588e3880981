"""music-jsb: piano-roll data, the frame-level NLL and accuracy, the piano-roll builders."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

import tasks
import zoo
from tasks.music.pianoroll import (
    frame_metrics,
    load_jsb,
    padded_examples,
    read_chorales,
    shifted,
    to_pianoroll,
)
from zoo.errors import RnnzooError

CHORALES = {
    "train": [[[60, 64, 67], [62], []], [[21, 108], [60]], [[48, 52], [50, 53], [52, 55], [53]]],
    "valid": [[[60], [62], [64]]],
    "test": [[[72, 76]], [[60], [], [64, 67]]],
}


@pytest.fixture
def jsb_dir(tmp_path):
    (tmp_path / "jsb-chorales-quarter.json").write_text(json.dumps(CHORALES))
    return tmp_path


def test_frames_become_88_key_rolls():
    roll = to_pianoroll([[21, 60], [], [108]])
    assert roll.shape == (3, 88) and roll.dtype == np.float32
    assert roll[0, 0] == roll[0, 39] == roll[2, 87] == 1 and roll.sum() == 3
    assert not roll[1].any()


@pytest.mark.parametrize("pitch", [20, 109, "C4"])
def test_pitches_off_the_keyboard_are_refused_with_their_place(pitch):
    with pytest.raises(RnnzooError, match=r"x.json: train\[0\]: frame 1 has pitch"):
        to_pianoroll([[60], [pitch]], "x.json: train[0]")


def test_input_is_the_previous_frame_and_zeros_first():
    roll = to_pianoroll([[60], [62], [64]])
    previous = shifted(roll)
    assert not previous[0].any()
    np.testing.assert_array_equal(previous[1:], roll[:-1])


def test_padding_is_weighted_out():
    rolls = [to_pianoroll(c) for c in CHORALES["train"]]
    inputs, targets, weights = padded_examples(rolls)
    assert inputs.shape == targets.shape == (3, 4, 88) and weights.shape == (3, 4)
    np.testing.assert_array_equal(weights.sum(axis=1), [3, 2, 4])
    assert not targets[1, 2:].any() and not inputs[:, 0].any()


def test_load_reads_each_split_of_the_json(jsb_dir):
    test = list(load_jsb(jsb_dir, "test").as_numpy_iterator())
    assert len(test) == 2 and test[0][0].shape == (3, 88)
    validation = list(load_jsb(jsb_dir / "jsb-chorales-quarter.json", "validation"))
    assert len(validation) == 1
    assert len(list(load_jsb(jsb_dir, "train", limit=2))) == 2


def test_bad_files_and_splits_are_named(jsb_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        read_chorales(jsb_dir, "dev")
    with pytest.raises(FileNotFoundError, match="jsb-chorales-8th.json"):
        read_chorales(jsb_dir, "train", resolution="8th")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RnnzooError, match="broken.json: not a JSB chorales json"):
        read_chorales(broken, "train")
    broken.write_text(json.dumps({"train": []}))
    with pytest.raises(RnnzooError, match="broken.json: expected .* 'test'"):
        read_chorales(broken, "test")


def test_nll_of_even_odds_is_88_log_2_per_step():
    targets = np.random.default_rng(0).integers(0, 2, (2, 5, 88)).astype(np.float32)
    figures = frame_metrics(np.zeros_like(targets), targets)
    assert figures["nll"] == pytest.approx(88 * math.log(2))
    assert figures["steps"] == 10


def test_nll_sums_keys_and_averages_weighted_steps_only():
    logits = np.full((1, 3, 88), -2.0)
    targets = np.zeros((1, 3, 88))
    targets[0, 0, :4] = 1
    weights = np.array([[1.0, 1.0, 0.0]])
    expected = (4 * math.log1p(math.exp(2.0)) + 84 * math.log1p(math.exp(-2.0))
                + 88 * math.log1p(math.exp(-2.0))) / 2
    padded = logits.copy()
    padded[0, 2] = 50.0  # garbage on the padded step changes nothing
    for values in (logits, padded):
        assert frame_metrics(values, targets, weights)["nll"] == pytest.approx(expected)


def test_frame_accuracy_is_tp_over_tp_fp_fn():
    targets = np.zeros((1, 2, 88))
    targets[0, 0, [0, 1, 2]] = 1
    targets[0, 1, [5]] = 1
    logits = np.full((1, 2, 88), -5.0)
    logits[0, 0, [0, 1, 3]] = 5.0  # 2 TP, 1 FP, 1 FN
    logits[0, 1, [5, 6]] = 5.0  # 1 TP, 1 FP
    assert frame_metrics(logits, targets)["frame_accuracy"] == pytest.approx(3 / 6)
    perfect = np.where(targets > 0, 30.0, -30.0)
    figures = frame_metrics(perfect, targets)
    assert figures["frame_accuracy"] == 1.0 and figures["nll"] < 1e-9


def test_builders_are_causal_and_sized():
    keras.utils.set_random_seed(0)
    model = zoo.build("music-pianoroll-gru", units=20)
    assert model.count_params() == 3 * (88 * 20 + 20 * 20 + 2 * 20) + 20 * 88 + 88
    x = np.random.default_rng(1).integers(0, 2, (2, 6, 88)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] = 1 - changed[:, 4:]
    before, after = model.predict_on_batch(x), model.predict_on_batch(changed)
    assert before.shape == (2, 6, 88)
    np.testing.assert_allclose(before[:, :4], after[:, :4], atol=1e-6)
    assert not np.allclose(before[:, 4:], after[:, 4:])
    for kind in ("lstm", "simple"):
        stacked = zoo.build(f"music-pianoroll-{kind}", units=[8, 6], dropout=0.1)
        assert stacked(x).shape == (2, 6, 88)


def test_short_training_learns_a_repeated_chorale(jsb_dir):
    """A tiny GRU fit on three short chorales gets far below even odds (61 nats per step)."""
    keras.utils.set_random_seed(0)
    task = tasks.get_task("music-jsb")
    data = load_jsb(jsb_dir, "train")
    model = zoo.build("music-pianoroll-gru", units=16)
    model.compile(keras.optimizers.Adam(3e-2), loss=task.loss)
    model.fit(data.repeat(20).batch(3), epochs=3, verbose=0, shuffle=False)
    figures = task.metric(model.predict_on_batch, data)
    assert figures["nll"] < 6.0, figures  # seen: 3.0


@pytest.mark.data
def test_real_jsb_quarter_split_has_the_published_sizes(shared_data):
    task = tasks.get_task("music-jsb")
    data = task.load(shared_data / "jsb_chorales", "test")
    figures = task.metric(lambda x: np.full(x.shape, -3.0, np.float32), data)
    assert figures["steps"] == 4725
    sizes = {
        s: len(read_chorales(shared_data / "jsb_chorales", s))
        for s in ("train", "validation", "test")
    }
    assert sizes == {"train": 229, "validation": 76, "test": 77}


def test_transposition_adds_shifted_copies_that_stay_on_the_keyboard():
    from tasks.music.pianoroll import transposed

    roll = to_pianoroll([[60, 64], [67]])
    copies = transposed([roll], 2)
    assert len(copies) == 5
    pitches = sorted(tuple(np.flatnonzero(c[0]) + 21) for c in copies)
    assert pitches == [(58, 62), (59, 63), (60, 64), (61, 65), (62, 66)]
    # a chorale touching both ends of the keyboard cannot move: only the original is kept
    edge = to_pianoroll([[21, 108]])
    assert len(transposed([edge], 3)) == 1 and np.array_equal(transposed([edge], 3)[0], edge)
    with pytest.raises(ValueError, match="semitones"):
        transposed([roll], -1)


def test_transposition_augments_training_only(jsb_dir):
    train = list(load_jsb(jsb_dir, "train", transpose=1))
    # chorales 0 and 2 move both ways; chorale 1 spans the whole keyboard and stays alone
    assert len(train) == 3 + 3 + 1
    assert len(list(load_jsb(jsb_dir, "test", transpose=1))) == 2
    assert len(list(load_jsb(jsb_dir, "validation", transpose=1))) == 1
