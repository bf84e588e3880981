"""zoo.crf: the CRF's log-likelihood and Viterbi path against brute-force enumeration."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from zoo.crf import CRF, FORBIDDEN, iob_constraints

TAGS = ["O", "B-PER", "I-PER"]


def _crf(k, allowed=None, allowed_start=None, seed=0):
    layer = CRF(k, allowed=allowed, allowed_start=allowed_start)
    layer.build()
    rng = np.random.default_rng(seed)
    layer.transitions.assign(rng.normal(size=(k, k)).astype("float32"))
    layer.start.assign(rng.normal(size=k).astype("float32"))
    layer.end.assign(rng.normal(size=k).astype("float32"))
    return layer


def _score(layer, emissions, path):
    trans = np.asarray(layer.transitions) + np.where(np.array(layer.allowed), 0, FORBIDDEN)
    start = np.asarray(layer.start) + np.where(np.array(layer.allowed_start), 0, FORBIDDEN)
    s = start[path[0]] + emissions[0, path[0]] + np.asarray(layer.end)[path[-1]]
    for t in range(1, len(path)):
        s += trans[path[t - 1], path[t]] + emissions[t, path[t]]
    return s


def _brute(layer, emissions, length):
    k = layer.num_tags
    paths = list(itertools.product(range(k), repeat=length))
    scores = np.array([_score(layer, emissions, p) for p in paths], dtype=np.float64)
    log_z = np.log(np.sum(np.exp(scores - scores.max()))) + scores.max()
    return paths, scores, log_z


@pytest.mark.parametrize("constrained", [False, True])
def test_log_likelihood_and_viterbi_match_brute_force(constrained):
    k, steps, lengths = 3, 5, [5, 3, 1]
    allowed, allowed_start = iob_constraints(TAGS) if constrained else (None, None)
    layer = _crf(k, allowed, allowed_start, seed=1)
    rng = np.random.default_rng(2)
    emissions = rng.normal(size=(len(lengths), steps, k)).astype("float32")
    mask = np.array([[t < n for t in range(steps)] for n in lengths])
    tags = rng.integers(0, k, size=(len(lengths), steps))
    if constrained:  # gold paths that obey IOB: no I-PER after O or at the start
        tags = np.where(tags == 2, 1, tags)
    tags = tags * mask
    log_likelihood = np.asarray(layer.log_likelihood(emissions, tags, mask))
    decoded = np.asarray(layer([emissions, mask]))
    for b, n in enumerate(lengths):
        paths, scores, log_z = _brute(layer, emissions[b, :n], n)
        expected = _score(layer, emissions[b, :n], tuple(tags[b, :n])) - log_z
        assert log_likelihood[b] == pytest.approx(expected, abs=1e-4)
        best = paths[int(np.argmax(scores))]
        assert tuple(decoded[b, :n]) == best
        assert not decoded[b, n:].any()  # padding decodes to 0


def test_constraints_hold_whatever_the_emissions():
    allowed, allowed_start = iob_constraints(TAGS)
    assert allowed[0][2] is False and allowed[1][2] and allowed[2][2] and not allowed_start[2]
    layer = _crf(3, allowed, allowed_start, seed=3)
    emissions = np.zeros((1, 4, 3), "float32")
    emissions[0, :, 2] = 50.0  # I-PER everywhere is what the emissions want most,
    emissions[0, :, 1] = 10.0  # then B-PER
    emissions[0, 2, 0] = 200.0  # and an O in the middle
    path = np.asarray(layer([emissions, np.ones((1, 4))]))[0].tolist()
    assert path == [1, 2, 0, 1]  # B before I, and after the O a new B


def test_probabilities_sum_to_one_and_serialize():
    layer = _crf(3, *iob_constraints(TAGS), seed=4)
    emissions = np.random.default_rng(5).normal(size=(1, 3, 3)).astype("float32")
    total = sum(np.exp(float(layer.log_likelihood(emissions, np.array([p]))[0]))
                for p in itertools.product(range(3), repeat=3))
    assert total == pytest.approx(1.0, abs=1e-4)
    copy = CRF.from_config(layer.get_config())
    assert copy.allowed == layer.allowed and copy.allowed_start == layer.allowed_start
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer),
                                                     safe_mode=True)
    assert isinstance(restored, CRF) and restored.num_tags == 3
