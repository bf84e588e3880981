"""The argument parser of the ``rnnzoo`` command and of its task-specific sub-parsers."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """ArgumentParser that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
