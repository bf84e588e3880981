"""The checks every file a user hands to a task goes through first."""

from __future__ import annotations

import os
from pathlib import Path


def check_input_file(path: str | os.PathLike, kind: str,
                     error: type[Exception]) -> Path:
    """``path`` as a `Path` if it is a non-empty file; else `FileNotFoundError` (missing) or
    ``error(path, problem)`` (a folder, an empty file). ``kind`` names the file in messages
    ("audio", "video")."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {kind} file")
    if path.is_dir():
        raise error(path, f"is a folder, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} file")
    if path.stat().st_size == 0:
        raise error(path, "empty file (0 bytes)")
    return path
