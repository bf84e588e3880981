"""Atomic writing of export folders and files: readers never see half-written output.

An export folder is written into a temporary sibling and renamed into place at the end. An
existing target is refused unless ``overwrite``, and even then only a folder that looks like
an export (it holds ``metadata.json``, ``report.json`` or ``saved_model.pb``) or an empty one
is replaced, so a typo in ``--out`` cannot delete unrelated work.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zoo import preset_io

EXPORT_MARKERS = ("metadata.json", "report.json", "saved_model.pb")


def check_target(target: str | os.PathLike, *, overwrite: bool) -> Path:
    """Refuse an existing ``target`` unless ``overwrite`` and it is an export or empty folder
    (to call before slow work; `atomic_folder` checks the same)."""
    return preset_io.check_replaceable(target, overwrite=overwrite, markers=EXPORT_MARKERS,
                                       what="an export")


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success it replaces ``target``.

    On any error the temporary folder is removed and ``target`` is left as it was (the
    mechanism is `zoo.preset_io.atomic_folder`; only export folders are ever replaced).
    """
    with preset_io.atomic_folder(target, overwrite=overwrite, markers=EXPORT_MARKERS,
                                 what="an export") as temp:
        yield temp


def write_file_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to a temporary file next to ``path`` and rename it into place."""
    path = Path(path).expanduser().absolute()
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def folder_bytes(path: str | os.PathLike) -> int:
    """Total size of the files under ``path`` (or of the file ``path``)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
