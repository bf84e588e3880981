"""Where a task's data lies: the data root, the dataset record of cards, and the one resolver.

Preset cards and export metadata record their dataset as ``"data": {"name": NAME, "path":
REL}``, REL being relative to the *data root*, so that no machine's folder layout goes into
a shipped file. Data outside the root is recorded as the user gave it (``"given"``), and
nothing but its name where an absolute path would leak into a file that is passed around
(an export's metadata).

The data root is ``$RNNZOO_DATA`` when set; else ``../shared/data`` relative to the current
folder, then relative to the rnnzoo checkout (the folder that holds ``tasks/``).
`resolve_data` is the one place that turns ``--data`` or such a record into a path:
``rnnzoo evaluate``, ``export``, ``diagnose``, ``train --from`` and the benchmarks use it.
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import RnnzooError

ENV = "RNNZOO_DATA"
DEFAULT_ROOT = Path("..") / "shared" / "data"
CHECKOUT = Path(__file__).resolve().parents[2]


class DataNotFoundError(RnnzooError, FileNotFoundError):
    """A dataset that a card or an export names is not where its record says."""


def root_candidates() -> list[Path]:
    """The folders tried as the data root, in order (see the module docstring)."""
    value = os.environ.get(ENV)
    if value:
        return [Path(value).expanduser()]
    return [DEFAULT_ROOT, CHECKOUT.parent / "shared" / "data"]


def data_root() -> Path | None:
    """The first of `root_candidates` that is a folder, else None."""
    return next((root for root in root_candidates() if root.is_dir()), None)


def _external(text: str) -> bool:
    """TFDS names (``tfds:spoken_digit``) and URLs: passed on as they are."""
    return text.startswith("tfds:") or "://" in text


def data_record(path: str | os.PathLike | None, *, keep_outside: bool = True) -> dict | None:
    """The ``"data"`` record of a card (or export) for the data read from ``path``.

    Under the data root: ``{"name": first folder, "path": relative posix path}``. Elsewhere:
    ``{"name": folder name, "given": path as given}``; with ``keep_outside=False`` an absolute
    (or ``~``) path is left out, as it would only name a folder of this machine.
    """
    if path is None:
        return None
    text = str(path)
    if _external(text):
        return {"name": text, "given": text}
    resolved = Path(text).expanduser().resolve()
    root = data_root()
    if root is not None and resolved.is_relative_to(root.resolve()):
        relative = resolved.relative_to(root.resolve())
        if relative.parts:
            return {"name": relative.parts[0], "path": relative.as_posix()}
    record = {"name": resolved.name or text}
    if keep_outside or not (Path(text).is_absolute() or text.startswith("~")):
        record["given"] = text
    return record


def _looked_in() -> str:
    value = os.environ.get(ENV)
    if value:
        return f"${ENV} ({value})"
    return (f"{DEFAULT_ROOT.as_posix()} (relative to the current folder, and to the rnnzoo "
            f"checkout: {root_candidates()[1]})")


def locate(record: dict) -> str:
    """The path of the dataset ``record`` names; `DataNotFoundError` (one line naming the
    dataset, where it was looked for, ``--data`` and ``$RNNZOO_DATA``) when it is absent."""
    name = record.get("name") or "(unnamed)"
    relative = record.get("path")
    if relative:
        for root in root_candidates():
            if (root / relative).exists():
                return str(root / relative)
        raise DataNotFoundError(f"dataset {name} not found: no {relative} in {_looked_in()}; "
                                f"give --data DIR, or set {ENV} to the folder that holds "
                                f"{relative}")
    given = record.get("given")
    if given:
        if _external(given) or Path(given).expanduser().exists():
            return given
        raise DataNotFoundError(f"dataset {name} not found at {given} (the path it was given "
                                "as); give --data DIR")
    raise DataNotFoundError(f"dataset {name}: no location recorded (absolute paths are not "
                            "kept); give --data DIR")


def resolve_data(given: str | os.PathLike | None, source: dict | None, task) -> str | None:
    """The data path to read for ``task``: ``given`` (``--data``) when given; else the
    dataset that ``source`` (a preset card or an export's metadata) records; None for tasks
    that need no data. Cards written before data records hold ``data_path``, still read."""
    if given:
        return str(given)
    source = source or {}
    record = source.get("data")
    if isinstance(record, dict):
        return locate(record)
    legacy = source.get("data_path")
    if legacy:
        if _external(str(legacy)) or Path(legacy).expanduser().exists():
            return str(legacy)
        raise DataNotFoundError(f"dataset not found at {legacy} (the card's data_path); give "
                                "--data DIR")
    if task.needs_data:
        raise ValueError(f"task {task.name} needs --data PATH")
    return None
