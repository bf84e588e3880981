"""Weights files made once on this machine (e.g. converted from another format) and cached.

``cached_file(name, make)`` returns ``cache_home()/weights/<name>``, whose sha256 is recorded in
``<name>.sha256`` (``sha256sum`` format) when it is written. A file whose sha256 does not match
its record, or that has no record, is made again rather than trusted. ``make`` writes into a
temporary folder next to the cache; the file and then its record are renamed into place, so an
interrupted run leaves no half-written file under the name (at worst a stale record, which
does not match and so causes another conversion).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from zoo.download import cache_home
from zoo.preset_io import sha256_file

WEIGHTS_DIR = "weights"


def _recorded_sha256(record: Path) -> str | None:
    try:
        text = record.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return text[0].lower() if text else None


def cached_file(name: str, make: Callable[[Path], None]) -> Path:
    """``cache_home()/weights/<name>``, made by ``make(path)`` when missing or corrupt."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bad cache file name {name!r}")
    folder = cache_home() / WEIGHTS_DIR
    path, record = folder / name, folder / f"{name}.sha256"
    if path.is_file():
        recorded = _recorded_sha256(record)
        if recorded is not None and recorded == sha256_file(path):
            return path
        print(f"note: {path}: sha256 does not match {record.name}; making it again",
              file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".making-") as tmp:
        target = Path(tmp) / name
        make(target)
        if not target.is_file():
            raise RuntimeError(f"making {name} wrote no file")
        digest = sha256_file(target)
        new_record = Path(tmp) / record.name
        new_record.write_text(f"{digest}  {name}\n", encoding="ascii")
        os.replace(target, path)
        os.replace(new_record, record)
    return path
