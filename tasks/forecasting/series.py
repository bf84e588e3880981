"""Reading a time series from a CSV file: columns, timestamps, numbers and missing values.

A file has one header line, then one observation per line, oldest first. Its columns are:

* time columns, recognized by name (case does not matter): one timestamp column (``date``,
  ``datetime``, ``time``, ``timestamp``, ``period``, or a single ``month`` / ``year`` / ...
  column such as ``"1949-01"``), or calendar parts in columns of their own (``year``,
  ``quarter``, ``month``, ``week``, ``day``, ``hour``, ``minute``, ``second``, as in the
  Beijing PM2.5 file). A timestamp is read as the numbers in it, year first (``2010-01-31``,
  ``1949-01``, ``1-01`` (year 1, January), ``1885``, ``2010-01-01 13:00``); they must
  increase strictly from line to line. Day-first dates (``31/01/2010``) and month names are
  refused. A file without time columns is taken in line order.
* index columns (``No``, ``index``, ``row`` or an empty header): left out.
* value columns: everything else, numbers, or text categories for columns named as
  categorical (one-hot encoded by `tasks.forecasting.data`).

Missing values are empty cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``?`` (any case);
`tasks.forecasting.data` says what is done with them. Every problem is a `SeriesError` naming
the file and the line (line 1 is the header).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import RnnzooError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
TIMESTAMP_NAMES = ("date", "datetime", "time", "timestamp", "period")
# Calendar parts in the order they make a timestamp (year first).
CALENDAR_PARTS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second")
INDEX_NAMES = frozenset({"", "no", "no.", "index", "row", "unnamed: 0"})


class SeriesError(RnnzooError, ValueError):
    """A time-series file (or the windows asked of it) that cannot be used; the message names
    the file and, where one is to blame, the line."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class Table:
    """A CSV time series as read, before columns are chosen.

    Attributes:
        path: the file.
        time_columns: the time columns, in the order they make a timestamp.
        value_columns: the other columns (index columns left out), in file order.
        cells: ``{column: list of stripped cell texts}`` of the value columns.
        times: the timestamp of each observation as text ("" without time columns).
        keys: each timestamp as its numbers (``(1949, 1)``), for ordering; () without.
        lines: the file line of each observation (the header is line 1).
        frequency: ``yearly``, ``quarterly``, ``monthly``, ``daily``, ``hourly``, ``minutes``,
            ``seconds`` or ``unknown``, from the timestamps' form.
    """

    path: Path
    time_columns: list[str]
    value_columns: list[str]
    cells: dict[str, list[str]]
    times: list[str]
    keys: list[tuple[int, ...]]
    lines: list[int]
    frequency: str

    def __len__(self) -> int:
        return len(self.lines)

    def numeric(self, column: str) -> np.ndarray:
        """The column as float64, NaN where missing; `SeriesError` naming the first line whose
        cell is text that is not a number."""
        values = np.empty(len(self), np.float64)
        for i, text in enumerate(self.cells[column]):
            if text.lower() in MISSING:
                values[i] = np.nan
                continue
            try:
                value = float(text)
            except ValueError:
                raise SeriesError(self.path, f"line {self.lines[i]}: column {column!r} holds "
                                  f"{text!r}, not a number (name it with --categorical to "
                                  "one-hot encode a text column, or leave it out of "
                                  "--covariates)") from None
            if not math.isfinite(value):
                raise SeriesError(self.path, f"line {self.lines[i]}: column {column!r} holds "
                                  f"{text!r}, not a finite number")
            values[i] = value
        return values

    def categories(self, column: str) -> list[str | None]:
        """The column's cells, None where missing (for categorical columns)."""
        return [None if text.lower() in MISSING else text for text in self.cells[column]]


def _normal(name: str) -> str:
    return name.strip().lower()


def _time_columns(header: list[str]) -> list[str]:
    """The time columns of ``header``: one timestamp column, or the calendar-part columns in
    calendar order (a lone calendar-part column holds whole timestamps, e.g. ``Month``)."""
    stamps = [h for h in header if _normal(h) in TIMESTAMP_NAMES]
    parts = [h for h in header if _normal(h) in CALENDAR_PARTS]
    if len(stamps) > 1:
        return stamps[:1]  # the first; the others are taken as value columns would be wrong
    if stamps:
        return stamps
    return sorted(parts, key=lambda h: CALENDAR_PARTS.index(_normal(h)))


_NUMBERS = re.compile(r"\d+")
_LETTERS = re.compile(r"[A-Za-z]")


def _key(path: Path, line: int, values: list[str], columns: list[str]) -> tuple[int, ...]:
    key: list[int] = []
    for column, text in zip(columns, values):
        if not text:
            raise SeriesError(path, f"line {line}: no timestamp in column {column!r}")
        plain = re.sub(r"(?<=\d)T(?=\d)", " ", text).removesuffix("Z")
        if _LETTERS.search(plain):
            raise SeriesError(path, f"line {line}: timestamp {text!r} in column {column!r} is "
                              "not numbers in year-first order (2010-01-31, 1949-01, 1885, "
                              "2010-01-01 13:00)")
        numbers = [int(n) for n in _NUMBERS.findall(text)]
        if "/" in text and numbers and len(str(numbers[0])) < 4:
            raise SeriesError(path, f"line {line}: timestamp {text!r} is not in year-first "
                              "order; write dates as 2010-01-31")
        key += numbers
    return tuple(key)


PART_FREQUENCY = {"year": "yearly", "quarter": "quarterly", "month": "monthly",
                  "week": "weekly", "day": "daily", "hour": "hourly", "minute": "minutes",
                  "second": "seconds"}
WIDTH_FREQUENCY = {1: "yearly", 2: "monthly", 3: "daily", 4: "hourly", 5: "minutes",
                   6: "seconds"}


def _frequency(columns: list[str], keys: list[tuple[int, ...]]) -> str:
    """The observation frequency the timestamps' form implies: the finest calendar part of
    several time columns, else the count of numbers in one up to the last that changes (2010
    yearly, 2010-01 monthly, 2010-01-31 daily, 2010-01-31 13:00 hourly, ...)."""
    if len(columns) > 1:
        finest = max(CALENDAR_PARTS.index(_normal(c)) for c in columns)
        return PART_FREQUENCY[CALENDAR_PARTS[finest]]
    width = len(keys[0])
    changing = [j for j in range(width) if len({key[j] for key in keys}) > 1]
    if changing:
        width = changing[-1] + 1
    return WIDTH_FREQUENCY.get(width, "unknown")


def _display(columns: list[str], values: list[str]) -> str:
    if len(columns) == 1:
        return values[0]
    named = dict(zip((_normal(c) for c in columns), values))
    if {"year", "month", "day"} <= set(named):
        text = f"{int(named['year']):04d}-{int(named['month']):02d}-{int(named['day']):02d}"
        if "hour" in named:
            text += f" {int(named['hour']):02d}:{int(named.get('minute', 0)):02d}"
        return text
    return " ".join(values)


def read_table(path: str | os.PathLike) -> Table:
    """Read a CSV time series (see the module docstring). Raises `FileNotFoundError` for a
    missing file and `SeriesError` naming the file (and line) for everything else: not UTF-8
    text, no header, no value column, a line with the wrong number of fields, a timestamp that
    is missing, not year-first, of another form than the first one, repeated, or earlier than
    the one before."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such time-series file")
    if path.is_dir():
        raise SeriesError(path, "is a folder, not a CSV file (give the file, e.g. "
                          f"{path / 'pollution.csv'})")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as error:
        raise SeriesError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise SeriesError(path, f"not a CSV file ({error})") from None
    numbered = [(i + 1, row) for i, row in enumerate(rows) if any(c.strip() for c in row)]
    if not numbered:
        raise SeriesError(path, "empty file: expected a header line and observations")
    header_line, header = numbered[0]
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1})
        raise SeriesError(path, f"line {header_line}: column {repeated[0]!r} appears twice in "
                          "the header")
    time_columns = _time_columns(header)
    values = [h for h in header if h not in time_columns and _normal(h) not in INDEX_NAMES]
    if not values:
        raise SeriesError(path, f"line {header_line}: no value column in the header "
                          f"({', '.join(header)})")
    if all(_is_number(h) for h in header):
        raise SeriesError(path, f"line {header_line}: expected a header of column names, found "
                          f"numbers ({', '.join(header[:4])})")
    index = {h: i for i, h in enumerate(header)}
    cells: dict[str, list[str]] = {c: [] for c in values}
    times, keys, lines = [], [], []
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise SeriesError(path, f"line {line}: {len(row)} fields, the header has "
                              f"{len(header)}")
        row = [c.strip() for c in row]
        stamp = [row[index[c]] for c in time_columns]
        key = _key(path, line, stamp, time_columns) if time_columns else ()
        if keys and len(key) != len(keys[0]):
            raise SeriesError(path, f"line {line}: timestamp {_display(time_columns, stamp)!r} "
                              f"is not of the form of line {lines[0]}'s ({times[0]!r})")
        if keys and key <= keys[-1]:
            what = "repeats" if key == keys[-1] else "goes backwards from"
            raise SeriesError(path, f"line {line}: timestamp {_display(time_columns, stamp)!r} "
                              f"{what} line {lines[-1]}'s ({times[-1]!r}); observations must be "
                              "in time order, one per timestamp")
        for column in values:
            cells[column].append(row[index[column]])
        times.append(_display(time_columns, stamp) if time_columns else "")
        keys.append(key)
        lines.append(line)
    if not lines:
        raise SeriesError(path, "no observations after the header")
    return Table(path=path, time_columns=time_columns, value_columns=values, cells=cells,
                 times=times, keys=keys, lines=lines,
                 frequency=_frequency(time_columns, keys) if time_columns else "unknown")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Seasonal period of each frequency: the M4 competition's (and GluonTS's) choice for MASE:
# 12 for monthly, 4 quarterly, 24 hourly, 1 for yearly, weekly, daily and anything else.
SEASONS = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 1, "daily": 1, "hourly": 24,
           "minutes": 1, "seconds": 1, "unknown": 1}


def season_of(table: Table) -> int:
    """The seasonal period of ``table``'s frequency (`SEASONS`)."""
    return SEASONS[table.frequency]
