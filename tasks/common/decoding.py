"""Greedy and beam-search decoding over a one-step model (captioning, translation).

A *step function* maps ``(tokens [batch] int, state)`` to ``(probabilities [batch, vocab],
new state)``; ``state`` is a dict of arrays whose first axis is the batch (recurrent states,
and anything constant such as an encoder's memory: beam search reorders them all alike). The
step function can wrap Keras models, TFLite interpreters or anything else, so the same loop
decodes with every exported variant.

Beam search keeps the ``width`` best prefixes by total log-probability; a hypothesis ends at
``end`` or at ``max_length`` tokens and is ranked by its log-probability divided by the
length penalty of Wu et al. 2016 (GNMT), ``((5 + length) / 6) ** alpha``: ``alpha=0`` ranks by
raw log-probability (favouring short outputs), larger values favour longer ones.

`greedy_prefix` and `beam_prefix` decode through a *whole-model* function instead: one that
maps a batch of the model's inputs, with the output so far as its ``sequence_input`` (``<start>``
first), to next-token probabilities ``[batch, steps, vocab]`` (a Keras model's
``predict_on_batch``, or an exported encoder/decoder pair's `export.parts.PartsRunner`, which
continues from the prefix it saw last instead of starting again).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

State = dict[str, np.ndarray]
StepFn = Callable[[np.ndarray, State], tuple[np.ndarray, State]]
_TINY = 1e-12


def _check(max_length: int, width: int = 1) -> None:
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"beam width must be a positive integer, got {width!r}")


def greedy(step: StepFn, state: State, *, start: int, end: int, max_length: int,
           batch: int | None = None) -> list[list[int]]:
    """The most probable next token at every step, for a batch; each output stops before
    ``end`` (not included) or after ``max_length`` tokens."""
    _check(max_length)
    size = batch if batch is not None else len(next(iter(state.values())))
    tokens = np.full(size, start, np.int32)
    outputs: list[list[int]] = [[] for _ in range(size)]
    done = np.zeros(size, bool)
    for _ in range(max_length):
        probabilities, state = step(tokens, state)
        tokens = np.asarray(probabilities).argmax(axis=-1).astype(np.int32)
        for i in np.flatnonzero(~done):
            if tokens[i] == end:
                done[i] = True
            else:
                outputs[i].append(int(tokens[i]))
        if done.all():
            break
    return outputs


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length penalty ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + length) / 6.0) ** alpha


@dataclass
class Hypothesis:
    tokens: list[int]
    log_probability: float
    score: float


def beam_search(step: StepFn, state: State, *, start: int, end: int, max_length: int,
                width: int = 3, alpha: float = 0.7) -> list[Hypothesis]:
    """Beam search from one example's ``state`` (batch axis of 1): the finished hypotheses,
    best first (``tokens`` without ``start`` and ``end``; ``score`` = log-probability over the
    length penalty). ``width=1`` gives the greedy output."""
    _check(max_length, width)
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if any(len(v) != 1 for v in state.values()):
        raise ValueError("beam_search decodes one example: every state array needs a batch "
                         "axis of 1")
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    state = {k: np.asarray(v) for k, v in state.items()}
    finished: list[Hypothesis] = []
    for length in range(1, max_length + 1):
        last = np.array([b[0][-1] if b[0] else start for b in beams], np.int32)
        probabilities, state = step(last, state)
        log_p = np.log(np.maximum(np.asarray(probabilities, np.float64), _TINY))
        totals = np.array([b[1] for b in beams])[:, None] + log_p
        order = np.argsort(totals, axis=None)[::-1]
        next_beams: list[tuple[list[int], float]] = []
        rows: list[int] = []
        ended = 0
        for flat in order[:2 * width]:  # at most width of them end here, so width live remain
            row, token = divmod(int(flat), log_p.shape[1])
            tokens, total = beams[row][0], float(totals[row, token])
            if token == end or length == max_length:
                if ended < width:
                    kept = tokens if token == end else tokens + [token]
                    finished.append(Hypothesis(kept, total,
                                               total / length_penalty(len(kept) + 1, alpha)))
                    ended += 1
            elif len(next_beams) < width:
                next_beams.append((tokens + [token], total))
                rows.append(row)
        best_finished = max((h.score for h in finished), default=-np.inf)
        # stop when no live beam can beat the best finished one (log-probabilities only fall)
        if not next_beams or max(t / length_penalty(max_length + 1, alpha)
                                 for _, t in next_beams) < best_finished:
            break
        beams = next_beams
        state = {k: v[rows] for k, v in state.items()}
    return sorted(finished, key=lambda h: h.score, reverse=True)


def greedy_prefix(model_fn: Callable, inputs: dict[str, np.ndarray], *, start: int, end: int,
                  max_length: int, sequence_input: str = "tokens", pad: int = 0,
                  batch_size: int = 32) -> list[list[int]]:
    """Greedy outputs (ids without ``start``/``end``) of a batch of ``inputs`` (a dict of
    arrays, the examples along axis 0), feeding the growing prefix to ``model_fn`` as
    ``sequence_input``; ``batch_size`` examples per call."""
    _check(max_length)
    count = len(next(iter(inputs.values())))
    results: list[list[int]] = []
    for begin in range(0, count, batch_size):
        part = {k: v[begin:begin + batch_size] for k, v in inputs.items()}
        size = len(next(iter(part.values())))
        tokens = np.full((size, 1), start, np.int32)
        done = np.zeros(size, bool)
        for _ in range(max_length):
            probabilities = np.asarray(model_fn({**part, sequence_input: tokens}))
            chosen = probabilities[:, -1].argmax(axis=-1).astype(np.int32)
            chosen[done] = pad
            done |= chosen == end
            tokens = np.concatenate([tokens, chosen[:, None]], axis=1)
            if done.all():
                break
        for row in tokens[:, 1:]:
            ids = [int(i) for i in row if i != pad]
            results.append(ids[:ids.index(end)] if end in ids else ids)
    return results


def beam_prefix(model_fn: Callable, inputs: dict[str, np.ndarray], *, start: int, end: int,
                max_length: int, width: int = 3, alpha: float = 0.7,
                sequence_input: str = "tokens") -> list[list[int]]:
    """The best `beam_search` output (ids without ``start``/``end``) of each example of
    ``inputs``, through ``model_fn`` on the growing prefix (see the module docstring)."""

    def step(tokens, state):
        prefix = np.concatenate([state[sequence_input], np.asarray(tokens, np.int32)[:, None]],
                                1)
        rest = {k: v for k, v in state.items() if k != sequence_input}
        probabilities = np.asarray(model_fn({**rest, sequence_input: prefix}))[:, -1]
        return probabilities, {**rest, sequence_input: prefix}

    count = len(next(iter(inputs.values())))
    results = []
    for i in range(count):
        state = {**{k: v[i:i + 1] for k, v in inputs.items()},
                 sequence_input: np.zeros((1, 0), np.int32)}
        best = beam_search(step, state, start=start, end=end, max_length=max_length,
                           width=width, alpha=alpha)
        results.append(list(best[0].tokens) if best else [])
    return results


def add_beam_options(parser: argparse.ArgumentParser, *, beam: int, alpha: float) -> None:
    """``--beam`` and ``--alpha`` (`beam_search`'s width and length penalty) for a task's
    ``rnnzoo predict`` options, with the task's defaults."""
    parser.add_argument("--beam", type=int, default=beam,
                        help=f"beam width; 1 is greedy (default: {beam})")
    parser.add_argument("--alpha", type=float, default=alpha,
                        help=f"length normalization of beam scores, GNMT's alpha; 0 ranks by "
                             f"log-probability alone (default: {alpha})")
