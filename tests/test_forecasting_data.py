"""forecasting: reading CSV series, missing values, the chronological split, windows, the
training-only scaler and baselines, and that no validation or test value leaks into training."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.forecasting import data as fdata
from tasks.forecasting.data import (
    LINEAR,
    MASE_SCALE,
    OBSERVED,
    SEASONAL_NAIVE,
    TRUTH,
    fill_forward,
    prepare,
    representative,
    settings,
    windows,
)
from tasks.forecasting.series import SeriesError, read_table
from tasks.forecasting.synthetic import rewrite_after, series_values, write_series


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# --- reading -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("stamps", "frequency", "season"), [
    (["1949-01", "1949-02", "1949-03"], "monthly", 12),
    (["1-01", "1-02", "1-03"], "monthly", 12),  # shampoo, writing paper: year 1, 2, ...
    (["1885", "1886", "1887"], "yearly", 1),
    (["1981-01-01", "1981-01-02", "1981-01-04"], "daily", 1),  # gaps are allowed
    (["2010-01-01 00:00", "2010-01-01 01:00", "2010-01-01T02:00"], "hourly", 24),
])
def test_timestamp_forms_and_their_seasons(tmp_path, stamps, frequency, season):
    rows = "\n".join(f'"{s}",{i}' for i, s in enumerate(stamps))
    table = read_table(_write(tmp_path / "s.csv", f'"Date","Value"\n{rows}'))
    assert table.frequency == frequency and table.times == stamps
    assert fdata.season_of(table) == season
    assert table.value_columns == ["Value"] and table.lines == [2, 3, 4]


def test_calendar_part_columns_make_the_timestamp_and_index_columns_are_left_out(tmp_path):
    path = write_series(tmp_path / "h.csv", 30, hourly=True, category=True)
    table = read_table(path)
    assert table.time_columns == ["year", "month", "day", "hour"]
    assert table.value_columns == ["value", "wind"]  # "No" is a row number
    assert table.frequency == "hourly" and table.times[1] == "2010-01-01 01:00"


@pytest.mark.parametrize(("text", "problem"), [
    ('"Month","Sales"\n"1960-01",1\n"1960-03",2\n"1960-02",3\n',
     "line 4: timestamp '1960-02' goes backwards from line 3's"),
    ('"Month","Sales"\n"1960-01",1\n"1960-01",2\n', "line 3: timestamp '1960-01' repeats line 2's"),
    ('"Month","Sales"\n"1960-01",1\n"1960-02",lots\n',
     "line 3: column 'Sales' holds 'lots', not a number"),
    ('"Month","Sales"\n"1960-01",1\n"1960-02",2,9\n', "line 3: 3 fields, the header has 2"),
    ('"Date","Sales"\n"31/01/1960",1\n', "line 2: timestamp '31/01/1960' is not in year-first"),
    ('"Month","Sales"\n"Jan-60",1\n', "line 2: timestamp 'Jan-60' in column 'Month' is not"),
    ('"Month","Sales"\n"1960-01",1\n"1960-01-15",2\n', "line 3: timestamp '1960-01-15' is not of"),
    ('"Month","Sales"\n', "no observations after the header"),
    ("", "empty file"),
    ('"Month"\n"1960-01"\n', "no value column"),
])
def test_bad_files_are_errors_naming_the_file_and_line(tmp_path, text, problem):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(SeriesError) as caught:
        prepare(path, settings(lookback=1, horizon=1))
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)


def test_a_text_column_must_be_named_categorical(tmp_path):
    path = write_series(tmp_path / "h.csv", 60, hourly=True, category=True)
    with pytest.raises(SeriesError, match=r"line 2: column 'wind' holds 'NE', not a number "
                                          r"\(name it with --categorical"):
        prepare(path, settings(covariates="wind", lookback=4, horizon=2))
    data = prepare(path, settings(covariates="all", categorical="wind", lookback=4, horizon=2))
    assert data.feature_names == ["value", "wind=NE", "wind=NW", "wind=SE"]
    assert data.mean[1:].tolist() == [0, 0, 0] and data.std[1:].tolist() == [1, 1, 1]
    x, _ = windows(path, "train", covariates="all", categorical="wind", lookback=4, horizon=2)
    assert x.shape[1:] == (4, 4) and set(np.unique(x[..., 1:])) == {0.0, 1.0}


def test_unknown_columns_and_a_missing_file(tmp_path):
    path = write_series(tmp_path / "m.csv", 60)
    with pytest.raises(SeriesError, match="no column 'sales'; its value columns are value"):
        prepare(path, settings(target="sales"))
    with pytest.raises(FileNotFoundError, match="no such time-series file"):
        prepare(tmp_path / "none.csv", settings())


def test_a_series_too_short_for_its_window_names_the_file_and_the_part(tmp_path):
    path = write_series(tmp_path / "short.csv", 30)
    with pytest.raises(SeriesError, match=r"short.csv: too short for its windows: the train part "
                                          r"\(lines 2-21 \(20 observations\) of 30\) holds no "
                                          r"window of --lookback 20 \+ --horizon 3"):
        prepare(path, settings(lookback=20, horizon=3))
    with pytest.raises(SeriesError, match=r"the validation part \(lines 22-26 \(5 observations\) "
                                          r"of 30\) holds no window of --horizon 6"):
        prepare(path, settings(lookback=2, horizon=6))


@pytest.mark.parametrize(("option", "value", "match"), [
    ("lookback", 0, "lookback must be a positive whole number"),
    ("horizon", 1.5, "horizon must be"),
    ("test", 0.6, "test fraction must be above 0 and below 0.5"),
    ("season", 0, "season must be"),
])
def test_bad_options_are_errors_naming_them(option, value, match):
    with pytest.raises(ValueError, match=match):
        settings(**{option: value})


# --- missing values -------------------------------------------------------------------------

def test_fill_forward_uses_only_earlier_values():
    values = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [5.0, 6.0]])
    filled = fill_forward(values)
    assert np.isnan(filled[0, 0]) and filled[1:, 0].tolist() == [2, 2, 5]
    assert filled[:, 1].tolist() == [1, 1, 1, 6]


def test_missing_targets_are_filled_as_inputs_and_not_scored(tmp_path):
    path = write_series(tmp_path / "na.csv", 80, hourly=True, missing=(0, 1, 40, 41))
    data = prepare(path, settings(lookback=4, horizon=2))
    assert data.lines[0] == 4 and "lines 2-3 left out" in data.notes[0]  # leading NAs dropped
    row = data.lines.index(42)  # file line 42 = row 40 (0-based), missing
    assert not data.observed[row, 0] and data.values[row, 0] == data.values[row - 1, 0]
    x, y = windows(path, "train", lookback=4, horizon=2)
    # the window whose targets are both missing is left out; others flag the missing one
    assert y[..., OBSERVED].min() == 0 and y[..., OBSERVED].reshape(len(y), -1).any(1).all()
    assert (y[..., TRUTH][y[..., OBSERVED] == 0] == 0).all()
    assert not np.isnan(x).any()


# --- split, windows, scaler ------------------------------------------------------------------

def test_split_is_chronological_and_windows_stay_in_their_part(tmp_path):
    path = write_series(tmp_path / "m.csv", 100)
    data = prepare(path, settings(lookback=5, horizon=3))
    train_end, validation_end, n = data.bounds
    assert (train_end, validation_end, n) == (70, 85, 100)
    train, validation, test = (data.origins[s] for s in ("train", "validation", "test"))
    assert train.min() == 5 and train.max() + 3 <= train_end
    assert validation.min() == train_end and validation.max() + 3 <= validation_end
    assert test.min() == validation_end and test.max() + 3 == n
    assert len(train) == 70 - 5 - 3 + 1 and len(test) == 15 - 3 + 1


def test_lookback_horizon_and_stride_shape_the_windows(tmp_path):
    path = write_series(tmp_path / "m.csv", 100)
    x, y = windows(path, "train", lookback=7, horizon=4, stride=5)
    assert x.shape == (12, 7, 1) and y.shape == (12, 4, 1, 5)
    values = series_values(100)
    assert np.allclose(x[1, :, 0], values[5:12], atol=1e-4)  # origin 7 + 5
    assert np.allclose(y[1, :, 0, TRUTH], values[12:16], atol=1e-4)


def test_scaler_and_mase_scale_come_from_the_training_part(tmp_path):
    path = write_series(tmp_path / "m.csv", 100, trend=0.5)
    data = prepare(path, settings())
    values = series_values(100, trend=0.5)[:70]
    assert data.mean[0] == pytest.approx(values.mean(), abs=1e-4)
    assert data.std[0] == pytest.approx(values.std(), abs=1e-4)
    assert data.mase_scale[0] == pytest.approx(np.abs(values[12:] - values[:-12]).mean(),
                                               abs=1e-4)


def _training_view(path, **options):
    data = prepare(path, settings(**options))
    x, y = windows(path, "train", **options)
    return data, x, y


@pytest.mark.parametrize("options", [
    {"lookback": 6, "horizon": 3},
    {"lookback": 6, "horizon": 3, "covariates": "all", "categorical": "wind"},
])
def test_no_validation_or_test_value_reaches_the_scaler_or_the_training_windows(tmp_path,
                                                                              options):
    """Rewrite every value after the training part (wildly, with new categories and missing
    values): the scaler, MASE scale, linear baseline, model inputs and training windows stay
    the same, and so does the model of every base (``auto`` chooses among them on the
    validation part by design; tests/test_forecasting_bases.py shows it ignores the test
    part)."""
    from tasks.forecasting import model_config

    clean = write_series(tmp_path / "a.csv", 150, hourly=True, covariate=True, category=True,
                         trend=0.05)
    before, x_before, y_before = _training_view(clean, **options)
    train_end = before.bounds[0]
    other = rewrite_after(clean, tmp_path / "b.csv", train_end)
    after, x_after, y_after = _training_view(other, **options)
    assert after.bounds == before.bounds and after.feature_names == before.feature_names
    for name in ("mean", "std", "mase_scale", "linear"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), name
    assert before.penalty == after.penalty
    assert np.array_equal(x_before, x_after) and np.array_equal(y_before, y_after)
    for base in ("seasonal", "ridge", "blend"):
        assert model_config(before, base=base) == model_config(after, base=base), base
    # and the later parts did change: the test windows see the new values
    assert not np.array_equal(windows(clean, "test", **options)[1],
                              windows(other, "test", **options)[1])


def test_validation_and_test_windows_look_back_into_the_parts_before(tmp_path):
    path = write_series(tmp_path / "m.csv", 100)
    x, _ = windows(path, "validation", lookback=8, horizon=2)
    assert np.allclose(x[0, :, 0], series_values(100)[62:70], atol=1e-4)


# --- baselines -------------------------------------------------------------------------------

def test_seasonal_naive_repeats_the_last_season(tmp_path):
    path = write_series(tmp_path / "m.csv", 120, noise=0.0)
    _, y = windows(path, "test", lookback=12, horizon=14)
    # a noiseless wave: the seasonal-naive forecast is exact, also 13-14 steps ahead
    assert np.allclose(y[..., SEASONAL_NAIVE], y[..., TRUTH], atol=1e-3)
    assert y[..., MASE_SCALE].min() == y[..., MASE_SCALE].max()


def test_seasonal_naive_with_season_one_is_the_last_value(tmp_path):
    path = write_series(tmp_path / "m.csv", 60)
    x, y = windows(path, "test", lookback=3, horizon=2, season=1)
    assert np.allclose(y[..., SEASONAL_NAIVE], x[:, -1:, None, 0], atol=1e-6)


def test_linear_baseline_learns_a_linear_series_and_beats_seasonal_naive(tmp_path):
    path = write_series(tmp_path / "m.csv", 200, trend=0.3, noise=0.0)
    _, y = windows(path, "test", lookback=12, horizon=3)
    linear = np.abs(y[..., LINEAR] - y[..., TRUTH]).mean()
    naive = np.abs(y[..., SEASONAL_NAIVE] - y[..., TRUTH]).mean()
    assert linear < 0.05 * naive


# --- calibration data ------------------------------------------------------------------------

def test_representative_takes_training_windows_some_shifted(tmp_path):
    path = write_series(tmp_path / "m.csv", 100)
    samples = representative(path, 30, lookback=6, horizon=2)
    data = prepare(path, settings(lookback=6, horizon=2))
    train_x, _ = windows(path, "train", lookback=6, horizon=2)
    assert len(samples) == 30 and all(s.shape == (1, 6, 1) for s in samples)
    assert any(np.array_equal(samples[0][0], w) for w in train_x)
    shift = samples[1][0] - train_x[np.argmin(np.abs(train_x - samples[1][0]
                                                      + 3 * data.std[0]).sum((1, 2)))]
    assert np.allclose(shift, 3 * data.std[0], atol=1e-4)
    with pytest.raises(FileNotFoundError):
        representative(tmp_path / "none.csv", 3)


@pytest.mark.data
def test_every_shared_series_reads_with_the_defaults(shared_data):
    folder = shared_data / "timeseries"
    files = sorted(folder.glob("*.csv"))
    assert len(files) >= 13
    for path in files:
        data = prepare(path, settings())
        assert all(len(data.origins[s]) for s in fdata.SPLITS), path
    pm = prepare(folder / "pollution.csv", settings(
        target="pm2.5", covariates="all", categorical="cbwd", lookback=24, horizon=24))
    assert pm.frequency == "hourly" and pm.season == 24
    assert pm.feature_names[:2] == ["pm2.5", "DEWP"] and "cbwd=NW" in pm.feature_names
    assert not pm.observed.all() and not np.isnan(pm.values).any()
