"""Preset folders on disk: hashing, verification and atomic writing.

A preset folder (DESIGN.md, "Preset folder") holds ``config.json``, ``model.weights.h5``,
``assets/``, ``card.json`` and ``card.md``. `verify_folder` checks one before anything in it is
used; `atomic_folder` writes one so that readers never see it half-written. This module knows
nothing about Keras or the registry; the caller passes the known builder names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from zoo.errors import PresetError, UnknownNameError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
EXTERNAL_KEY = "external_weights"  # {layer: source} of frozen parts not in WEIGHTS_FILE
CARD_FILE = "card.json"
CARD_MD_FILE = "card.md"
ASSETS_DIR = "assets"

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
# Class names and keys that mean "code serialized into a config" (Keras 2 and Keras 3).
_CODE_CLASS_NAMES = {"lambda", "__lambda__", "function", "tfoplambda", "slicingoplambda"}
_CODE_KEYS = {"function", "function_type", "__lambda__", "__function__", "output_shape_type"}
_LEAVES = "path leaves the preset folder"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    """Parse the JSON file at ``path``; `PresetError` naming it if missing or malformed."""
    if not path.is_file():
        raise PresetError(path, "missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetError(path, f"not valid JSON ({error})") from None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON with a final newline."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def list_files(folder: Path) -> list[str]:
    """Relative POSIX paths of every file (and symlink) under ``folder``, sorted."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        names = files + [d for d in dirs if (base / d).is_symlink()]
        found += [(base / name).relative_to(folder).as_posix() for name in names]
    return sorted(found)


def is_pickle(path: Path) -> bool:
    """Whether ``path`` is named or starts like a pickle (protocol 2 to 5)."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def relative_path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe path relative to a preset folder, or None if it is."""
    if not isinstance(name, str) or not name:
        return "empty or non-text path"
    if "\\" in name or "\x00" in name:
        return f"{_LEAVES} (bad character in {name!r})"
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return f"{_LEAVES} (absolute path {name!r})"
    if ".." in pure.parts:
        return f"{_LEAVES} ({name!r} contains '..')"
    return None


def find_code(value: Any, where: str = "config") -> str | None:
    """Location of a Lambda layer or serialized function in ``value``, or None."""
    if isinstance(value, dict):
        class_name = value.get("class_name")
        short = class_name.rsplit(".", 1)[-1].lower() if isinstance(class_name, str) else ""
        if short in _CODE_CLASS_NAMES:
            return f"{where}.class_name = {class_name!r}"
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in _CODE_KEYS:
                return f"{where}.{key}"
            found = find_code(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_code(item, f"{where}[{index}]")
            if found:
                return found
    return None


def _check_links(folder: Path) -> None:
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(folder):
                    raise PresetError(path, f"{_LEAVES} (symlink to {target})")


def _card_paths(card: dict) -> Iterator[str]:
    """Paths the card refers to: its ``files`` keys and its ``assets`` entries."""
    yield from card.get("files", {})
    assets = card.get("assets")
    if isinstance(assets, str):
        yield assets
    elif isinstance(assets, dict):
        yield from (v for v in assets.values() if isinstance(v, str))
    elif isinstance(assets, list):
        yield from (v for v in assets if isinstance(v, str))


def read_config(folder: Path, known_builders: Collection[str]) -> dict:
    """Read and check ``config.json``: format version, no code, a known builder."""
    path = folder / CONFIG_FILE
    config = read_json(path)
    if not isinstance(config, dict):
        raise PresetError(path, "not a JSON object")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PresetError(path, f"bad or missing format_version {version!r}")
    if version > FORMAT_VERSION:
        raise PresetError(path, f"format_version {version} was written by a newer rnnzoo "
                                f"(this one reads up to {FORMAT_VERSION}); upgrade rnnzoo")
    code = find_code(config, "config.json")
    if code:
        raise PresetError(path, f"config needs a Lambda layer or serialized function ({code}); "
                                "presets never load code")
    builder = config.get("builder")
    if not isinstance(builder, str):
        raise PresetError(path, "missing 'builder'")
    if builder not in known_builders:
        raise PresetError(path, str(UnknownNameError("model builder", builder, known_builders)))
    if not isinstance(config.get("config", {}), dict):
        raise PresetError(path, "'config' is not a JSON object")
    external = config.get(EXTERNAL_KEY, {})
    if not isinstance(external, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in external.items()):
        raise PresetError(path, f"'{EXTERNAL_KEY}' is not a JSON object of layer name -> "
                                "weights source")
    return config


def read_card(folder: Path) -> dict:
    """Read ``card.json`` and check its ``files`` table and the paths it names."""
    path = folder / CARD_FILE
    card = read_json(path)
    if not isinstance(card, dict):
        raise PresetError(path, "not a JSON object")
    files = card.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise PresetError(path, "missing 'files' table {relative path: sha256}")
    for name in _card_paths(card):
        problem = relative_path_problem(name)
        if problem is None and not (folder / name).resolve().is_relative_to(folder):
            problem = f"{_LEAVES} ({name!r})"
        if problem:
            raise PresetError(folder / str(name), f"{problem}, named in card.json")
    return card


def verify_folder(folder: str | Path, known_builders: Collection[str]) -> tuple[dict, dict]:
    """Check a preset folder before use; returns ``(config, card)``.

    Raises `PresetError` naming the offending file for: symlinks or card paths that leave the
    folder, pickle files, a missing or malformed ``config.json`` or ``card.json``, a newer
    ``format_version``, a Lambda layer or serialized function in the config, an unknown
    builder, a missing weights file, files not listed in ``card.json``, and sha256 mismatches.
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise PresetError(folder, "not a folder")
    _check_links(folder)
    present = list_files(folder)
    for name in present:
        if is_pickle(folder / name):
            raise PresetError(folder / name, "pickle files are not loaded")
    config = read_config(folder, known_builders)
    card = read_card(folder)
    if not (folder / WEIGHTS_FILE).is_file():
        raise PresetError(folder / WEIGHTS_FILE, "missing")
    listed = card["files"]
    for name in present:
        if name != CARD_FILE and name not in listed:
            raise PresetError(folder / name, "not listed in card.json 'files'; unverified files "
                                             "are refused")
    for name, expected in listed.items():
        path = folder / name
        if not path.is_file():
            raise PresetError(path, "missing (listed in card.json)")
        actual = sha256_file(path)
        if actual != expected.lower():
            raise PresetError(path, f"sha256 mismatch (card.json lists {expected}, the file has "
                                    f"{actual}): the file is truncated or changed")
    return config, card


def check_replaceable(target: str | Path, *, overwrite: bool,
                      markers: tuple[str, ...] = (CONFIG_FILE, CARD_FILE),
                      what: str = "a preset") -> Path:
    """Refuse (`FileExistsError`) an existing ``target`` unless ``overwrite`` and it is an
    empty folder or a ``what`` folder (one holding one of ``markers``); return its absolute
    path."""
    target = Path(target).expanduser().absolute()
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{target}: already exists; pass --overwrite "
                                  "(overwrite=True) to replace it")
        if target.is_symlink() or not target.is_dir():
            raise FileExistsError(f"{target}: exists and is not a folder; not replacing it")
        if any(target.iterdir()) and not any((target / m).exists() for m in markers):
            raise FileExistsError(f"{target}: exists and is not {what} folder; not "
                                  "replacing it")
    return target


@contextlib.contextmanager
def atomic_folder(target: str | Path, *, overwrite: bool = False,
                  markers: tuple[str, ...] = (CONFIG_FILE, CARD_FILE),
                  what: str = "a preset") -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success it becomes ``target``.

    On any error the temporary folder is removed and ``target`` is untouched. An existing
    ``target`` is refused (`FileExistsError`) unless ``overwrite``; then it is moved aside,
    replaced by the new folder and deleted. Only an empty folder or one holding one of
    ``markers`` (a ``what`` folder: a preset, an export) is ever replaced.
    """
    target = check_replaceable(target, overwrite=overwrite, markers=markers, what=what)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temp, 0o777 & ~umask)  # mkdtemp makes it private; the result is shared like a file
        yield temp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old)  # replaces the empty placeholder folder
            try:
                os.rename(temp, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
