"""``rnnzoo evaluate MODEL``: score a preset with its task's metric."""

from __future__ import annotations

import argparse

from rnnzoo.commands.common import add_json_option, load_preset, preset_dataset, task_of
from rnnzoo.runtime import format_value, print_json


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "evaluate", help="score a model with its task's metric",
        description="Evaluate a preset (name, folder, run folder or URL) on a split of its "
                    "task's data with the task's metric.")
    parser.add_argument("model", metavar="MODEL", help="preset name, folder, run folder or URL")
    parser.add_argument("--data", metavar="PATH", help="dataset (default: the one in the card)")
    parser.add_argument("--split", default="test", help="split to score (default: test)")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into the preset's card (metrics 'keras' and the split)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    preset = load_preset(args.model)
    task = task_of(preset)
    dataset = preset_dataset(preset, task, args.data, args.split)
    figures = task.metric(preset.model.predict_on_batch, dataset)
    if args.record:
        import zoo

        metrics = dict(preset.card.get("metrics", {}))
        metrics["keras"] = figures
        zoo.update_card(preset.path, {"metrics": metrics, "split": args.split})
    if args.json:
        print_json({"model": args.model, "task": task.name, "split": args.split,
                    "format": "keras", "metrics": figures})
        return 0
    text = ", ".join(f"{k} {format_value(v)}" for k, v in figures.items())
    print(f"{preset.name} [{task.name}, {args.split}] {text}")
    return 0
