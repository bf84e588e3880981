"""forecasting through the command line: train, evaluate, predict --plot, export with the step
model's states, evaluate of the exported files, bad input; and that training beats the
baselines."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import tasks
import zoo
from rnnzoo.cli import main
from tasks.forecasting import model_config
from tasks.forecasting.data import prepare, settings, windows
from tasks.forecasting.metrics import ForecastLoss, forecast_metrics
from tasks.forecasting.synthetic import write_series

TINY = ["--lookback", "8", "--horizon", "3", "--units", "8", "--epochs", "3",
        "--batch-size", "16", "--quiet"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forecasting")
    return write_series(folder / "hourly.csv", 240, season=24, hourly=True, covariate=True,
                        category=True, missing=(100, 101, 150))


@pytest.fixture(scope="module")
def trained(series):
    out = series.parent / "run"
    code = main(["train", "forecasting", "--data", str(series), "--out", str(out), *TINY,
                 "--covariates", "all", "--categorical", "wind", "--quantiles", "3",
                 "--season", "4", "--base", "seasonal"])  # its memory: a state of the step form
    assert code == 0
    return out


def test_the_task_is_registered_with_its_builders():
    task = tasks.get_task("forecasting")
    assert "forecasting" in tasks.list_tasks()
    assert set(task.builders) == set(zoo.list_models(task="forecasting"))
    assert task.primary_metric == "mase" and task.lower_is_better


@pytest.mark.slow
def test_train_records_the_data_options_and_evaluate_scores_the_test_split(trained, capsys):
    preset = zoo.load(trained / "preset")
    card = preset.card
    assert card["task"] == "forecasting" and card["split"] == "validation"
    assert card["data_options"] == {"covariates": ["all"], "categorical": ["wind"],
                                    "lookback": 8, "horizon": 3, "season": 4}
    config = preset.model.rnnzoo_config
    assert config["feature_names"] == ["value", "lead", "wind=NE", "wind=NW", "wind=SE"]
    assert config["quantiles"] == 3 and config["season"] == 4 and config["base"] == "seasonal"
    code, out, err = run_cli(capsys, "evaluate", trained, "--json")
    assert code == 0, err
    figures = json.loads(out)["metrics"]
    assert {"mase", "mae", "rmse", "seasonal_naive_mase", "linear_mase", "coverage"} <= set(
        figures)


@pytest.mark.slow
def test_predict_prints_a_forecast_and_plots_it(trained, series, tmp_path, capsys):
    png = tmp_path / "forecast.png"
    code, out, err = run_cli(capsys, "predict", trained, series, "--at", "2010-01-09 00:00",
                             "--plot", png)
    assert code == 0, err
    assert "forecast from 2010-01-09 00:00" in out and "value 67 % interval" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run_cli(capsys, "predict", trained, "--json")  # the card's data, its end
    result = json.loads(out)
    assert code == 0 and result["origin"].startswith("after ") and len(result["forecast"]) == 3
    assert all(v is None for row in result["truth"] for v in row)
    lower, upper = np.array(result["lower"]), np.array(result["upper"])
    assert (lower <= np.array(result["forecast"])).all() and (
        np.array(result["forecast"]) <= upper).all()


@pytest.mark.slow
def test_export_has_a_step_model_with_states_and_evaluate_scores_the_files(trained, series,
                                                                         tmp_path, capsys):
    out = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", trained, "--out", out, "--quantize", "fp32,int8")
    assert code == 0, err
    metadata = json.loads((out / "metadata.json").read_text())
    states = metadata["files"]["step.fp32.tflite"]["states"]
    # the LSTM's h and c (8 units) and the season memory (4 steps of the target)
    assert sorted(states.values()) == [4, 8, 8], states
    lstm = [n for n, size in states.items() if size == 8]
    assert sorted(n[:8] for n in lstm) == ["state_c_", "state_h_"]
    # (data outside the data root: an export keeps no absolute path, so --data names it)
    code, text, err = run_cli(capsys, "evaluate", out, "--data", series, "--json")
    assert code == 0, err
    scores = {row["model"].split("/")[-1]: row["metrics"] for row in json.loads(text)}
    assert set(scores) == {"sequence.fp32.tflite", "sequence.int8.tflite",
                           "step.fp32.tflite", "step.int8.tflite"}
    code, text, _ = run_cli(capsys, "evaluate", trained, "--json")
    keras_mase = json.loads(text)["metrics"]["mase"]
    assert scores["sequence.fp32.tflite"]["mase"] == pytest.approx(keras_mase, rel=1e-4)
    assert scores["step.fp32.tflite"]["mase"] == pytest.approx(keras_mase, rel=1e-4)
    assert scores["step.int8.tflite"]["mase"] == pytest.approx(keras_mase, rel=0.05)
    assert scores["sequence.int8.tflite"]["mase"] == pytest.approx(keras_mase, rel=0.05)


@pytest.mark.parametrize(("argv", "problem"), [
    (["--covariates", "wind"], "column 'wind' holds 'NE', not a number"),
    (["--lookback", "500"], "too short for its windows"),
    (["--target", "pm2.5"], "no column 'pm2.5'"),
])
def test_bad_input_is_one_line_and_exit_2(series, tmp_path, capsys, argv, problem):
    code, _, err = run_cli(capsys, "train", "forecasting", "--data", series, "--out",
                           tmp_path / "run", *argv)
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1, err
    assert str(series) in err


def test_a_folder_of_several_series_needs_the_file(series, tmp_path, capsys):
    write_series(tmp_path / "a.csv", 50)
    write_series(tmp_path / "b.csv", 50)
    code, _, err = run_cli(capsys, "train", "forecasting", "--data", tmp_path, "--out",
                           tmp_path / "run")
    assert code == 2 and "a folder with 2 CSV files (a.csv, b.csv)" in err


@pytest.mark.slow
def test_a_short_training_beats_the_seasonal_naive_baseline(tmp_path):
    """A noisy seasonal series with a trend, which the seasonal-naive forecast misses: a small
    LSTM trained for seconds beats it."""
    path = write_series(tmp_path / "m.csv", 600, season=12, trend=0.1, noise=0.2, seed=3)
    data = prepare(path, settings(lookback=24, horizon=3))
    builder, config = model_config(data, units=[16])
    keras.utils.set_random_seed(0)
    model = zoo.build(builder, **config)
    model.compile(keras.optimizers.Adam(3e-3), ForecastLoss())
    x, y = windows(path, "train", lookback=24, horizon=3)
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    x, y = windows(path, "test", lookback=24, horizon=3)
    figures = forecast_metrics(model.predict_on_batch(x), y)
    assert figures["mase"] < figures["seasonal_naive_mase"], figures
    assert figures["mase"] < 1.0, figures
