"""Reading the text files of the text tasks: strict UTF-8, line numbers in every error.

`read_text_lines` reads a file as UTF-8 (a leading byte-order mark is dropped; ``\\r\\n`` and
``\\r`` line ends count as ``\\n``) and returns its lines with their 1-based line numbers.
Bytes that are not UTF-8 raise a `TextInputError` naming the file, the line and the byte, so a
user can open the file at the line. A file whose name ends in ``.gz`` is gunzipped first (line
numbers are those of the uncompressed text). Empty lines (only white space) are skipped and
counted by default; a caller that needs them (CoNLL sentence breaks) asks for them.

`truncate` cuts a token sequence to a stated length and `TruncationReport` counts how many were
cut, so a loader can say "12 of 6,920 sentences truncated to 64 tokens" instead of failing or
silently dropping text.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

T = TypeVar("T")


class TextInputError(RnnzooError, ValueError):
    """A text file that cannot be read; the message is ``<file>:<line>: <problem>``."""

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class TextLines:
    """The kept lines of a file, each with its 1-based line number, and what was skipped."""

    path: Path
    lines: list[str]
    line_numbers: list[int]
    empty_skipped: int = 0

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self):
        return iter(zip(self.line_numbers, self.lines))


def decode_utf8(data: bytes, path: str | os.PathLike) -> str:
    """``data`` as text (a byte-order mark dropped); a `TextInputError` naming the line and
    the byte where ``data`` is not UTF-8."""
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TextInputError(path, f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                                   f"{error.start})", line) from None


def read_text(path: str | os.PathLike, kind: str = "text") -> str:
    """The whole file as text with ``\\n`` line ends (see `decode_utf8`); FileNotFoundError
    for a missing file, `TextInputError` for a folder or an empty file."""
    path = check_input_file(path, kind, TextInputError)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise TextInputError(path, f"not a readable gzip file ({error})") from None
    text = decode_utf8(data, path)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_lines(path: str | os.PathLike, *, kind: str = "text",
                    keep_empty: bool = False) -> TextLines:
    """The lines of ``path`` (without their line ends) and their line numbers; lines of only
    white space are skipped and counted unless ``keep_empty``."""
    path = Path(path)
    text = read_text(path, kind)
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    lines, numbers, empty = [], [], 0
    for number, line in enumerate(raw, start=1):
        if not keep_empty and not line.strip():
            empty += 1
            continue
        lines.append(line)
        numbers.append(number)
    return TextLines(path, lines, numbers, empty)


@dataclass
class TruncationReport:
    """How many sequences `truncate` cut, out of how many, at which length."""

    max_length: int
    seen: int = 0
    truncated: int = 0
    longest: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, length: int, where: str | None = None) -> bool:
        """Count one sequence of ``length``; True when it is cut."""
        self.seen += 1
        self.longest = max(self.longest, length)
        if length <= self.max_length:
            return False
        self.truncated += 1
        if where is not None and len(self.examples) < 3:
            self.examples.append(where)
        return True

    def message(self, what: str = "sequences", unit: str = "tokens") -> str | None:
        """One line for the user when anything was cut, else None."""
        if not self.truncated:
            return None
        at = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return (f"{self.truncated:,} of {self.seen:,} {what} truncated to {self.max_length} "
                f"{unit}; the longest had {self.longest}{at}")


def truncate(tokens: Sequence[T], report: TruncationReport,
             where: str | None = None) -> list[T]:
    """The first ``report.max_length`` of ``tokens``, counted in ``report``."""
    report.add(len(tokens), where)
    return list(tokens[:report.max_length])


FILE_OPTION_HELP = "also read every non-empty line of this UTF-8 file ('-': stdin)"


def input_sentences(inputs: Sequence[str], file: str | None = None) -> list[str]:
    """The sentences ``rnnzoo predict`` was given: each INPUT (``-``: the non-empty lines of
    stdin), then the non-empty lines of ``file`` (``-``: stdin; a line that is not UTF-8 is
    a `TextInputError` naming the file and line). ValueError when there are none."""
    out: list[str] = []
    for item in inputs:
        if item == "-":
            out += _stdin_lines()
        elif item.strip():
            out.append(item)
    if file == "-":
        out += _stdin_lines()
    elif file:
        out += read_text_lines(file, kind="text").lines
    if not out:
        raise ValueError("give a sentence, '-' (stdin) or --file PATH")
    return out


def _stdin_lines() -> list[str]:
    return [line for line in sys.stdin.read().splitlines() if line.strip()]
