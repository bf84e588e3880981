"""Errors raised by rnnzoo on bad input; the CLI prints them as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class RnnzooError(Exception):
    """Base of every error rnnzoo raises for bad input (bad file, bad name, bad value)."""


class UnknownNameError(RnnzooError, KeyError):
    """A model, preset, task or benchmark name that is not known; suggests close names."""

    def __init__(self, what: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        if close:
            hint = f"did you mean {', '.join(close)}?"
        else:
            hint = f"known: {', '.join(known)}" if known else "none is registered"
        super().__init__(f"unknown {what} {name!r}; {hint}")
        self.name = name
        self.suggestions = close

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class PresetError(RnnzooError):
    """A preset file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem
