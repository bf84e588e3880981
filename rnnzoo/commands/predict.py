"""``rnnzoo predict MODEL [INPUT...]``: run a preset on inputs (task-specific options)."""

from __future__ import annotations

import argparse

from rnnzoo.commands.common import load_preset, task_of
from rnnzoo.parsing import Parser
from rnnzoo.runtime import print_json


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "predict", help="run a model on inputs (audio files, a MIDI primer, ...)",
        description="Run a preset on inputs. The options depend on the preset's task: "
                    "'rnnzoo predict MODEL --help' lists them.")
    parser.add_argument("model", metavar="MODEL", help="preset name, folder, run folder or URL")
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="INPUT/OPTIONS",
                        help="inputs and the task's options")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    preset = load_preset(args.model)
    task = task_of(preset)
    parser = Parser(prog=f"rnnzoo predict {args.model}",
                    description=f"Run {preset.name} ({task.name}) on inputs.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="input files")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    task.add_predict_options(parser)
    options = parser.parse_args(args.rest)
    if task.predict is None:
        raise ValueError(f"task {task.name} has no predict; use 'rnnzoo evaluate' instead")
    result = task.predict(preset, options)
    if options.json:
        print_json(result)
    return 0
