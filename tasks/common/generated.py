"""Datasets that rnnzoo generates (procedural videos, shapes): what they share on disk."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
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


def progress_printer(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    """Where a writer's progress lines go: a callable as given, stderr for True, nowhere for
    False."""
    if callable(progress):
        return progress
    if progress:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return lambda line: None


def writable_target(out: str | os.PathLike, *, overwrite: bool, metadata_file: str,
                    generator: str) -> tuple[Path, bool]:
    """The absolute folder a generator writes ``out`` as, and whether it exists empty; refuses
    a file, and (with ``overwrite``) a non-empty folder ``generator`` did not write."""
    target = Path(out).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a folder; not replacing it")
    empty = target.is_dir() and not target.is_symlink() and not any(target.iterdir())
    if overwrite:
        refuse_foreign(target, metadata_file, generator)
    return target, empty
