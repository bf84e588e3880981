"""Entry point of the ``rnnzoo`` command: parses arguments and dispatches to a command.

Every command exits 0 on success and 2 with one line on stderr for bad arguments or bad
input. Set ``RNNZOO_DEBUG=1`` to see full tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

from rnnzoo.parsing import Parser


def _version() -> str:
    try:
        return metadata.version("rnnzoo")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The full parser; task options are added when ``argv`` names a known task."""
    parser = Parser(
        prog="rnnzoo",
        description="Train, evaluate, diagnose, export and benchmark recurrent networks of the "
                    "zoo.",
        epilog="Run 'rnnzoo COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rnnzoo {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    from rnnzoo.commands import COMMANDS

    for command in COMMANDS:
        command.add_parser(sub, argv)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"rnnzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line for the user; RNNZOO_DEBUG=1 for the traceback
        if os.environ.get("RNNZOO_DEBUG"):
            raise
        from rnnzoo.commands.common import is_user_error

        code = 2 if is_user_error(error) else 1
        kind = "error" if code == 2 else f"internal error ({type(error).__name__})"
        print(f"rnnzoo {args.command}: {kind}: {error}", file=sys.stderr)
        if code == 1:
            print("  (set RNNZOO_DEBUG=1 to see the traceback)", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
