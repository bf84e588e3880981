"""forecasting refit: the ``refit`` and ``holdout`` layouts of the data (what each fits on, no
test value read), the refit's epochs and schedule, and the series table and bench option that
use it."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from rnnzoo.bench import forecasting as forecasting_bench
from rnnzoo.bench.forecasting_refit import summary
from rnnzoo.cli import main
from tasks.forecasting import model_config
from tasks.forecasting.data import LINEAR, prepare, settings, windows
from tasks.forecasting.refit import StopAfter, chosen_epochs, refit_model
from tasks.forecasting.synthetic import rewrite_after, series_values, write_series

OPTIONS = {"lookback": 6, "horizon": 3}
HOURLY = {**OPTIONS, "covariates": "all", "categorical": "wind"}


def test_refit_fits_the_scaler_and_ridge_on_training_and_validation(tmp_path):
    path = write_series(tmp_path / "m.csv", 100, trend=0.5)
    plain = prepare(path, settings(**OPTIONS))
    refit = prepare(path, settings(**OPTIONS, refit=True))
    train_end, validation_end, n = plain.bounds
    assert refit.bounds == (validation_end, validation_end, n)
    values = series_values(100, trend=0.5)[:validation_end]
    assert refit.mean[0] == pytest.approx(values.mean(), abs=1e-4)
    assert refit.std[0] == pytest.approx(values.std(), abs=1e-4)
    # the training windows run through the validation part; no validation windows are left
    assert refit.origins["train"].max() + 3 == validation_end
    assert len(refit.origins["train"]) == len(plain.origins["train"]) + validation_end - train_end
    assert len(refit.origins["validation"]) == 0
    # the MASE scale (a metric's) stays the training part's: the test windows are the same
    assert np.array_equal(refit.mase_scale, plain.mase_scale)
    x_plain, y_plain = windows(path, "test", **OPTIONS)
    x_refit, y_refit = windows(path, "test", **OPTIONS, refit=True)
    assert np.array_equal(x_plain, x_refit)
    keep = [c for c in range(y_plain.shape[-1]) if c != LINEAR]  # the ridge is refitted
    assert np.array_equal(y_plain[..., keep], y_refit[..., keep])
    assert not np.array_equal(plain.linear, refit.linear)


def test_refit_keeps_the_training_parts_categories(tmp_path):
    path = write_series(tmp_path / "h.csv", 150, hourly=True, covariate=True, category=True)
    plain = prepare(path, settings(**HOURLY))
    other = rewrite_after(path, tmp_path / "new-category.csv", plain.bounds[0])
    refit = prepare(other, settings(**HOURLY, refit=True))
    assert refit.feature_names == plain.feature_names  # WEIRD, first seen later: all zeros


def test_no_test_value_reaches_the_refit(tmp_path):
    """Rewrite every value of the test part: the refit's scaler, ridge, training windows and
    model (every base) stay the same, while the test windows change."""
    clean = write_series(tmp_path / "a.csv", 150, hourly=True, covariate=True, category=True,
                         trend=0.05)
    before = prepare(clean, settings(**HOURLY, refit=True))
    other = rewrite_after(clean, tmp_path / "b.csv", before.bounds[1])
    after = prepare(other, settings(**HOURLY, refit=True))
    assert after.bounds == before.bounds and after.feature_names == before.feature_names
    for name in ("mean", "std", "mase_scale", "linear"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), name
    for a, b in zip(windows(clean, "train", **HOURLY, refit=True),
                    windows(other, "train", **HOURLY, refit=True), strict=True):
        assert np.array_equal(a, b)
    for base in ("seasonal", "ridge", "blend"):
        assert model_config(before, base=base) == model_config(after, base=base), base
    assert not np.array_equal(windows(clean, "test", **HOURLY, refit=True)[1],
                              windows(other, "test", **HOURLY, refit=True)[1])


def test_holdout_shifts_the_parts_back_and_reads_nothing_after_validation(tmp_path):
    clean = write_series(tmp_path / "a.csv", 200, hourly=True, covariate=True, category=True,
                         trend=0.05)
    plain = prepare(clean, settings(**HOURLY))
    train_end, validation_end, _ = plain.bounds
    length = validation_end - train_end
    nested = prepare(clean, settings(**HOURLY, holdout=True))
    assert nested.bounds == (train_end - length, train_end, validation_end)
    assert len(nested.values) == validation_end
    # its test windows are the validation windows
    x, y = windows(clean, "validation", **HOURLY)
    x_nested, y_nested = windows(clean, "test", **HOURLY, holdout=True)
    assert np.array_equal(x, x_nested) and np.array_equal(y[..., 0, 0], y_nested[..., 0, 0])
    # nothing from the validation part on reaches its fitting, refitted or not
    other = rewrite_after(clean, tmp_path / "b.csv", train_end)
    for refit in (False, True):
        before = prepare(clean, settings(**HOURLY, holdout=True, refit=refit))
        after = prepare(other, settings(**HOURLY, holdout=True, refit=refit))
        for name in ("mean", "std", "mase_scale", "linear"):
            assert np.array_equal(getattr(before, name), getattr(after, name)), (name, refit)
        assert np.array_equal(windows(clean, "train", **HOURLY, holdout=True, refit=refit)[0],
                              windows(other, "train", **HOURLY, holdout=True, refit=refit)[0])
    # refitted, the nested holdout trains on the whole training part, as the plain layout
    both = prepare(clean, settings(**HOURLY, holdout=True, refit=True))
    assert np.array_equal(both.origins["train"], plain.origins["train"])
    assert np.allclose(both.mean, plain.mean) and np.allclose(both.linear, plain.linear)


@pytest.mark.parametrize(("option", "value"), [("refit", "yes"), ("holdout", 1)])
def test_layout_options_must_be_booleans(option, value):
    with pytest.raises(ValueError, match=option):
        settings(**{option: value})


def test_chosen_epochs_are_those_of_the_best_validation_loss():
    result = SimpleNamespace(history={"val_loss": [3.0, 1.0, 2.0, 1.5]}, epochs_completed=4)
    assert chosen_epochs(result) == 2
    assert chosen_epochs(SimpleNamespace(history={"loss": [1.0]}, epochs_completed=7)) == 7
    with pytest.raises(ValueError, match="at least 1"):
        StopAfter(0)


def test_refit_model_trains_the_chosen_epochs_on_the_schedule_of_the_whole_run(tmp_path):
    path = write_series(tmp_path / "m.csv", 120, trend=0.05)
    args = forecasting_bench._model_options(["--units", "4"])
    training = {"epochs": 8, "batch_size": 16, "learning_rate": 1e-2}
    model, result = refit_model(path, OPTIONS, args, training, tmp_path / "run", base="ridge",
                                scale="none", epochs=3, seed=0)
    assert result.epochs_completed == 3 and "val_loss" not in result.history
    steps = 3 * (len(prepare(path, settings(**OPTIONS, refit=True)).origins["train"]) // 16)
    assert result.optimizer_steps == steps
    # the cosine spans the run's 8 epochs: after 3 of them the rate is not 0 but its value there
    expected = 0.5 * 1e-2 * (1 + math.cos(math.pi * 3 / 8))
    assert float(model.optimizer.learning_rate) == pytest.approx(expected, rel=1e-4)
    refit = prepare(path, settings(**OPTIONS, refit=True))
    assert model.rnnzoo_config["mean"] == pytest.approx(list(refit.mean))
    assert np.allclose(model.rnnzoo_config["coefficients"], refit.linear)
    x, _ = windows(path, "test", **OPTIONS)  # reads the plain layout's windows
    assert model.predict_on_batch(x).shape[0] == len(x)


def test_summary_counts_and_takes_the_geometric_mean():
    rows = {"a": {"mase": 0.5}, "b": {"mase": 2.0}, "c": {"mase": 0.8}, "d": {"error": "x"}}
    result = summary(rows, "mase")
    assert result["below_1"] == 2 and result["series"] == 3
    assert result["geometric_mean"] == pytest.approx(0.8 ** (1 / 3))


@pytest.mark.slow
def test_series_table_refits_and_the_bench_takes_refit(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "root" / "timeseries"
    write_series(folder / "monthly.csv", 120, trend=0.05)
    write_series(folder / "skipped.csv", 120)
    monkeypatch.setenv("RNNZOO_DATA", str(tmp_path / "root"))
    table = forecasting_bench.series_table(True, split="test", refit=True, seed=1,
                                           data_options={"holdout": True},
                                           skip=("skipped.csv",))
    row = table["series"]["monthly.csv"]
    assert set(table["series"]) == {"monthly.csv"}
    assert row["refit_epochs"] <= row["epochs"] <= 2 and row["mase_first_fit"] > 0
    assert row["mase"] != row["mase_first_fit"]  # another model: more data, refitted scaler
    assert table["configuration"]["refit"] and table["configuration"]["seed"] == 1
    assert "no refit" in "\n".join(forecasting_bench.series_lines(table))
    with pytest.raises(ValueError, match="refit trains on the validation part"):
        forecasting_bench.series_table(True, split="validation", refit=True)
    # the option of `rnnzoo bench`: taken by forecasting, refused by a benchmark without it
    monkeypatch.setattr(forecasting_bench, "run",
                        lambda quick=False, refit=None: {"refit": refit})
    monkeypatch.setattr(forecasting_bench, "table", lambda result: json.dumps(result))
    assert main(["bench", "forecasting", "--refit", "--out", str(tmp_path / "r.json")]) == 0
    assert '"refit": true' in capsys.readouterr().out
    assert main(["bench", "layers", "--refit"]) == 2
    assert "--refit" in capsys.readouterr().err


def test_the_nested_holdout_without_data_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from rnnzoo.bench import forecasting_refit

    monkeypatch.setenv("RNNZOO_DATA", str(tmp_path))  # no timeseries folder there
    assert forecasting_refit.main(["--seeds", "0"]) == 2
    assert "timeseries folder" in capsys.readouterr().err


def test_calibration_windows_follow_the_refit_layout(tmp_path):
    from tasks.forecasting.data import representative

    path = write_series(tmp_path / "m.csv", 100, trend=0.5)
    plain = prepare(path, settings(**OPTIONS))
    refit = prepare(path, settings(**OPTIONS, refit=True))
    assert len(representative(path, 1000, **OPTIONS)) == len(plain.origins["train"])
    assert len(representative(path, 1000, **OPTIONS, refit=True)) == len(refit.origins["train"])
    assert len(refit.origins["train"]) > len(plain.origins["train"])
