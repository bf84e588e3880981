"""``rnnzoo bench NAME``: run a named benchmark, print its table and write JSON."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

from rnnzoo.bench import BENCHMARKS, get_benchmark, machine_info
from rnnzoo.commands.common import add_json_option
from rnnzoo.runtime import print_json, start_tensorflow


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    listing = "; ".join(f"{name}: {summary}" for name, (_, summary) in BENCHMARKS.items())
    parser = sub.add_parser(
        "bench", help="run a named benchmark and write its figures as JSON",
        description=f"Run a benchmark. Known: {listing}.")
    parser.add_argument("name", metavar="NAME", help=f"one of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", metavar="PATH",
                        help="JSON file to write (default: bench-results/NAME.json)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    parser.add_argument("--presets", metavar="NAMES",
                        help="comma-separated shipped presets to bench, for benchmarks that "
                             "bench presets (export) (default: every shipped preset)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                        help="forecasting: refit each series' forecaster on the training and "
                             "validation parts for the epochs validation chose, with the base "
                             "it chose, before forecasting the test part (--no-refit: the "
                             "early-stopped model) (default: the benchmark's choice, "
                             "rnnzoo/bench/forecasting.py REFIT)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    benchmark = get_benchmark(args.name)
    options = {}
    if args.presets is not None:
        if not hasattr(benchmark, "parse_presets"):
            raise ValueError(f"--presets: benchmark {args.name!r} does not take presets")
        options["presets"] = benchmark.parse_presets(args.presets)
    if args.refit is not None:
        if "refit" not in inspect.signature(benchmark.run).parameters:
            raise ValueError(f"--refit: benchmark {args.name!r} does not refit")
        options["refit"] = args.refit
    start_tensorflow()
    result = {"benchmark": args.name, "machine": machine_info(),
              **benchmark.run(quick=args.quick, **options)}
    out = Path(args.out or Path("bench-results") / f"{args.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
    else:
        print(benchmark.table(result))
        print(f"written to {out}")
    return 0
