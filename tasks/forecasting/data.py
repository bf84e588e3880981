"""Forecasting data: columns chosen, missing values filled, chronological split, windows.

From a CSV file (`tasks.forecasting.series`) to windows a model trains and is scored on:

1. Columns. The *targets* (``target``, default: the first value column) are forecast; the
   *covariates* (``covariates``: names, or ``["all"]`` for every other value column; default
   none, i.e. univariate) are further inputs. Text columns named in ``categorical`` are
   one-hot encoded (a column ``cbwd`` gives inputs ``cbwd=NE``, ``cbwd=NW``, ... for the
   categories of the training part, in sorted order; a category first seen later is all
   zeros). The model's inputs are the targets first, then the covariates, ``F`` features in
   all; ``C`` of them targets.
2. Missing values (see `fill_forward`): each input is carried forward from its last observed
   value, which never uses a later value, so a filled input holds nothing from the future of
   any forecast that sees it. The series starts at the first line where every input is
   observed (the lines before it are left out, with a note). A filled *target* is not scored
   and not trained on: each window's targets carry an ``observed`` flag (0 for filled values),
   and a window none of whose targets is observed is left out.
3. Split, in time order: the last ``test`` fraction of the observations is the test part, the
   ``validation`` fraction before it the validation part, the rest the training part. Two
   layouts move the parts (`Settings`): ``refit`` fits on the training and validation parts
   together (the model's scaler, the ridge, the training windows; for the refit once
   validation has chosen the epochs and the base), ``holdout`` is the nested holdout: the
   series before its test part, split again (the validation part's length of observations at
   the end of the training part as validation, the validation part as test).
4. Windows: a window's *origin* ``o`` is its first forecast step; its inputs are the ``lookback``
   observations before it (``x[o - lookback : o]``), its targets the ``horizon`` observations
   from it. A window belongs to the part that holds all its targets; a training window's inputs
   lie in the training part too, while validation and test windows look back into the parts
   before them (what was observed before the forecast). Origins step by ``stride``.
5. Scaling: the mean and standard deviation of every numeric input over the *observed*
   values of the training part only. They go into the model (`zoo.timeseries`), which takes
   and returns values in the data's own units.

Each window's targets ``[horizon, C, 5]`` hold, along the last axis (`REFERENCE_CHANNELS`):
the truth, whether it was observed, the seasonal-naive forecast, the linear autoregressive
forecast, and the MASE scale of the column. The baselines are thus computed once, by the same
code, on exactly the windows a model is scored on (`tasks.forecasting.metrics`), and the loss
(`ForecastLoss`) reads the truth, the flag and the scale from them. Nothing in a training
window, the scaler, the MASE scale or the linear baseline depends on a value of the validation
or test part (`tests/test_forecasting_data.py` proves it by changing those values).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasks.forecasting.series import SeriesError, Table, read_table, season_of

SPLITS = ("train", "validation", "test")
REFERENCE_CHANNELS = ("truth", "observed", "seasonal_naive", "linear", "mase_scale")
TRUTH, OBSERVED, SEASONAL_NAIVE, LINEAR, MASE_SCALE = range(len(REFERENCE_CHANNELS))
DEFAULTS = {"lookback": 12, "horizon": 3, "stride": 1, "validation": 0.15, "test": 0.15}
RIDGE_PENALTIES = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # per window, standardized
INNER_VALIDATION = 0.2  # the last fifth of the training windows chooses the ridge penalty


@dataclass(frozen=True)
class Settings:
    """The data options, checked (see `settings`)."""

    target: tuple[str, ...] | None = None
    covariates: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    lookback: int = DEFAULTS["lookback"]
    horizon: int = DEFAULTS["horizon"]
    stride: int = DEFAULTS["stride"]
    season: int | None = None
    validation: float = DEFAULTS["validation"]
    test: float = DEFAULTS["test"]
    refit: bool = False  # fit on training + validation (no validation windows then)
    holdout: bool = False  # the series before its test part, its parts shifted back one


def _names(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    names = []
    for item in value:
        names += [part.strip() for part in str(item).split(",") if part.strip()]
    return tuple(dict.fromkeys(names))


def settings(*, target=None, covariates=None, categorical=None, lookback=None, horizon=None,
             stride=None, season=None, validation=None, test=None, refit=False,
             holdout=False) -> Settings:
    """`Settings` from the keyword options of `load` (None: the default); a bad value is a
    `ValueError` naming the option. Names may be lists or comma-separated text."""
    lookback = DEFAULTS["lookback"] if lookback is None else lookback
    horizon = DEFAULTS["horizon"] if horizon is None else horizon
    stride = DEFAULTS["stride"] if stride is None else stride
    validation = DEFAULTS["validation"] if validation is None else validation
    test = DEFAULTS["test"] if test is None else test
    for name, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    if season is not None and (isinstance(season, bool) or not isinstance(season, int)
                               or season < 1):
        raise ValueError(f"season must be a positive whole number, got {season!r}")
    for name, value in (("validation", validation), ("test", test)):
        if not 0.0 < float(value) < 0.5:
            raise ValueError(f"{name} fraction must be above 0 and below 0.5, got {value!r}")
    for name, value in (("refit", refit), ("holdout", holdout)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be true or false, got {value!r}")
    target_names = _names(target) or None
    return Settings(target=target_names, covariates=_names(covariates),
                    categorical=_names(categorical), lookback=int(lookback),
                    horizon=int(horizon), stride=int(stride), season=season,
                    validation=float(validation), test=float(test), refit=bool(refit),
                    holdout=bool(holdout))


@dataclass
class Prepared:
    """A series ready for windows (see the module docstring); made by `prepare`.

    ``values`` ``[N, F]`` are the filled inputs (targets first), ``observed`` ``[N, C]`` says
    which target values were in the file, ``bounds`` = (end of training part, end of
    validation part, N; with ``refit`` the first two are equal), ``mean`` / ``std`` the
    training scaler of each input (0 / 1 for one-hot inputs), ``mase_scale`` the in-sample
    seasonal-naive MAE of each target on the training part (without the validation part
    where ``refit``), ``origins`` the window origins of each split, ``linear`` the linear baseline's
    coefficients (``[lookback * F + 1, horizon * C]``, on standardized values) and ``penalty``
    its ridge penalty. ``scale`` says how the target columns of ``values`` are transformed:
    ``none`` as read, ``log`` their logarithm (a view for the model's scaler and bases made by
    `tasks.forecasting.scaling.log_view`; scores are computed with the untransformed one).
    """

    path: Path
    settings: Settings
    feature_names: list[str]
    target_names: list[str]
    values: np.ndarray
    observed: np.ndarray
    times: list[str]
    lines: list[int]
    frequency: str
    season: int
    bounds: tuple[int, int, int]
    mean: np.ndarray
    std: np.ndarray
    mase_scale: np.ndarray
    origins: dict[str, np.ndarray]
    linear: np.ndarray | None = None
    penalty: float | None = None
    notes: list[str] = field(default_factory=list)
    scale: str = "none"

    @property
    def targets(self) -> int:
        return len(self.target_names)

    def part_lines(self, split: str) -> str:
        """``lines A-B (n observations)`` of one part, for messages."""
        start, stop = self._part(split)
        return (f"lines {self.lines[start]}-{self.lines[stop - 1]} ({stop - start} "
                f"observations)") if stop > start else "no observations"

    def _part(self, split: str) -> tuple[int, int]:
        train_end, validation_end, n = self.bounds
        return {"train": (0, train_end), "validation": (train_end, validation_end),
                "test": (validation_end, n)}[split]

    def inputs(self, origins: np.ndarray) -> np.ndarray:
        """``[windows, lookback, F]`` float32 inputs of the windows at ``origins``."""
        offsets = np.arange(-self.settings.lookback, 0)
        return self.values[origins[:, None] + offsets].astype(np.float32)

    def truth(self, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Targets ``[windows, horizon, C]`` (filled values where not observed) and the
        observed flags of the same shape."""
        offsets = np.arange(self.settings.horizon)
        index = origins[:, None] + offsets
        return (self.values[index][..., :self.targets],
                self.observed[index].astype(np.float64))

    def seasonal_naive(self, origins: np.ndarray) -> np.ndarray:
        """The seasonal-naive forecast ``[windows, horizon, C]``: each step's value one season
        (``season`` observations) earlier, stepping back whole seasons until it is before the
        origin (``season`` 1: the last value). Where that lies before the series, the last
        value before the origin."""
        m = self.season
        steps = np.arange(self.settings.horizon)
        index = origins[:, None] + steps - m * (steps // m + 1)
        index = np.where(index < 0, origins[:, None] - 1, index)
        return self.values[index][..., :self.targets]

    def standardized_windows(self, origins: np.ndarray) -> np.ndarray:
        """The linear baseline's design matrix: standardized inputs flattened, and a 1."""
        x = (self.inputs(origins).astype(np.float64) - self.mean) / self.std
        return np.concatenate([x.reshape(len(origins), -1), np.ones((len(origins), 1))], 1)

    def linear_forecast(self, origins: np.ndarray) -> np.ndarray:
        """The linear autoregressive baseline's forecast ``[windows, horizon, C]``."""
        c, chunk = self.targets, 4096
        z = np.concatenate([self.standardized_windows(origins[i:i + chunk]) @ self.linear
                            for i in range(0, len(origins), chunk)] or
                           [np.zeros((0, self.linear.shape[1]))])
        z = z.reshape(len(origins), self.settings.horizon, c)
        return z * self.std[:c] + self.mean[:c]

    def references(self, origins: np.ndarray) -> np.ndarray:
        """The targets tensor ``[windows, horizon, C, 5]`` (`REFERENCE_CHANNELS`)."""
        truth, observed = self.truth(origins)
        scale = np.broadcast_to(self.mase_scale, truth.shape)
        return np.stack([np.where(observed > 0, truth, 0.0), observed,
                         self.seasonal_naive(origins), self.linear_forecast(origins), scale],
                        axis=-1).astype(np.float32)


def fill_forward(values: np.ndarray) -> np.ndarray:
    """Each NaN replaced by the last non-NaN value above it in its column (NaN stays NaN
    before a column's first value). Uses only earlier rows."""
    values = np.array(values, np.float64, copy=True)
    rows = np.arange(len(values))[:, None]
    last = np.where(np.isnan(values), 0, rows)
    np.maximum.accumulate(last, axis=0, out=last)
    return values[last, np.arange(values.shape[1])]


def _choose_columns(table: Table, chosen: Settings) -> tuple[list[str], list[str]]:
    available = table.value_columns
    targets = list(chosen.target) if chosen.target else available[:1]
    unknown = [name for name in targets + [c for c in chosen.covariates if c != "all"]
               + list(chosen.categorical) if name not in available]
    if unknown:
        raise SeriesError(table.path, f"no column {unknown[0]!r}; its value columns are "
                          f"{', '.join(available)}")
    if "all" in chosen.covariates:
        covariates = [c for c in available if c not in targets]
    else:
        covariates = [c for c in chosen.covariates if c not in targets]
    categorical_targets = [t for t in targets if t in chosen.categorical]
    if categorical_targets:
        raise SeriesError(table.path, f"target {categorical_targets[0]!r} is categorical; "
                          "targets must be numbers")
    return targets, covariates


def _raw_columns(table: Table, targets: list[str], covariates: list[str],
                 categorical: tuple[str, ...]) -> dict[str, np.ndarray | list]:
    """Every chosen column as read: float arrays (NaN missing) or category lists."""
    return {name: table.categories(name) if name in categorical else table.numeric(name)
            for name in targets + covariates}


def _one_hot(cells: list, categories: list[str]) -> np.ndarray:
    position = {c: i for i, c in enumerate(categories)}
    encoded = np.zeros((len(cells), len(categories)))
    for row, cell in enumerate(cells):
        if cell is None:
            encoded[row] = np.nan
        elif cell in position:
            encoded[row, position[cell]] = 1.0
    return encoded


def feature_matrix(table: Table, feature_names: list[str],
                   categorical: tuple[str, ...] | list[str]) -> np.ndarray:
    """``[N, F]`` raw inputs of ``table`` for a model's ``feature_names`` (targets first;
    ``column=category`` for one-hot inputs of ``categorical`` columns), NaN where missing.
    Raises `SeriesError` naming the file for a column it lacks (e.g. a file that is not the
    one the model was trained on)."""
    columns = []
    for name in feature_names:
        column, _, category = name.partition("=")
        if column in categorical and category:
            if column not in table.cells:
                raise SeriesError(table.path, f"no column {column!r} (the model takes "
                                  f"{', '.join(feature_names)})")
            columns.append(_one_hot(table.categories(column), [category])[:, 0])
        else:
            if name not in table.cells:
                raise SeriesError(table.path, f"no column {name!r} (the model takes "
                                  f"{', '.join(feature_names)})")
            columns.append(table.numeric(name))
    return np.stack(columns, axis=1)


def _split_bounds(n: int, chosen: Settings) -> tuple[int, int, int]:
    """(end of training part, end of validation part, end of test part) of ``n``
    observations; with ``holdout`` those of the nested holdout (the training part's last
    validation-length stretch, the validation part as test; the test part is cut off)."""
    test = int(np.floor(n * chosen.test + 0.5))  # half up, not Python's half to even
    validation = int(np.floor(n * chosen.validation + 0.5))
    train_end, validation_end = n - test - validation, n - test
    if chosen.holdout:
        return train_end - validation, train_end, validation_end
    return train_end, validation_end, n


def _origins(start: int, stop: int, chosen: Settings, observed: np.ndarray) -> np.ndarray:
    """Origins of windows whose targets lie in ``[start, stop)`` and whose inputs start at 0
    or later, stepping by ``stride``; windows with no observed target are left out."""
    first = max(start, chosen.lookback)
    origins = np.arange(first, stop - chosen.horizon + 1, chosen.stride, dtype=np.int64)
    if len(origins):
        any_observed = np.stack([observed[origins + h].any(axis=1)
                                 for h in range(chosen.horizon)], 1).any(axis=1)
        origins = origins[any_observed]
    return origins


def _mase_scale(values: np.ndarray, observed: np.ndarray, season: int,
                notes: list[str], names: list[str]) -> np.ndarray:
    """Mean |y_t - y_{t-season}| over the training part, pairs both observed, per target."""
    scales = []
    for j, name in enumerate(names):
        y, seen = values[:, j], observed[:, j]
        both = seen[season:] & seen[:-season] if len(y) > season else np.zeros(0, bool)
        diffs = np.abs(y[season:] - y[:-season])[both] if both.size else np.zeros(0)
        scale = float(diffs.mean()) if diffs.size else 0.0
        if not scale > 0:
            fallback = float(np.nanstd(y[seen])) if seen.any() else 0.0
            scale = fallback if fallback > 0 else 1.0
            notes.append(f"target {name!r} has no seasonal change on the training part: its "
                         f"MASE is scaled by {scale:.4g} instead")
        scales.append(scale)
    return np.array(scales)


def _solve(matrix: np.ndarray, right: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, right)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, right, rcond=None)[0]


def _complete_training_origins(data: Prepared) -> np.ndarray:
    """Training window origins whose targets are all observed."""
    origins = data.origins["train"]
    _, observed = data.truth(origins)
    return origins[observed.reshape(len(origins), -1).all(axis=1)]


def _inner_cut(count: int) -> int:
    """Where the last fifth (`INNER_VALIDATION`) of ``count`` training windows starts."""
    return min(max(1, int(round(count * (1 - INNER_VALIDATION)))), count - 1)


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    eye = np.eye(x.shape[1])
    eye[-1, -1] = 0.0  # the intercept is not penalized
    return _solve(x.T @ x + penalty * len(x) * eye, x.T @ y)


def fit_linear(data: Prepared) -> None:
    """Ridge regression from the standardized input window to the standardized targets, on
    the training windows whose targets are all observed; the penalty is chosen on the last
    fifth of them (in time order), then the model is refitted on all. Sets ``data.linear``
    and ``data.penalty``."""
    origins = _complete_training_origins(data)
    c = data.targets
    if len(origins) < 2:
        data.linear = np.zeros((data.settings.lookback * len(data.mean) + 1,
                                data.settings.horizon * c))
        data.penalty = None
        data.notes.append("too few complete training windows for the linear baseline: it "
                          "forecasts the training mean")
        return
    x = data.standardized_windows(origins)
    truth, _ = data.truth(origins)
    y = ((truth - data.mean[:c]) / data.std[:c]).reshape(len(origins), -1)
    cut = _inner_cut(len(origins))
    penalty, best = RIDGE_PENALTIES[0], np.inf
    for candidate in RIDGE_PENALTIES:
        coefficients = _ridge(x[:cut], y[:cut], candidate)
        error = float(np.mean(np.abs(x[cut:] @ coefficients - y[cut:])))
        if error < best:
            penalty, best = candidate, error
    data.linear = _ridge(x, y, penalty)
    data.penalty = penalty


def holdout_linear(data: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The linear baseline refitted (with its penalty) on the training windows before the
    last fifth, and the origins of that last fifth: a forecast of training windows the
    coefficients have not seen. With fewer than 2 complete training windows: the baseline's
    own coefficients and all complete training windows."""
    origins = _complete_training_origins(data)
    if len(origins) < 2 or data.penalty is None:
        return np.asarray(data.linear, np.float64), origins
    c, cut = data.targets, _inner_cut(len(origins))
    x = data.standardized_windows(origins[:cut])
    truth, _ = data.truth(origins[:cut])
    y = ((truth - data.mean[:c]) / data.std[:c]).reshape(cut, -1)
    return _ridge(x, y, data.penalty), origins[cut:]


def prepare(path: str | os.PathLike, chosen: Settings) -> Prepared:
    """Read ``path`` and make everything the windows of every split need (cached per file,
    modification time and settings)."""
    path = Path(path).expanduser()
    if path.is_file():
        stat = path.stat()
        return _prepare_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, chosen)
    return _prepare(path, chosen)


@functools.lru_cache(maxsize=8)
def _prepare_cached(path: str, mtime: int, size: int, chosen: Settings) -> Prepared:
    return _prepare(Path(path), chosen)


def _prepare(path: Path, chosen: Settings) -> Prepared:
    table = read_table(path)
    targets, covariates = _choose_columns(table, chosen)
    raw = _raw_columns(table, targets, covariates, chosen.categorical)
    notes: list[str] = []
    # where every input is first observed
    starts = []
    for name, column in raw.items():
        present = (np.array([c is not None for c in column]) if name in chosen.categorical
                   else ~np.isnan(column))
        if not present.any():
            raise SeriesError(path, f"column {name!r} has no values (all missing)")
        starts.append(int(np.argmax(present)))
    start = max(starts)
    if start:
        notes.append(f"lines {table.lines[0]}-{table.lines[start - 1]} left out: not every "
                     "input is observed before line " f"{table.lines[start]}")
    train_end, validation_end, n = _split_bounds(len(table) - start, chosen)
    # the model's scaler and ridge are fitted up to fit_end (through validation with refit);
    # one-hot categories and the MASE scale (a metric's, like the reference ridge's) stay
    # those of the training part, so the refit model reads and is scored on the same windows
    fit_end = validation_end if chosen.refit else train_end
    feature_names = list(targets)
    numeric = [True] * len(targets)
    for name in covariates:
        if name in chosen.categorical:
            train_cells = raw[name][start:start + train_end]
            categories = sorted({c for c in train_cells if c is not None})
            feature_names += [f"{name}={c}" for c in categories]
            numeric += [False] * len(categories)
        else:
            feature_names.append(name)
            numeric.append(True)
    matrix = feature_matrix(table, feature_names, chosen.categorical)[start:start + n]
    target_observed = ~np.isnan(matrix[:, :len(targets)])
    input_observed = ~np.isnan(matrix)
    values = fill_forward(matrix)
    missing = int((~target_observed).sum())
    if missing:
        notes.append(f"{missing} missing target values carried forward as inputs and left "
                     "out of training and scoring")
    season = chosen.season or season_of(table)
    # scaler: observed values of the training part only
    mean = np.zeros(len(feature_names))
    std = np.ones(len(feature_names))
    for j, is_numeric in enumerate(numeric):
        if is_numeric:
            seen = matrix[:fit_end, j][input_observed[:fit_end, j]]
            if seen.size:
                mean[j] = float(seen.mean())
                spread = float(seen.std())
                std[j] = spread if spread > 0 else 1.0
    mase = _mase_scale(values[:train_end], target_observed[:train_end], season, notes, targets)
    data = Prepared(path=path, settings=chosen, feature_names=feature_names,
                    target_names=targets, values=values, observed=target_observed,
                    times=table.times[start:start + n], lines=table.lines[start:start + n],
                    frequency=table.frequency, season=season,
                    bounds=(fit_end, validation_end, n), mean=mean, std=std,
                    mase_scale=mase, origins={}, notes=notes)
    for split in SPLITS:
        first, stop = data._part(split)
        data.origins[split] = _origins(first, stop, chosen, target_observed)
        if not len(data.origins[split]) and not (split == "validation" and chosen.refit):
            _too_short(data, split)
    fit_linear(data)
    return data


def _too_short(data: Prepared, split: str) -> None:
    chosen = data.settings
    need = chosen.lookback + chosen.horizon if split == "train" else chosen.horizon
    what = (f"--lookback {chosen.lookback} + --horizon {chosen.horizon} = {need} observations"
            if split == "train" else f"--horizon {chosen.horizon} observations")
    raise SeriesError(data.path, f"too short for its windows: the {split} part "
                      f"({data.part_lines(split)} of {len(data.lines)}) holds no window of "
                      f"{what} with an observed target; use a shorter --lookback or "
                      "--horizon, or a longer series")


def check_split(split: str) -> str:
    """``split`` if it is one of `SPLITS` (``valid``/``val`` mean validation)."""
    split = {"valid": "validation", "val": "validation"}.get(split, split)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def find_file(path: str | os.PathLike | None) -> Path:
    """The CSV file ``path`` names: the file itself, or the only ``.csv`` in a folder."""
    if path is None:
        raise ValueError("task forecasting needs --data FILE.csv")
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if len(files) != 1:
            listing = ", ".join(f.name for f in files[:6]) or "none"
            raise SeriesError(path, f"a folder with {len(files)} CSV files ({listing}); give "
                              "--data the file to forecast")
        return files[0]
    return path


def windows(path, split: str, **options) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs [W, lookback, F], targets [W, horizon, C, 5])`` of ``split`` as numpy."""
    split = check_split(split)
    data = prepare(find_file(path), settings(**options))
    origins = data.origins[split]
    return data.inputs(origins), data.references(origins)


def load(path: str | os.PathLike | None, split: str = "train", *, target=None,
         covariates=None, categorical=None, lookback: int | None = None,
         horizon: int | None = None, stride: int | None = None, season: int | None = None,
         validation: float | None = None, test: float | None = None, refit: bool = False,
         holdout: bool = False):
    """Unbatched ``tf.data.Dataset`` of ``(inputs [lookback, F], targets [horizon, C, 5])``
    windows of one split of the CSV file ``path`` (see the module docstring; ``refit`` and
    ``holdout`` are the layouts of `Settings`)."""
    import tensorflow as tf

    inputs, targets = windows(path, split, target=target, covariates=covariates,
                              categorical=categorical, lookback=lookback, horizon=horizon,
                              stride=stride, season=season, validation=validation, test=test,
                              refit=refit, holdout=holdout)
    return tf.data.Dataset.from_tensor_slices((inputs, targets))


CALIBRATION_SHIFTS = (0.0, 3.0, -3.0)  # level shifts of calibration windows, in training stds


def representative(path: str | os.PathLike | None, n: int = 100, *, target=None,
                   covariates=None, categorical=None, lookback: int | None = None,
                   horizon: int | None = None, stride: int | None = None,
                   season: int | None = None, validation: float | None = None,
                   test: float | None = None, refit: bool = False,
                   holdout: bool = False) -> list[np.ndarray]:
    """Up to ``n`` inputs ``[1, lookback, F]`` of training windows (spread evenly over the
    training part; with ``refit`` or ``holdout``, that layout's, as `load` reads them) for
    int8 calibration. Every second and third of them has its targets
    shifted up or down by 3 training standard deviations (`CALIBRATION_SHIFTS`): a trend
    carries a series beyond its training range, and int8 ranges calibrated on the training
    part alone clipped the later values (airline passengers, 4.5 standard deviations above the
    training mean by the end: validation MASE 0.89 int8 against 0.67 float)."""
    chosen = settings(target=target, covariates=covariates, categorical=categorical,
                      lookback=lookback, horizon=horizon, stride=stride, season=season,
                      validation=validation, test=test, refit=refit, holdout=holdout)
    data = prepare(find_file(path), chosen)
    inputs = data.inputs(data.origins["train"])
    picks = np.unique(np.linspace(0, len(inputs) - 1, min(n, len(inputs))).astype(int))
    samples = []
    for i, pick in enumerate(picks):
        window = inputs[pick:pick + 1].copy()
        shift = CALIBRATION_SHIFTS[i % len(CALIBRATION_SHIFTS)]
        window[..., :data.targets] += (shift * data.std[:data.targets]).astype(np.float32)
        samples.append(window)
    return samples
