"""Datasets that rnnzoo generates (procedural videos, shapes): what they share on disk."""

from __future__ import annotations

import json
from pathlib import Path


def refuse_foreign(target: Path, metadata_file: str, generator: str) -> None:
    """With overwrite, a non-empty ``target`` is replaced only if ``generator`` wrote it (its
    ``metadata_file`` names it); anything else raises `FileExistsError`."""
    if not target.is_dir() or target.is_symlink() or not any(target.iterdir()):
        return
    try:
        found = json.loads((target / metadata_file).read_text()).get("generator")
    except (OSError, ValueError, AttributeError):
        found = None
    if found != generator:
        raise FileExistsError(f"{target}: exists and is not a dataset written by rnnzoo data "
                              f"(no {metadata_file} of {generator}); not replacing it")
