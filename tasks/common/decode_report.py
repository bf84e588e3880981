"""What a parallel decoding pipeline has met: files skipped and why, notes on the others.

Shared by the clip pipeline (`tasks.video.dataset`) and the image pipeline
(`tasks.captioning.dataset`), which decode in parallel threads inside tf.data.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

SHOWN = 10  # files named in a summary line


def _stderr(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


class DecodeReport:
    """What a pipeline has decoded: skipped files and why, notes on the others.

    Thread-safe (the pipeline decodes in parallel). ``report`` (default: a ``note:`` line on
    stderr; None: silent) gets one line per bad file when it is first met, and `summary`
    at the end of each pass over the ``total`` items (``what``) that met something new.
    """

    def __init__(self, total: int, *, what: str = "clips",
                 report: Callable[[str], None] | None = _stderr):
        self.total, self.what, self.report = int(total), what, report
        self.skipped: dict[str, str] = {}
        self.notes: dict[str, list[str]] = {}
        self.decoded = 0  # clips decoded (over every pass)
        self._seen = 0
        self._new = False
        self._lock = threading.Lock()

    def bad(self, name: str, problem: str, message: str) -> None:
        with self._lock:
            if name not in self.skipped:
                self.skipped[name] = problem
                self._new = True
                if self.report:
                    self.report(f"skipped {message}")
            self._count()

    def good(self, name: str, notes: Sequence[str]) -> None:
        with self._lock:
            self.decoded += 1
            if notes and name not in self.notes:
                self.notes[name] = list(notes)
                self._new = True
            self._count()

    def _count(self) -> None:
        self._seen += 1
        if self._seen % self.total == 0 and self._new:
            self._new = False
            if self.report:
                self.report(self.summary())

    def summary(self) -> str:
        """One line: clips decoded, skipped (which and why), with repeated frames (which)."""
        skipped, noted = len(self.skipped), len(self.notes)
        line = f"decoded {self.total - skipped} of {self.total} {self.what}"
        if skipped:
            names = "; ".join(f"{_short(p)} ({why})" for p, why in
                              sorted(self.skipped.items())[:SHOWN])
            more = f"; and {skipped - SHOWN} more" if skipped > SHOWN else ""
            line += f"; skipped {skipped} bad: {names}{more}"
        if noted:
            names = "; ".join(f"{_short(p)} ({', '.join(n)})" for p, n in
                              sorted(self.notes.items())[:SHOWN])
            more = f"; and {noted - SHOWN} more" if noted > SHOWN else ""
            line += f"; {noted} with notes: {names}{more}"
        return line


def _short(name: str) -> str:
    path = Path(name)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name
