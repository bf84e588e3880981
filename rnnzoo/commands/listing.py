"""``rnnzoo list`` and ``rnnzoo info``: what the zoo holds."""

from __future__ import annotations

import argparse
from typing import Any

from rnnzoo.commands.common import add_json_option, load_preset
from rnnzoo.runtime import format_value, print_json, start_tensorflow


class ListCommand:
    """``rnnzoo list [--tasks | --presets] [--json]``."""

    @staticmethod
    def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
        parser = sub.add_parser("list", help="list model builders, tasks or presets",
                                description="List the registered model builders (default), "
                                            "the tasks, or the pretrained presets.")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--tasks", action="store_true", help="list the tasks")
        which.add_argument("--presets", action="store_true", help="list the pretrained presets")
        add_json_option(parser)
        parser.set_defaults(run=ListCommand.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        start_tensorflow()
        import tasks
        import zoo
        from zoo.registry import builder_info

        if args.tasks:
            rows = [{"name": n, "summary": tasks.get_task(n).summary,
                     "builders": list(tasks.get_task(n).builders)} for n in tasks.list_tasks()]
        elif args.presets:
            rows = [{"name": n} for n in zoo.list_presets()]
        else:
            rows = []
            for name in zoo.list_models():
                info = builder_info(name)
                rows.append({"name": name, "task": info.task,
                             "summary": info.doc.splitlines()[0] if info.doc else ""})
        if args.json:
            print_json(rows)
            return 0
        for row in rows:
            summary = row.get("summary", "")
            print(f"{row['name']:<28} {summary}".rstrip())
        if not rows:
            print("(none)")
        return 0


def abridged(value: Any, items: int = 6) -> Any:
    """``value`` with every list or tuple longer than ``items`` cut to its first ``items``
    and a count (a vocabulary of 10,000 words in a builder config is one short line)."""
    if isinstance(value, dict):
        return {key: abridged(item, items) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        shown = [abridged(item, items) for item in value[:items]]
        if len(value) > items:
            shown.append(f"... {len(value):,} items")
        return shown
    return value


class InfoCommand:
    """``rnnzoo info PRESET [--json]``."""

    @staticmethod
    def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
        parser = sub.add_parser("info", help="show a preset's model card",
                                description="Load a preset (verifying every file) and show its "
                                            "card: task, data, metrics, licence, training command.")
        parser.add_argument("preset", metavar="PRESET", help="preset name, folder or URL")
        add_json_option(parser)
        parser.set_defaults(run=InfoCommand.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        preset = load_preset(args.preset)
        card = preset.card
        if args.json:
            print_json({"name": preset.name, "path": str(preset.path),
                        "parameters": preset.model.count_params(), "card": card})
            return 0
        print(f"{preset.name}  ({preset.path})")
        print(f"  builder     {card.get('builder')}  "
              f"{abridged(preset.config.get('config', {}))}")
        print(f"  parameters  {preset.model.count_params():,}")
        print(f"  task        {card.get('task')}")
        print(f"  dataset     {card.get('dataset', '')}  [{card.get('split', '')}]")
        for variant, figures in card.get("metrics", {}).items():
            text = ", ".join(f"{k} {format_value(v)}" for k, v in figures.items())
            print(f"  metrics     {variant}: {text}")
        licence = card.get("license", {})
        print(f"  licence     data: {licence.get('data', '?')}; "
              f"weights: {licence.get('weights', '?')}")
        print(f"  trained by  {card.get('training_command', '?')}")
        return 0
