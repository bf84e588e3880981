"""Representative data for full-integer quantization: checked before any converter runs.

`check_representative` turns what the caller gives (arrays, lists or dicts of arrays, one per
sample, each with a batch axis) into one stacked array per model input and refuses, with a
`ValueError` saying what is wrong, an empty dataset, a wrong number of inputs, wrong shapes or
non-finite values. `step_calibration` runs the float step model over those sequences and keeps
(input step, states) samples spread over all time steps, so the int8 step model is calibrated
on the states that real sequences reach, not on zeros.

Ranges are min/max, never moving averages: TFLite's calibrator (`tflite::optimize::calibration::
MinMax::Update`, used by both the int8 and the int16x8 converter paths) keeps the smallest and
largest value each tensor takes over every sample it is fed. Sequence jobs (unrolled graphs,
models without a recurrent layer) are fed whole sequences. Step jobs are fed at most
``max_samples`` (input, state) rows spread evenly over sequences and time, *plus* the rows where
each step input and state tensor takes its smallest and largest value over all steps of all
calibration sequences, so the min/max range of every state (activations are quantized per
tensor) is that of the whole sequences: a long-range state that peaks at steps the even spread
skips is not clipped. The one exception, for int8 files only, is a state the model asks to
clip (`export.step.StepSpec.state_ranges`: an LSTM cell state on ``[-C, C]``): its recorded
values are clipped there before the rows are chosen (int16x8 files resolve the whole range).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np

from export.signatures import step_function
from export.step import input_names, step_spec


def _as_arrays(sample: Any, names: list[str], index: int) -> dict[str, np.ndarray]:
    if isinstance(sample, dict):
        missing = [n for n in names if n not in sample]
        if missing:
            raise ValueError(f"representative sample {index} lacks input(s) {', '.join(missing)}; "
                             f"the model's inputs are {', '.join(names)}")
        return {n: np.asarray(sample[n]) for n in names}
    if isinstance(sample, (list, tuple)):
        if len(sample) != len(names):
            raise ValueError(f"representative sample {index} has {len(sample)} arrays; the "
                             f"model has {len(names)} input(s) ({', '.join(names)})")
        return {n: np.asarray(a) for n, a in zip(names, sample)}
    if len(names) != 1:
        raise ValueError(f"representative sample {index} is one array; the model has "
                         f"{len(names)} inputs ({', '.join(names)})")
    return {names[0]: np.asarray(sample)}


def check_representative(samples: Iterable | None, model: keras.Model, *,
                         length: int | None = None) -> dict[str, np.ndarray]:
    """Check ``samples`` against ``model``'s inputs; return ``{input name: [N, ...]}``.

    Each sample is an array (single-input models), a list of arrays in input order, or a dict
    by input name; each array has a leading batch axis (rows are split out). Every axis the
    model fixes must match; an open time axis (axis 1) must be the same in all samples and
    equal ``length`` if given. Raises `ValueError` before anything is converted.
    """
    if samples is None:
        raise ValueError("int8 quantization needs a representative dataset (--data or "
                         "representative=...), and none was given")
    names = input_names(model)
    rows: dict[str, list[np.ndarray]] = {n: [] for n in names}
    count = 0
    for index, sample in enumerate(samples):
        arrays = _as_arrays(sample, names, index)
        batch = None
        for name, tensor in zip(names, model.inputs):
            array = arrays[name]
            expected = tuple(tensor.shape)
            if array.ndim != len(expected):
                raise ValueError(f"representative sample {index}, input {name!r}: shape "
                                 f"{array.shape}, expected {_shape_text(expected)} "
                                 "(with a batch axis)")
            wanted = list(expected)
            if length is not None and len(wanted) > 1 and wanted[1] is None:
                wanted[1] = length
            for axis, (got, want) in enumerate(zip(array.shape, wanted)):
                if axis > 0 and want is not None and got != want:
                    raise ValueError(f"representative sample {index}, input {name!r}: shape "
                                     f"{array.shape}, expected {_shape_text(tuple(wanted))}")
            if array.shape[0] < 1 or (batch is not None and array.shape[0] != batch):
                raise ValueError(f"representative sample {index}: bad batch axis "
                                 f"{array.shape[0]} for input {name!r}")
            batch = array.shape[0]
            if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
                raise ValueError(f"representative sample {index}, input {name!r}: dtype "
                                 f"{array.dtype} is not numeric")
            if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
                raise ValueError(f"representative sample {index}, input {name!r}: holds NaN or inf")
            rows[name].extend(array.astype(keras.backend.standardize_dtype(tensor.dtype)))
        count += 1
    if count == 0:
        raise ValueError("the representative dataset is empty: int8 calibration needs at least "
                         "one sample of the model's inputs")
    stacked = {}
    for name in names:
        shapes = {r.shape for r in rows[name]}
        if len(shapes) != 1:
            raise ValueError(f"representative samples of input {name!r} have different shapes "
                             f"{sorted(shapes)}; they need one time length")
        stacked[name] = np.stack(rows[name])
    return stacked


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("batch" if i == 0 else ("any" if d is None else str(d))
                           for i, d in enumerate(shape)) + ")"


def step_calibration(step: keras.Model, sequences: dict[str, np.ndarray], *,
                     max_samples: int = 1000, clip_states: bool = True
                     ) -> dict[str, np.ndarray]:
    """Calibration samples for a step model: ``{step input name: [M, ...]}``.

    Runs the float ``step`` model over ``sequences`` (``{input name: [N, T, ...]}``, e.g. from
    `check_representative`) from zero states, records every step's inputs and states, and keeps
    ``max_samples`` of them, evenly spread over sequences and time, and the rows where each
    recorded tensor reaches its minimum and maximum over all steps (at most two more per
    step input and state). With ``clip_states``, states in the spec's ``state_ranges`` are
    clipped to ``[-C, C]``.
    """
    spec = step_spec(step)
    run = step_function(step)
    first = sequences[spec.inputs[0]]
    n, length = first.shape[0], first.shape[1]
    by_name = dict(zip(input_names(step), step.inputs))
    states = {s: np.zeros((n, *by_name[s].shape[1:]), np.float32) for s in spec.states}
    recorded: dict[str, list[np.ndarray]] = {name: [] for name in [*spec.inputs, *spec.states]}
    for t in range(length):
        feed = {name: sequences[name][:, t] for name in spec.inputs}
        feed.update(states)
        for name, value in feed.items():
            recorded[name].append(value)
        outputs = run(*[feed[name] for name in [*spec.inputs, *spec.states]])
        states = {s: outputs[s].numpy() for s in spec.states}
    # [T, N, ...] -> [T * N, ...] in time-major order, then an even spread of max_samples rows
    stacked = {name: np.concatenate(values) for name, values in recorded.items()}
    for name, bound in (spec.state_ranges if clip_states else {}).items():
        stacked[name] = np.clip(stacked[name], -bound, bound)
    total = n * length
    spread = np.linspace(0, total - 1, num=min(total, max_samples)).round().astype(int)
    extremes = [np.unravel_index(pick(values), values.shape)[0]
                for values in stacked.values() if values.size and
                np.issubdtype(values.dtype, np.number)
                for pick in (np.argmin, np.argmax)]
    keep = np.unique(np.concatenate([spread, np.asarray(extremes, int)]))
    return {name: values[keep] for name, values in stacked.items()}
