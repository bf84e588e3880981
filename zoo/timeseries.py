"""Builders for time-series forecasters (task ``forecasting``).

Input ``history`` ``[lookback, F]``: the last ``lookback`` observations of ``F`` inputs in the
data's own units, the ``C`` forecast targets first, then the covariates. Output ``forecast``
``[horizon, C]`` in the same units, or ``[horizon, C, Q]`` with ``quantiles=Q`` (levels
``(2i + 1) / 2Q``, the middle one the median; see `tasks.forecasting.metrics`).

The model standardizes its inputs with the training part's ``mean`` and ``std`` (a
``Rescaling`` kept in float by full-int8 files) and maps its forecast back (the same), so an
app feeds raw observations. With ``scale="log"`` the targets are read as ``log(max(x, floor))``
(`LogTargets`), ``mean`` and ``std`` are those of the log values, and the forecast goes back
through ``exp`` (`Exp`), both kept in float by int8 files; everything between works on the
log scale (the seasonal base is then the same forecast).

The network forecasts the change from a *base* forecast: ``base="seasonal"`` (the default)
the seasonal-naive forecast, each step's value one ``season`` earlier (kept by `DelayCell`,
a recurrent memory of the last season of targets); it is the last observed value where
``season`` is 1 or longer than ``lookback``; ``base="last"`` the last observed value
(`LastStep`); ``base="linear"`` a trainable linear term over the (compressed) window, as
LSTNet's highway; ``base="fixed"`` a linear forecast over the standardized window with
given, untrained ``coefficients`` (`tasks.forecasting.bases` makes them: the ridge baseline,
or its average with the seasonal-naive forecast), so the network learns that forecast's
residual; ``base="none"`` zero (the values themselves). A series that leaves the range of
its training part (a trend) is then followed rather than clipped by saturated units, and an
untrained network forecasts the base.

* ``forecast-direct-*``: the recurrent layers read the window; a dense head forecasts all
  ``horizon`` steps at once (direct multi-step).
* ``forecast-ar-*``: autoregressive (recursive): the recurrent layers read the window, the
  head forecasts the next step, and that forecast (its median) is fed back into the same
  recurrent cells as the next observation, ``horizon - 1`` times; covariates are held at their
  last observed values. Trained through the recursion, on the same windows.

Both have a step form (`export.step_model`): one observation and the recurrent states in, the
next states and the forecast from that point out, so a device updates its forecast one
observation at a time (the seasonal memory is one of the states). `LastStep` is the identity
on one step.
"""

from __future__ import annotations

import keras
import numpy as np

from zoo.checks import check_fraction
from zoo.layers import recurrent
from zoo.registry import register


@keras.saving.register_keras_serializable(package="rnnzoo")
class LastStep(keras.layers.Layer):
    """The last time step of a sequence, ``[B, T, F] -> [B, F]``.

    ``returns_last_step``: on one time step (`export.step_model`) the layer is the identity,
    since the step's observation is the last one of the sequence so far.
    """

    returns_last_step = True

    def call(self, inputs):
        return inputs[:, -1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


@keras.saving.register_keras_serializable(package="rnnzoo")
class Asinh(keras.layers.Layer):
    """``asinh(x) = log(x + sqrt(x^2 + 1))``, elementwise: about ``x`` near 0, logarithmic in
    the tails. Compresses heavy-tailed standardized inputs (PM2.5's cumulated hours of rain
    reach 24 training standard deviations) so that all inputs share one int8 scale; kept in
    float by full-int8 files (TFLite has LOG and SQRT, not ASINH, and no int8 LOG)."""

    acts_per_step = True
    keep_float_in_int8 = True

    def call(self, inputs):
        ops = keras.ops
        return ops.log(inputs + ops.sqrt(inputs * inputs + 1.0))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="rnnzoo")
class LogTargets(keras.layers.Layer):
    """``log(max(x, floor))`` of the first ``len(floor)`` features (the targets), the others
    unchanged: the input of a ``scale="log"`` forecaster. Acts on each time step alone; kept
    in float by full-int8 files (as the scaling around it)."""

    acts_per_step = True
    keep_float_in_int8 = True

    def __init__(self, floor=(1.0,), **kwargs):
        super().__init__(**kwargs)
        self.floor = [float(v) for v in floor]

    def call(self, inputs):
        ops = keras.ops
        count = len(self.floor)
        floor = ops.convert_to_tensor(np.asarray(self.floor, np.float32), inputs.dtype)
        logs = ops.log(ops.maximum(inputs[..., :count], floor))
        if inputs.shape[-1] == count:
            return logs
        return ops.concatenate([logs, inputs[..., count:]], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "floor": self.floor}


@keras.saving.register_keras_serializable(package="rnnzoo")
class Exp(keras.layers.Layer):
    """``exp(x)``, elementwise: a ``scale="log"`` forecast back in the data's units; kept in
    float by full-int8 files."""

    acts_per_step = True
    keep_float_in_int8 = True

    def call(self, inputs):
        return keras.ops.exp(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="rnnzoo")
class TakeFeatures(keras.layers.Layer):
    """Features ``start:stop`` of the last axis."""

    def __init__(self, start: int = 0, stop: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), None if stop is None else int(stop)

    def call(self, inputs):
        return inputs[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        width = input_shape[-1]
        stop = width if self.stop is None else min(self.stop, width)
        return (*input_shape[:-1], max(0, stop - self.start))

    def get_config(self) -> dict:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="rnnzoo")
class DelayCell(keras.layers.Layer):
    """A recurrent cell that remembers the last ``length`` values of the first ``width``
    features of its input: state and output ``[length * width]``, oldest first. Run by
    ``keras.layers.RNN``, it hands the last season of observations to the forecast head (and
    to a step model, as a state)."""

    def __init__(self, length: int = 1, width: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.length, self.width = int(length), int(width)
        self.state_size = self.length * self.width
        self.output_size = self.length * self.width

    def call(self, inputs, states):
        memory = states[0] if isinstance(states, (list, tuple)) else states
        updated = keras.ops.concatenate([memory[:, self.width:], inputs[:, :self.width]], -1)
        return updated, [updated]

    def get_config(self) -> dict:
        return {**super().get_config(), "length": self.length, "width": self.width}


@keras.saving.register_keras_serializable(package="rnnzoo")
class SeasonalNaive(keras.layers.Layer):
    """The seasonal-naive forecast ``[B, horizon, width]`` from a `DelayCell` memory
    ``[B, season * width]``: step ``h`` takes the value ``season`` observations before it
    (whole seasons back until it is observed: memory position ``h % season``)."""

    def __init__(self, horizon: int = 1, season: int = 1, width: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.season, self.width = int(horizon), int(season), int(width)

    def call(self, inputs):
        memory = keras.ops.reshape(inputs, (-1, self.season, self.width))
        positions = [h % self.season for h in range(self.horizon)]
        return keras.ops.take(memory, keras.ops.convert_to_tensor(positions, "int32"), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "horizon": self.horizon, "season": self.season,
                "width": self.width}


@keras.saving.register_keras_serializable(package="rnnzoo")
class MonotoneQuantiles(keras.layers.Layer):
    """Quantiles that cannot cross, on a flat ``[B, groups * count]`` tensor (``count``
    quantiles of each value, ``count`` odd, adjacent): of each group's raw values the middle
    one is the median, and each quantile above (below) it adds (subtracts) the absolute value
    of its raw value to (from) the next one towards the median. Computed as
    ``(raw * m + |raw| * (1 - m)) @ K`` with a constant mask ``m`` and a constant block matrix
    ``K``, so that no op broadcasts more than the batch axis."""

    def __init__(self, count: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.count = int(count)

    def build(self, input_shape):
        width = int(input_shape[-1])
        q, middle = self.count, self.count // 2
        block = np.zeros((q, q), np.float32)
        for i in range(q):  # output i = median + signed raw values between it and i
            block[middle, i] = 1.0
            for j in range(min(i, middle), max(i, middle) + 1):
                if j != middle:
                    block[j, i] = 1.0 if i > middle else -1.0
        groups = width // q
        self._kernel = np.kron(np.eye(groups, dtype=np.float32), block)
        self._mask = np.tile(np.eye(q, dtype=np.float32)[middle], groups)

    def call(self, inputs):
        ops = keras.ops
        mask = ops.convert_to_tensor(self._mask, inputs.dtype)
        signed = inputs * mask + ops.abs(inputs) * (1.0 - mask)
        return ops.matmul(signed, ops.convert_to_tensor(self._kernel, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count}


@keras.saving.register_keras_serializable(package="rnnzoo")
class Plus(keras.layers.Layer):
    """``a + b`` for two tensors of one shape: the forecast change plus its base, kept in float
    by full-int8 files. With Keras' ``Add`` in int8, TensorFlow turned ``Add(Dense(h), base)``
    of a batch-1 step model into the Dense's bias, which the quantizer then treated as a
    constant: the int8 forecasts ignored the base (and were nearly constant)."""

    keep_float_in_int8 = True

    def call(self, inputs):
        first, second = inputs
        return keras.ops.add(first, second)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="rnnzoo")
class MemberMedian(keras.layers.Layer):
    """Members side by side, ``count`` (odd) tensors of one shape ``[B, D]``: their elementwise
    median (a sorting network of minima and maxima, which TFLite runs in float and int8).

    In training each example goes to one member, example ``b`` of a batch to member
    ``b % count``: every member learns from its own share of every (shuffled) batch and the
    loss never sees the median, so the members train independently, as an ensemble of seeds
    does, in one fit; the median is what validation (and so the epoch choice) scores."""

    keep_float_in_int8 = True

    def __init__(self, count: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, inputs, training=None):
        ops = keras.ops
        members = list(inputs)
        if training:
            owner = ops.mod(ops.arange(ops.shape(members[0])[0]), self.count)
            out = None
            for i, member in enumerate(members):
                share = member * ops.cast(ops.equal(owner, i), member.dtype)[:, None]
                out = share if out is None else out + share
            return out
        for round_ in range(self.count):  # odd-even transposition sort
            for i in range(round_ % 2, self.count - 1, 2):
                low = ops.minimum(members[i], members[i + 1])
                members[i + 1] = ops.maximum(members[i], members[i + 1])
                members[i] = low
        return members[self.count // 2]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count}


class _Feedback(keras.layers.Layer):
    """One call of a recurrent layer's cell on a fed-back forecast (the cell's weights are the
    layer's own); a layer of its own so that each call has a unique name in the graph."""

    def __init__(self, cell: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, inputs, states):
        output, new_states = self.cell(inputs, states, training=False)
        return output, list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]


def _units_list(units) -> list[int]:
    units = [units] if isinstance(units, (int, np.integer)) else list(units)
    if not units or any(isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u <= 0
                        for u in units):
        raise ValueError(f"units must be a positive integer or a list of them, got {units!r}")
    return [int(u) for u in units]


BASES = ("seasonal", "last", "linear", "fixed", "none")


def _check(lookback, horizon, features, targets, quantiles, dropout, base, season, mean,
           std) -> tuple:
    for name, value in (("lookback", lookback), ("horizon", horizon), ("features", features),
                        ("targets", targets)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if targets > features:
        raise ValueError(f"targets ({targets}) cannot exceed features ({features}): the "
                         "targets are the first inputs")
    if quantiles and (quantiles < 3 or quantiles % 2 == 0):
        raise ValueError(f"quantiles must be 0 (point forecasts) or an odd number >= 3, got "
                         f"{quantiles}")
    check_fraction(dropout, "dropout")
    if base not in BASES:
        raise ValueError(f"unknown base {base!r}; expected one of {', '.join(BASES)}")
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    mean = np.zeros(features) if mean is None else np.asarray(mean, np.float64)
    std = np.ones(features) if std is None else np.asarray(std, np.float64)
    if mean.shape != (features,) or std.shape != (features,):
        raise ValueError(f"mean and std need one value per feature ({features}), got "
                         f"{mean.shape} and {std.shape}")
    if not np.all(std > 0):
        raise ValueError("std must be positive")
    return mean, std


def _standardize(mean: np.ndarray, std: np.ndarray) -> keras.layers.Layer:
    layer = keras.layers.Rescaling((1.0 / std).tolist(), (-mean / std).tolist(),
                                   name="standardize")
    layer.keep_float_in_int8 = True  # raw units of several sizes share no int8 scale
    return layer


def _unstandardize(mean: np.ndarray, std: np.ndarray, horizon: int, targets: int,
                   quantiles: int, transform: str = "none") -> list[keras.layers.Layer]:
    """Standardized flat forecasts ``[B, horizon * targets * Q]`` back to the data's units
    (through ``exp`` for ``transform="log"``), then shaped ``[horizon, targets(, Q)]``; all
    kept in float by full-int8 files."""
    repeat = max(quantiles, 1)
    factor = np.tile(np.repeat(std[:targets], repeat), horizon)
    offset = np.tile(np.repeat(mean[:targets], repeat), horizon)
    units = keras.layers.Rescaling(factor.tolist(), offset.tolist(), name="unstandardize")
    shape = (horizon, targets, quantiles) if quantiles else (horizon, targets)
    reshape = keras.layers.Reshape(shape, name="forecast")
    units.keep_float_in_int8 = reshape.keep_float_in_int8 = True
    if transform == "log":
        return [units, Exp(name="exp"), reshape]
    return [units, reshape]


def _repeat_each(x, count: int, name: str):
    """``[B, N] -> [B, N * count]``, each value ``count`` times in a row (a concatenation, not
    a broadcast: TFLite's converter (TF 2.21) mixed up axes of broadcast adds with a size-1
    axis, e.g. ``[B, 3, 1, 3] + [B, 3, 1, 1]``)."""
    if count == 1:
        return x
    width = x.shape[-1]
    column = keras.layers.Reshape((width, 1), name=f"{name}_column")(x)
    copies = keras.layers.Concatenate(name=f"{name}_copies")([column] * count)
    return keras.layers.Reshape((width * count,), name=name)(copies)


def _fixed_coefficients(coefficients, lookback: int, horizon: int, features: int,
                        targets: int, mode: str) -> np.ndarray:
    """The ``fixed`` base's coefficients ``[lookback * features + 1, horizon * targets]`` (the
    last row the intercept), checked."""
    if mode != "direct":
        raise ValueError("base 'fixed' is for direct forecasters")
    if coefficients is None:
        raise ValueError("base 'fixed' needs its coefficients (coefficients=...; "
                         "tasks.forecasting.bases makes them from the training part)")
    coefficients = np.asarray(coefficients, np.float32)
    shape = (lookback * features + 1, horizon * targets)
    if coefficients.shape != shape:
        raise ValueError(f"fixed-base coefficients must have shape {shape} (lookback * features "
                         f"+ 1, horizon * targets), got {coefficients.shape}")
    return coefficients


SCALES = ("none", "log")


def _log_floor(scale: str, floor, targets: int) -> list[float] | None:
    """The checked floor of each target's log (``scale="log"``), None otherwise."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if scale == "none":
        return None
    if floor is None:
        raise ValueError("scale 'log' needs floor=[...]: the smallest value of each target its "
                         "log reads (tasks.forecasting.scaling makes them)")
    floor = [float(v) for v in floor]
    if len(floor) != targets or not all(v > 0 for v in floor):
        raise ValueError(f"floor needs one positive value per target ({targets}), got {floor}")
    return floor


def _forecaster(mode: str, kind: str, *, lookback: int, horizon: int, features: int,
                targets: int, units, dropout: float, quantiles: int, base: str, season: int,
                mean, std, coefficients=None, scale: str = "none", floor=None,
                members: int = 1) -> keras.Model:
    mean, std = _check(lookback, horizon, features, targets, quantiles, dropout, base, season,
                       mean, std)
    floor = _log_floor(scale, floor, targets)
    fixed = _fixed_coefficients(coefficients, lookback, horizon, features, targets, mode) \
        if base == "fixed" else None
    units = _units_list(units)
    if base == "seasonal" and (season == 1 or season > lookback):
        base = "last"
    history = keras.Input(shape=(lookback, features), name="history")
    x = LogTargets(floor, name="log_targets")(history) if scale == "log" else history
    z = _standardize(mean, std)(x)
    compress = Asinh(name="compress")
    build = _direct if mode == "direct" else _autoregressive
    if base == "linear" and mode != "direct":
        raise ValueError("base 'linear' is for direct forecasters")
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or \
            members < 1 or members % 2 == 0:
        raise ValueError(f"members (--ensemble) must be 1 or an odd number >= 3, got {members!r}")
    if members > 1 and mode != "direct":
        raise ValueError("members (--ensemble) above 1 are for direct forecasters only")
    extra = {"members": members} if mode == "direct" else {}
    out = build(z, compress, kind, units, lookback=lookback, horizon=horizon,
                features=features, targets=targets, dropout=dropout, quantiles=quantiles,
                base=base, season=season, **extra)
    for layer in _unstandardize(mean, std, horizon, targets, quantiles, scale):
        out = layer(out)
    model = keras.Model(history, out, name=f"forecast_{mode}_{kind}")
    if fixed is not None:
        model.get_layer("fixed_base").set_weights([fixed[:-1], fixed[-1]])
    return model


def _memory(z, season: int, targets: int):
    """The last ``season`` standardized targets ``[B, season * targets]`` (`DelayCell`)."""
    return keras.layers.RNN(DelayCell(season, targets), name="season_memory")(z)


def _direct(z, compress, kind: str, units: list[int], *, lookback: int, horizon: int,
            features: int, targets: int, dropout: float, quantiles: int, base: str,
            season: int, members: int = 1):
    """Standardized flat forecasts ``[B, horizon * targets * Q]`` (step, target, quantile).
    The recurrent layers (and the linear base) read the compressed inputs (`Asinh`); the
    seasonal, last-value and fixed bases the standardized ones. ``members`` > 1: that many
    recurrent stacks and heads (layer names prefixed ``m<i>_``), their `MemberMedian`."""
    u = compress(z)
    changes = []
    for m in range(members):
        prefix = f"m{m}_" if members > 1 else ""
        x = u
        for i, width in enumerate(units):
            x = recurrent(kind, width, return_sequences=i < len(units) - 1,
                          name=f"{prefix}{kind}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{prefix}dropout")(x)
        change = keras.layers.Dense(horizon * targets * max(quantiles, 1),
                                    name=f"{prefix}head")(x)
        if quantiles:
            change = MonotoneQuantiles(quantiles, name=f"{prefix}quantiles")(change)
        changes.append(change)
    out = changes[0] if members == 1 else MemberMedian(members, name="median")(changes)
    if base == "none":
        return out
    if base == "seasonal":
        naive = SeasonalNaive(horizon, season, targets, name="seasonal_naive")(
            _memory(z, season, targets))
        naive = keras.layers.Reshape((horizon * targets,), name="base_flat")(naive)
    elif base == "linear":
        window = keras.layers.RNN(DelayCell(lookback, features), name="window_memory")(u)
        naive = keras.layers.Dense(horizon * targets, kernel_initializer="zeros",
                                   name="linear")(window)
    elif base == "fixed":  # not trained: the coefficients given, set by _forecaster
        memory = keras.layers.RNN(DelayCell(lookback, features), name="window_memory")
        fixed = keras.layers.Dense(horizon * targets, trainable=False, name="fixed_base")
        memory.keep_float_in_int8 = fixed.keep_float_in_int8 = True  # a linear extrapolation
        naive = fixed(memory(z))  # of a trend leaves any range calibrated on training data
    else:
        last = TakeFeatures(0, targets, name="last_targets")(LastStep(name="last_step")(z))
        naive = keras.layers.Reshape((horizon * targets,), name="base_flat")(
            keras.layers.RepeatVector(horizon, name="last_repeated")(last))
    naive = _repeat_each(naive, max(quantiles, 1), "base_per_quantile")
    return Plus(name="from_base")([out, naive])


def _autoregressive(z, compress, kind: str, units: list[int], *, lookback: int, horizon: int,
                    features: int, targets: int, dropout: float, quantiles: int, base: str,
                    season: int):
    """As `_direct`; step ``k`` is fed back (its median, compressed) to forecast step
    ``k + 1``."""
    layers = [recurrent(kind, width, return_sequences=i < len(units) - 1, return_state=True,
                        name=f"{kind}_{i}") for i, width in enumerate(units)]
    u = compress(z)
    x, states = u, []
    for layer in layers:
        x, *layer_states = layer(x)
        states.append(layer_states)
    last = LastStep(name="last_step")(z)
    previous = TakeFeatures(0, targets, name="last_targets")(last)
    held = TakeFeatures(targets, None, name="last_covariates")(LastStep(name="last_input")(u)) \
        if features > targets else None
    memory = _memory(z, season, targets) if base == "seasonal" else None
    feedback = [_Feedback(layer.cell, name=f"{layer.name}_feedback") for layer in layers]
    head = keras.layers.Dense(targets * max(quantiles, 1), name="head")
    monotone = MonotoneQuantiles(quantiles, name="quantiles") if quantiles else None
    drop = keras.layers.Dropout(dropout, name="dropout") if dropout else None
    steps, medians = [], []
    for k in range(horizon):
        step = head(drop(x) if drop is not None else x)  # [B, targets * Q]
        if monotone is not None:
            step = monotone(step)
        if base != "none":
            if base == "last":
                reference = previous
            elif k < season:  # the observation one season earlier
                reference = TakeFeatures(k * targets, (k + 1) * targets,
                                         name=f"season_{k}")(memory)
            else:  # one season earlier is itself forecast
                reference = medians[k - season]
            reference = _repeat_each(reference, max(quantiles, 1), f"base_{k}")
            step = Plus(name=f"from_base_{k}")([step, reference])
        steps.append(step)
        median = step
        if quantiles:
            grouped = keras.layers.Reshape((targets, quantiles), name=f"grouped_{k}")(step)
            median = TakeFeatures(quantiles // 2, quantiles // 2 + 1, name=f"median_{k}")(grouped)
            median = keras.layers.Reshape((targets,), name=f"median_flat_{k}")(median)
        medians.append(median)
        if k == horizon - 1:
            break
        fed = compress(median)
        if held is not None:
            fed = keras.layers.Concatenate(name=f"fed_{k}")([fed, held])
        for i, layer in enumerate(feedback):
            fed, states[i] = layer(fed, states[i])
        x, previous = fed, median
    if len(steps) == 1:
        return steps[0]
    concatenate = keras.layers.Concatenate(name="steps")
    concatenate.keep_float_in_int8 = True  # an int8 concatenation before the float tail was
    # calibrated to the range of the tail's output (TF 2.21): the int8 forecasts were constant
    return concatenate(steps)


def _register(mode: str, kind: str, summary: str):
    def builder(lookback: int = 12, horizon: int = 3, features: int = 1, targets: int = 1,
                units: int | list[int] = 64, dropout: float = 0.0, quantiles: int = 0,
                base: str = "seasonal", season: int = 1, mean: list[float] | None = None,
                std: list[float] | None = None, feature_names: list[str] | None = None,
                target_names: list[str] | None = None,
                coefficients: list[list[float]] | None = None, scale: str = "none",
                floor: list[float] | None = None, members: int = 1) -> keras.Model:
        if feature_names is not None and len(feature_names) != features:
            raise ValueError(f"feature_names has {len(feature_names)} names for {features} "
                             "features")
        if target_names is not None and len(target_names) != targets:
            raise ValueError(f"target_names has {len(target_names)} names for {targets} "
                             "targets")
        return _forecaster(mode, kind, lookback=lookback, horizon=horizon, features=features,
                           targets=targets, units=units, dropout=dropout, quantiles=quantiles,
                           base=base, season=season, mean=mean, std=std,
                           coefficients=coefficients, scale=scale, floor=floor,
                           members=members)

    name = f"forecast-{mode}-{kind}"
    builder.__name__ = builder.__qualname__ = name.replace("-", "_")
    builder.__doc__ = (f"{summary}: history [lookback, features] (targets first, raw units) "
                       "-> forecast [horizon, targets] (or [horizon, targets, quantiles]). "
                       "scale='log' (with floor, one per target) works on the log of the "
                       "targets; mean and std are then those of the log values. members=N "
                       "(odd, direct models): N networks side by side, their median. "
                       "feature_names and target_names document the inputs (one-hot inputs "
                       "are named column=category).")
    return register(name, task="forecasting")(builder)


forecast_direct_lstm = _register("direct", "lstm", "Direct multi-step LSTM forecaster")
forecast_direct_gru = _register("direct", "gru", "Direct multi-step GRU forecaster")
forecast_ar_lstm = _register("ar", "lstm", "Autoregressive (recursive) LSTM forecaster")
forecast_ar_gru = _register("ar", "gru", "Autoregressive (recursive) GRU forecaster")
