"""Does refitting on training + validation help? The nested holdout that decides it.

The test part may be scored once, so the refit (`tasks.forecasting.refit`) is judged one part
earlier: the series before its test part, its last validation-length stretch of the training
part as pseudo-validation and its validation part as pseudo-test (``holdout`` layout of
`tasks.forecasting.data.Settings`). For each series and seed, (a) the default configuration
trained on the shortened training part with early stopping on the pseudo-validation, and (b)
the same refitted on the whole training part for the epochs (a) chose, both scored on the
validation part: the count of series with MASE < 1, then the geometric mean of the MASEs.

Run it (a training per series, seed and variant; about 5 minutes for the 12 series and three
seeds on 2 cores)::

    python -m rnnzoo.bench.forecasting_refit --seeds 0 1 2 --out refit-holdout.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rnnzoo.bench.forecasting import series_table

SKIP = ("pollution.csv",)  # PM2.5 below 0.3 with every setting; the 12 others decide


def summary(rows: dict, key: str) -> dict:
    """Count of MASE < 1 and geometric mean of the MASEs in column ``key`` of a series table's
    rows (failed rows left out)."""
    values = [row[key] for row in rows.values() if key in row]
    return {"below_1": sum(v < 1 for v in values), "series": len(values),
            "geometric_mean": math.exp(sum(math.log(v) for v in values) / max(len(values), 1))}


def nested(seeds: tuple[int, ...] = (0, 1, 2), skip: tuple[str, ...] = SKIP,
           quick: bool = False) -> dict:
    """(a) and (b) of the module docstring per seed, and their per-series mean MASE."""
    per_seed, tables = {}, {}
    for seed in seeds:
        table = series_table(quick, split="test", data_options={"holdout": True}, refit=True,
                             seed=seed, skip=skip)
        tables[seed] = table["series"]
        per_seed[seed] = {"first_fit": summary(table["series"], "mase_first_fit"),
                          "refit": summary(table["series"], "mase")}
        print(f"seed {seed}: {json.dumps(per_seed[seed])}", flush=True)
    names = sorted({name for rows in tables.values() for name in rows})
    series = {}
    for name in names:
        rows = [t[name] for t in tables.values() if "mase" in t.get(name, {})]
        if rows:
            series[name] = {
                "first_fit": [r["mase_first_fit"] for r in rows],
                "refit": [r["mase"] for r in rows],
                "epochs": [r["refit_epochs"] for r in rows], "base": rows[0]["base"],
                "seasonal_naive_mase": rows[0]["seasonal_naive_mase"],
                "linear_mase": rows[0]["linear_mase"], "windows": rows[0]["windows"]}
    return {"seeds": list(seeds), "skip": list(skip), "per_seed": per_seed, "series": series,
            "tables": tables}


def lines(result: dict) -> list[str]:
    """The nested table: per seed, then per series (mean of the seeds)."""
    out = ["nested holdout (scored on validation): (a) early-stopped first fit, (b) refitted "
           "on the whole training part for (a)'s epochs",
           f"{'seed':<6}{'(a) <1':>8}{'(a) gmean':>11}{'(b) <1':>8}{'(b) gmean':>11}"]
    for seed, row in result["per_seed"].items():
        a, b = row["first_fit"], row["refit"]
        out.append(f"{seed!s:<6}{a['below_1']:>5}/{a['series']:<2}{a['geometric_mean']:>11.3f}"
                   f"{b['below_1']:>5}/{b['series']:<2}{b['geometric_mean']:>11.3f}")
    out.append(f"{'series':<34}{'(a)':>7}{'(b)':>7}{'seas.naive':>11}{'linear':>8}"
               f"{'base':>9}  epochs")
    for name, row in result["series"].items():
        mean_a = sum(row["first_fit"]) / len(row["first_fit"])
        mean_b = sum(row["refit"]) / len(row["refit"])
        out.append(f"{name:<34}{mean_a:>7.3f}{mean_b:>7.3f}{row['seasonal_naive_mase']:>11.3f}"
                   f"{row['linear_mase']:>8.3f}{row['base']:>9}  "
                   f"{','.join(map(str, row['epochs']))}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnzoo.bench.forecasting_refit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="training seeds (default: 0 1 2)")
    parser.add_argument("--skip", nargs="*", default=list(SKIP),
                        help="series files to leave out (default: pollution.csv)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, for a smoke run")
    parser.add_argument("--out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    try:
        result = nested(tuple(args.seeds), tuple(args.skip), args.quick)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines(result)))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
