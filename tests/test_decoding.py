"""Greedy and beam-search decoding (tasks/common/decoding.py) against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tasks.common.decoding import beam_search, greedy, length_penalty

START, END, VOCAB = 0, 1, 4


def _markov_step(table: np.ndarray):
    """A step function whose next-token distribution depends on the last token only."""

    def step(tokens, state):
        return table[tokens], {"count": state["count"] + 1}

    return step


def _table(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(VOCAB, 0.5), size=VOCAB)
    return table


def _all_scores(step, state, max_length: int, alpha: float) -> dict[tuple, float]:
    """Every finished output (ended by END, or cut at max_length) with its score, by running
    ``step`` along every token sequence from ``state``."""
    scores = {}
    for length in range(1, max_length + 1):
        for seq in itertools.product(range(VOCAB), repeat=length):
            if END in seq[:-1] or (seq[-1] != END and length < max_length):
                continue
            log_p, last, current = 0.0, START, state
            for token in seq:
                probabilities, current = step(np.array([last]), current)
                log_p += np.log(probabilities[0, token])
                last = token
            kept = seq[:-1] if seq[-1] == END else seq
            scores[kept] = log_p / length_penalty(len(kept) + 1, alpha)
    return scores


def _parity_step(tokens, state):
    """Next-token probabilities that depend on how many 2s came before (kept in the state)."""
    count = state["twos"][:, 0]
    probabilities = np.empty((len(tokens), VOCAB))
    probabilities[:, END] = 0.05 + 0.3 * (count >= 2)
    probabilities[:, START] = 0.05
    probabilities[:, 2] = np.where(count % 2 == 0, 0.5, 0.2)
    probabilities[:, 3] = 1 - probabilities[:, :3].sum(axis=1)
    return probabilities, {"twos": state["twos"] + (tokens[:, None] == 2)}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_a_wide_beam_finds_the_best_output_by_brute_force(seed, alpha):
    step, state, max_length = _markov_step(_table(seed)), {"count": np.zeros(1)}, 4
    if seed == 5:  # a step function with state: beams must carry their own
        step, state = _parity_step, {"twos": np.zeros((1, 1))}
    scores = _all_scores(step, state, max_length, alpha)
    best = max(scores, key=scores.get)
    found = beam_search(step, state, start=START, end=END,
                        max_length=max_length, width=VOCAB ** max_length, alpha=alpha)
    assert tuple(found[0].tokens) == best
    assert found[0].score == pytest.approx(scores[best])


@pytest.mark.parametrize("seed", range(6))
def test_greedy_follows_the_most_probable_token_for_a_whole_batch(seed):
    table = _table(seed)
    expected, last = [], START
    for _ in range(6):
        last = int(table[last].argmax())
        if last == END:
            break
        expected.append(last)
    found = greedy(_markov_step(table), {"count": np.zeros(3)}, start=START, end=END,
                   max_length=6)
    assert found == [expected] * 3


def test_a_narrow_beam_keeps_the_states_of_its_own_prefixes():
    """With a stateful step function, width 3 finds what the brute force finds (the state
    arrays must be reordered with the beams for that)."""
    state = {"twos": np.zeros((1, 1))}
    scores = _all_scores(_parity_step, state, 5, 0.7)
    found = beam_search(_parity_step, state, start=START, end=END, max_length=5, width=3)
    assert scores[tuple(found[0].tokens)] == pytest.approx(found[0].score)
    assert found[0].score >= sorted(scores.values())[-3]


def test_bad_arguments_are_refused():
    step = _markov_step(_table(0))
    with pytest.raises(ValueError, match="max_length"):
        greedy(step, {"count": np.zeros(1)}, start=START, end=END, max_length=0)
    with pytest.raises(ValueError, match="width"):
        beam_search(step, {"count": np.zeros(1)}, start=START, end=END, max_length=3, width=0)
    with pytest.raises(ValueError, match="one example"):
        beam_search(step, {"count": np.zeros(2)}, start=START, end=END, max_length=3)
