"""Task ``forecasting``: multi-step forecasts of CSV time series, against two baselines.

Data: `tasks.forecasting.series` (the CSV format), `tasks.forecasting.data` (columns,
missing values, chronological split, training-only scaling, windows); metrics and the loss:
`tasks.forecasting.metrics`; models: `zoo.timeseries`; ``rnnzoo predict``:
`tasks.forecasting.predict`.
"""

from __future__ import annotations

import argparse

from tasks.common.task import Task
from tasks.forecasting import scaling
from tasks.forecasting.bases import CHOICES, choose_base, coefficients
from tasks.forecasting.data import DEFAULTS, find_file, load, prepare, representative, settings
from tasks.forecasting.metrics import ForecastLoss, metric

MODES = ("direct", "ar")
BASE_CHOICES = ("auto", "seasonal", "last", "linear", "ridge", "blend", "none")
DEFAULT_BASE = "auto"
DEFAULT_SCALE = "none"
DEFAULT_ENSEMBLE = 1
DEFAULT_BASE_CHOICE = "validation"
KINDS = ("lstm", "gru")
DATA_OPTIONS = ("target", "covariates", "categorical", "lookback", "horizon", "stride",
                "season", "validation", "test")


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("forecasting data (--data FILE.csv)")
    data.add_argument("--target", nargs="+", metavar="COLUMN",
                      help="column(s) to forecast (default: the first value column)")
    data.add_argument("--covariates", nargs="+", metavar="COLUMN",
                      help="further input columns, or 'all' for every other value column "
                           "(default: none, univariate)")
    data.add_argument("--categorical", nargs="+", metavar="COLUMN",
                      help="text columns among the covariates to one-hot encode")
    data.add_argument("--lookback", type=int,
                      help=f"observations a forecast sees (default: {DEFAULTS['lookback']})")
    data.add_argument("--horizon", type=int,
                      help=f"steps forecast at once (default: {DEFAULTS['horizon']})")
    data.add_argument("--stride", type=int,
                      help="steps between window origins (default: 1)")
    data.add_argument("--season", type=int,
                      help="seasonal period of the seasonal-naive baseline and MASE (default: "
                           "12 monthly, 4 quarterly, 24 hourly, else 1)")
    data.add_argument("--validation-fraction", dest="validation", type=float,
                      help=f"fraction of the series, before the test part, for validation "
                           f"(default: {DEFAULTS['validation']})")
    data.add_argument("--test-fraction", dest="test", type=float,
                      help=f"fraction at the end of the series for test (default: "
                           f"{DEFAULTS['test']})")
    model = parser.add_argument_group("forecasting model")
    model.add_argument("--model", choices=MODES, default="direct",
                       help="direct: all steps at once; ar: one step, fed back (default: direct)")
    model.add_argument("--kind", choices=KINDS, default="lstm",
                       help="recurrent kind (default: lstm)")
    model.add_argument("--units", type=int, nargs="+", default=[64],
                       help="units of each recurrent layer (default: 64)")
    model.add_argument("--dropout", type=float, default=0.0,
                       help="dropout before the head (default: 0)")
    model.add_argument("--quantiles", type=int, default=0,
                       help="odd number of quantile outputs for intervals, trained with the "
                            "pinball loss (5: levels 0.1-0.9, an 80 %% interval); 0: point "
                            "forecasts (default: 0)")
    model.add_argument("--base", choices=BASE_CHOICES, default=DEFAULT_BASE,
                       help="the network forecasts the change from this: the seasonal-naive "
                            "forecast (the last value where the season is 1 or longer than "
                            "the lookback), the last value, a trained linear autoregressive "
                            "term over the window (direct models), the ridge baseline fitted "
                            "on the training part (direct models), the average of seasonal "
                            "and ridge (blend, direct models), nothing, or auto: of seasonal, "
                            "ridge and blend the one that forecasts best the part --auto-base-on "
                            f"names (seasonal for ar models) (default: {DEFAULT_BASE})")
    model.add_argument("--auto-base-on", dest="base_choice", choices=CHOICES,
                       default=DEFAULT_BASE_CHOICE,
                       help="where --base auto compares its candidates: the validation "
                            "windows, or the last fifth of the training windows with the ridge "
                            "refitted on the windows before them (leaves validation to score "
                            f"the choice) (default: {DEFAULT_BASE_CHOICE})")
    model.add_argument("--ensemble", type=int, default=DEFAULT_ENSEMBLE, metavar="N",
                       help="N (odd) networks side by side in one model (direct models), each "
                            "trained on its own share of every batch (example b: network "
                            "b mod N), forecasting their median; 1: one network (default: "
                            f"{DEFAULT_ENSEMBLE})")
    model.add_argument("--scale", choices=scaling.SCALES, default=DEFAULT_SCALE,
                       help="log: the model reads the log of the targets and forecasts on "
                            "that scale (positive series); auto: log where the training part "
                            "is positive and its spread grows with its level (Guerrero's "
                            "block rule, tasks/forecasting/scaling.py); none: the values as "
                            f"they are (default: {DEFAULT_SCALE})")


def resolve(data, *, mode: str = "direct", base: str = DEFAULT_BASE,
            scale: str = DEFAULT_SCALE, base_choice: str = DEFAULT_BASE_CHOICE
            ) -> tuple[str, str]:
    """The base and the scale a `tasks.forecasting.data.Prepared` series gets: ``auto``
    resolved (`tasks.forecasting.scaling.resolve`, `tasks.forecasting.bases.choose_base`)."""
    scale = scaling.resolve(data, scale)
    if base == "auto":
        base = (choose_base(data, scaling.view(data, scale), base_choice) if mode == "direct"
                else "seasonal")
    return base, scale


def model_config(data, *, mode: str = "direct", kind: str = "lstm", units=(64,),
                 dropout: float = 0.0, quantiles: int = 0, base: str = DEFAULT_BASE,
                 scale: str = DEFAULT_SCALE, base_choice: str = DEFAULT_BASE_CHOICE,
                 ensemble: int = DEFAULT_ENSEMBLE) -> tuple[str, dict]:
    """``(builder name, config)`` of a forecaster for a `tasks.forecasting.data.Prepared`
    series: its window sizes, inputs, the training part's scaler, the scale (``auto``
    resolved by `tasks.forecasting.scaling`; with ``log`` the scaler and the bases are those
    of the log values) and the base (``auto`` resolved by `tasks.forecasting.bases.choose_base`
    on ``base_choice``; ``ridge`` and ``blend`` are the model's ``fixed`` base with the
    coefficients of `tasks.forecasting.bases`); ``ensemble`` networks side by side (the
    builders' ``members``)."""
    units = list(units)
    base, scale = resolve(data, mode=mode, base=base, scale=scale, base_choice=base_choice)
    view = scaling.view(data, scale)
    extra = {}
    if base in ("ridge", "blend"):
        extra = {"coefficients": coefficients(view, base).tolist()}
        base = "fixed"
    if scale == "log":
        extra["floor"] = scaling.floors(data)
    return f"forecast-{mode}-{kind}", {
        "lookback": data.settings.lookback, "horizon": data.settings.horizon,
        "features": len(data.feature_names), "targets": data.targets,
        "units": units[0] if len(units) == 1 else units, "dropout": dropout,
        "quantiles": quantiles, "base": base, "season": data.season, "scale": scale,
        "members": ensemble,
        "mean": [float(v) for v in view.mean], "std": [float(v) for v in view.std],
        "feature_names": list(data.feature_names), "target_names": list(data.target_names),
        **extra}


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    data = prepare(find_file(args.data), settings(**TASK.data_options(args)))
    return model_config(data, mode=args.model, kind=args.kind, units=args.units,
                        dropout=args.dropout, quantiles=args.quantiles,
                        base=args.base, scale=args.scale, base_choice=args.base_choice,
                        ensemble=args.ensemble)


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.forecasting.predict import add_predict_options

    add_predict_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.forecasting.predict import predict

    return predict(preset, args)


TASK = Task(
    name="forecasting",
    summary="Multi-step time-series forecasts (CSV): MAE, RMSE, MASE against seasonal-naive "
            "and linear autoregressive baselines",
    builders=("forecast-direct-lstm", "forecast-direct-gru", "forecast-ar-lstm",
              "forecast-ar-gru"),
    load=load,
    metric=metric,
    representative=representative,
    loss=ForecastLoss(),
    primary_metric="mase",
    lower_is_better=True,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    builder_config=_builder_config,
    needs_data=True,
    data_license="the terms of the series' source, as its .names file states (Time Series "
                 "Data Library series; Beijing PM2.5 data of the UCI repository)",
    dataset_name="CSV time series, chronological split 70/15/15 (train/validation/test)",
    train_defaults={"epochs": 100, "batch_size": 32, "learning_rate": 3e-3, "patience": 10},
    add_predict_options=_add_predict_options,
    predict=_predict,
)
