"""``rnnzoo bench forecasting --quick`` on a synthetic data root: the per-series table, the
PM2.5 part (trained with the preset's recipe when the preset is not shipped) and its table."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rnnzoo.bench import forecasting as forecasting_bench
from rnnzoo.cli import main
from tasks.forecasting.synthetic import write_series


def _pollution_like(path, n: int = 400) -> None:
    """The columns of the Beijing PM2.5 file, synthetic values, some NA."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    pm = 80 + 40 * np.sin(2 * np.pi * t / 24) + 10 * rng.normal(size=n)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES",
                         "cbwd", "Iws", "Is", "Ir"])
        for i in range(n):
            day, hour = divmod(i, 24)
            writer.writerow([i + 1, 2010, 1 + day // 28, 1 + day % 28, hour,
                             "NA" if i % 50 == 7 else f"{max(pm[i], 0):.0f}",
                             int(rng.integers(-20, 10)), int(rng.integers(-10, 30)),
                             int(rng.integers(1000, 1040)), ("NW", "SE", "cv", "NE")[i % 4],
                             f"{rng.exponential(20):.2f}", int(rng.random() < 0.05),
                             int(rng.random() < 0.05)])


@pytest.mark.slow
def test_bench_forecasting_quick_on_a_synthetic_root(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "root" / "timeseries"
    write_series(folder / "monthly.csv", 120, trend=0.05)
    write_series(folder / "wave.csv", 150, season=12, noise=0.2, seed=2)
    _pollution_like(folder / "pollution.csv")
    monkeypatch.setenv("RNNZOO_DATA", str(tmp_path / "root"))
    # the shipped preset is loaded by name (tests/test_shipped_presets.py); here the path
    # a checkout without it takes: train with the preset's recipe
    monkeypatch.setattr(forecasting_bench, "PRESET", "forecast-pm25-not-shipped")
    out = tmp_path / "bench.json"
    code = main(["bench", "forecasting", "--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.read_text())
    series = result["series"]
    assert set(series["series"]) == {"monthly.csv", "wave.csv", "pollution.csv"}
    assert series["series_count"] == 3 and 0 <= series["mase_below_1"] <= 3
    row = series["series"]["wave.csv"]
    assert {"mase", "seasonal_naive_mase", "linear_mase", "epochs"} <= set(row)
    pm25 = result["pm25"]
    assert pm25["source"].startswith("trained here with the recipe of forecast-pm25-not-shipped")
    assert {"keras", "sequence.fp32", "sequence.int8", "step.fp32", "step.int8"} <= set(
        pm25["figures"])
    assert all(r["mae"] is not None for r in pm25["figures"].values())
    assert pm25["figures"]["step.int8"]["latency_ms"] > 0
    assert result["training"]["windows_per_second"] > 0
    assert "MASE < 1 on" in printed and "step.int8" in printed and "windows/s" in printed


def test_the_pm25_part_takes_the_card_export_defaults(tmp_path, monkeypatch):
    """The PM2.5 int8 files are `rnnzoo export`'s: forecast-pm25's card asks for per-channel
    weights (chosen on validation), and the benchmark passes that on and says so."""
    from types import SimpleNamespace

    import zoo

    card = {"data_options": {"horizon": 24},
            "export_defaults": {"per_channel": True, "why": "a test"}}
    monkeypatch.setattr(zoo, "load", lambda name: SimpleNamespace(model="model", card=card))
    model, options, card_options, source = forecasting_bench._pm25_model(True, tmp_path)
    assert (model, options, card_options) == ("model", {"horizon": 24}, {"per_channel": True})
    assert source == f"preset {forecasting_bench.PRESET}"
