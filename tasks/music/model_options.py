"""Model options shared by the music tasks (piano roll and note sequences)."""

from __future__ import annotations

import argparse


def add_model_options(group, *, kinds: tuple[str, ...], default_units: int,
                      output: str, inputs: str) -> None:
    """Add ``--kind``, ``--units``, ``--dropout`` and ``--input-dropout`` to ``group``.

    ``output`` and ``inputs`` name what the dropouts act on in the help text.
    """
    group.add_argument("--kind", choices=kinds, default=kinds[0],
                       help=f"recurrent kind (default: {kinds[0]})")
    group.add_argument("--units", type=int, nargs="+", default=[default_units],
                       help=f"units of each recurrent layer (default: {default_units})")
    group.add_argument("--dropout", type=float, default=0.0,
                       help=f"dropout between layers and before {output} (default: 0)")
    group.add_argument("--input-dropout", type=float, default=0.0,
                       help=f"dropout on {inputs} (default: 0)")


def builder_config(args: argparse.Namespace, family: str) -> tuple[str, dict]:
    """``(builder name, config)`` of a ``<family>-<kind>`` builder from parsed options."""
    units = args.units[0] if len(args.units) == 1 else list(args.units)
    return f"{family}-{args.kind}", {"units": units, "dropout": args.dropout,
                                     "input_dropout": args.input_dropout}
