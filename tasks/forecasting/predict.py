"""``rnnzoo predict`` for forecasters: a forecast from a point of a CSV series, and a plot.

``rnnzoo predict PRESET [FILE.csv] [--at WHEN] [--plot FILE.png]``: the forecast of the
``horizon`` observations that follow the last ``lookback`` observations before ``--at`` (a
timestamp of the file, e.g. ``2014-12-01 00:00``, or a line number; default: after the end
of the file, a forecast of the future). Without FILE, the series the preset was trained on.
The file is read as the preset's data was (its target, covariate and categorical columns,
missing inputs carried forward); the model standardizes the values itself. Where the file
holds the observations forecast, they are shown as the truth beside the forecast.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from tasks.common.figures import save_figure
from tasks.forecasting.data import feature_matrix, fill_forward
from tasks.forecasting.metrics import quantile_levels
from tasks.forecasting.series import SeriesError, Table, read_table

HISTORY_COLOR, FORECAST_COLOR, TRUTH_COLOR = "#4c72b0", "#dd8452", "#2a2a2a"


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", metavar="WHEN",
                        help="first forecast step: a timestamp of the file (year first, e.g. "
                             "2014-12-01 00:00) or a line number (default: after the last line)")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="write a PNG of the history, the forecast (with its interval, for "
                             "quantile models) and the truth where the file has it")
    parser.add_argument("--history", type=int, metavar="N",
                        help="observations of history in the plot (default: 4 x horizon, at "
                             "least the lookback)")


def _origin(table: Table, at: str | None, start: int) -> int:
    """The row index of the first forecast step (len(table) = after the last line)."""
    if at is None:
        return len(table)
    text = at.strip()
    if text.isdigit() and int(text) in table.lines:
        return table.lines.index(int(text))
    wanted = tuple(int(n) for n in re.findall(r"\d+", text))
    if wanted:  # numbers left off at either end count as zeros (2014-12-01 = ... 00:00)
        for row, key in enumerate(table.keys):
            width = max(len(key), len(wanted))
            if key + (0,) * (width - len(key)) == wanted + (0,) * (width - len(wanted)):
                return row
    raise SeriesError(table.path, f"--at {at!r}: no line with that timestamp or line number "
                      f"(lines {table.lines[start]}-{table.lines[-1]}, timestamps "
                      f"{table.times[start]!r} to {table.times[-1]!r})")


def forecast_at(preset, path: str | Path, at: str | None = None) -> dict:
    """The forecast of ``preset`` from ``--at`` in the CSV file ``path`` (see the module
    docstring), with the history before it and the truth after it where the file has them."""
    config = preset.model.rnnzoo_config
    options = preset.card.get("data_options", {})
    table = read_table(path)
    categorical = options.get("categorical") or []
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    names = config.get("feature_names") or table.value_columns[:config["features"]]
    raw = feature_matrix(table, names, categorical)
    values = fill_forward(raw)
    complete = ~np.isnan(values).any(axis=1)
    if not complete.any():
        raise SeriesError(table.path, "no line where every input of the model is observed")
    start = int(np.argmax(complete))
    origin = _origin(table, at, start)
    lookback, horizon, targets = config["lookback"], config["horizon"], config["targets"]
    if origin - lookback < start:
        raise SeriesError(table.path, f"--at line {table.lines[min(origin, len(table) - 1)]}: "
                          f"the forecast needs the {lookback} observations before it, and the "
                          f"series starts at line {table.lines[start]}")
    window = values[origin - lookback:origin].astype(np.float32)
    outputs = np.asarray(preset.model.predict_on_batch(window[None]))[0]
    first = max(start, origin - max(lookback, 4 * horizon))
    result = {"file": str(path), "origin": _origin_text(table, origin),
              "origin_line": table.lines[origin] if origin < len(table) else None,
              "targets": (config.get("target_names") or names)[:targets],
              "steps": [_stamp(table, origin + k) for k in range(horizon)],
              "history": raw[first:origin, :targets].tolist(),
              "history_steps": [_stamp(table, i) for i in range(first, origin)]}
    if outputs.ndim == 3:  # [horizon, targets, quantiles]
        levels = quantile_levels(outputs.shape[-1])
        result.update(forecast=outputs[..., outputs.shape[-1] // 2].tolist(),
                      lower=outputs[..., 0].tolist(), upper=outputs[..., -1].tolist(),
                      interval=float(levels[-1] - levels[0]))
    else:
        result["forecast"] = outputs.tolist()
    stop = min(origin + horizon, len(table))
    truth = np.full((horizon, targets), np.nan)
    truth[:stop - origin] = raw[origin:stop, :targets]
    result["truth"] = [[None if np.isnan(v) else float(v) for v in row] for row in truth]
    return result


def _stamp(table: Table, row: int) -> str:
    """The timestamp of ``row`` (its line without time columns); ``+k`` past the end."""
    if row < len(table):
        return table.times[row] or f"line {table.lines[row]}"
    return f"+{row - len(table) + 1}"


def _origin_text(table: Table, origin: int) -> str:
    if origin < len(table):
        return _stamp(table, origin)
    return f"after {_stamp(table, len(table) - 1)}"


def plot_forecast(result: dict, path: str | Path, *, history: int | None = None,
                  title: str = "") -> Path:
    """A PNG of ``result`` (`forecast_at`): for each target the history, the forecast with its
    interval where there is one, and the truth, against observations from the origin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    forecast = np.asarray(result["forecast"], np.float64)
    horizon, targets = forecast.shape
    past = np.asarray(result["history"], np.float64).reshape(-1, targets)
    keep = len(past) if history is None else max(1, min(history, len(past)))
    past = past[len(past) - keep:]
    truth = np.array([[np.nan if v is None else v for v in row] for row in result["truth"]])
    fig, axes = plt.subplots(targets, 1, figsize=(9, 3.2 * targets), dpi=100, squeeze=False)
    # the last observation at 0, the forecast steps at +1 .. +horizon, as the table numbers them
    before, after = np.arange(1 - len(past), 1), np.arange(1, horizon + 1)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(before, past[:, j], color=HISTORY_COLOR, linewidth=1.2, label="history")
        if "lower" in result:
            lower = np.asarray(result["lower"])[:, j]
            upper = np.asarray(result["upper"])[:, j]
            ax.fill_between(after, lower, upper, color=FORECAST_COLOR, alpha=0.25,
                            label=f"{round(100 * result['interval'])} % interval")
        ax.plot(after, forecast[:, j], color=FORECAST_COLOR, linewidth=1.6, marker=".",
                label="forecast")
        if not np.isnan(truth[:, j]).all():
            ax.plot(after, truth[:, j], color=TRUTH_COLOR, linewidth=0, marker="o",
                    markersize=3.5, label="truth")
        ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel(result["targets"][j])
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel(f"steps from the last observation ({result['origin']})")
    axes[0, 0].set_title(title or f"forecast from {result['origin']}")
    return save_figure(fig, path)


def predict(preset, args: argparse.Namespace) -> dict:
    """``rnnzoo predict``: print (unless ``--json``) and return the forecast."""
    import tasks
    from tasks.common.data_paths import resolve_data
    from tasks.forecasting.data import find_file

    if len(args.inputs) > 1:
        raise ValueError("give one CSV file to forecast from")
    if args.history is not None and args.history < 1:
        raise ValueError(f"--history must be positive, got {args.history}")
    source = args.inputs[0] if args.inputs else resolve_data(
        None, preset.card, tasks.get_task("forecasting"))
    result = forecast_at(preset, find_file(source), args.at)
    if args.plot:
        result["plot"] = str(plot_forecast(result, args.plot, history=args.history,
                                           title=f"{preset.name}: forecast from "
                                                 f"{result['origin']}"))
    if not args.json:
        _print(result)
    return result


def _print(result: dict) -> None:
    names = result["targets"]
    quantiles = "lower" in result
    print(f"forecast from {result['origin']} ({Path(result['file']).name}):")
    header = f"{'step':<20}" + "".join(f" {name:>15}" for name in names)
    if quantiles:
        share = round(100 * result["interval"])
        header += "".join(f" {name + f' {share} % interval':>28}" for name in names)
    header += "".join(f" {name + ' truth':>15}" for name in names)
    print(header)
    for k, step in enumerate(result["steps"]):
        line = f"{step:<20}" + "".join(f" {v:>15.4g}" for v in result["forecast"][k])
        if quantiles:
            bounds = zip(result["lower"][k], result["upper"][k])
            line += "".join(f" {f'[{lo:.4g}, {hi:.4g}]':>28}" for lo, hi in bounds)
        truth = ["-" if v is None else format(v, ".4g") for v in result["truth"][k]]
        line += "".join(f" {v:>15}" for v in truth)
        print(line)
    if result.get("plot"):
        print(f"plot written to {result['plot']}")
