"""Model registry (timm style) and presets (keras-hub style folders).

Builders: `register`, `list_models`, `builder_info`, `build`.
Presets: `list_presets`, `load` (-> `Preset`), `save`, `update_card`; the folder format and
its checks live in `zoo.preset_io`, card.md in `zoo.card`, URL and archive fetching in
`zoo.download`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from zoo import download, external_weights
from zoo.card import render_card_md
from zoo.errors import PresetError, UnknownNameError
from zoo.preset_io import (
    ASSETS_DIR,
    CARD_FILE,
    CARD_MD_FILE,
    CONFIG_FILE,
    EXTERNAL_KEY,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    atomic_folder,
    find_code,
    list_files,
    read_json,
    relative_path_problem,
    sha256_file,
    verify_folder,
    write_json,
)

# Modules whose import registers builders; imported on first use of the registry.
FAMILY_MODULES = ("zoo.adding", "zoo.captioning", "zoo.music", "zoo.ner", "zoo.speech",
                  "zoo.text", "zoo.textgen", "zoo.timeseries", "zoo.translation", "zoo.video")


@dataclass(frozen=True)
class BuilderInfo:
    name: str
    fn: Callable[..., keras.Model]
    task: str | None
    doc: str
    parts: Callable[[keras.Model], dict] | None = None


_BUILDERS: dict[str, BuilderInfo] = {}
_families_loaded = False


def register(name: str, *, task: str | None = None,
             parts: Callable[[keras.Model], dict] | None = None) -> Callable:
    """Decorator that registers a builder function under ``name``. ``parts``: for a model
    exported as an encoder and a decoder step, the function that makes them from a built
    model (the protocol is in `export.parts`)."""

    def decorate(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _BUILDERS and _BUILDERS[name].fn is not fn:
            raise ValueError(f"builder {name!r} is already registered by "
                             f"{_BUILDERS[name].fn.__module__}")
        _BUILDERS[name] = BuilderInfo(name, fn, task, inspect.getdoc(fn) or "", parts)
        return fn

    return decorate


def _load_families() -> None:
    global _families_loaded
    if not _families_loaded:
        _families_loaded = True
        for module in FAMILY_MODULES:
            importlib.import_module(module)


def list_models(task: str | None = None) -> list[str]:
    """Registered builder names, sorted; only those of ``task`` if given."""
    _load_families()
    return sorted(n for n, info in _BUILDERS.items() if task is None or info.task == task)


def builder_info(name: str) -> BuilderInfo:
    """The registration record of builder ``name``."""
    _load_families()
    if name not in _BUILDERS:
        raise UnknownNameError("model builder", name, _BUILDERS)
    return _BUILDERS[name]


def build(name: str, **config: Any) -> keras.Model:
    """Build the model ``name`` with ``config``; records both on the model for `save`."""
    info = builder_info(name)
    signature = inspect.signature(info.fn)
    try:
        signature.bind(**config)
    except TypeError as error:
        raise ValueError(f"bad config for builder {name!r}: {error}; it takes "
                         f"{signature}") from None
    model = info.fn(**config)
    model.rnnzoo_builder = name
    model.rnnzoo_config = dict(config)
    if info.parts is not None:
        model.rnnzoo_parts = info.parts
    return model


# ---------------------------------------------------------------------------------------------
# Presets

# Packaged presets: one folder per preset, plus index.json {name: {"url", "sha256"}} of
# presets fetched on first use. Module-level so that tests can point it elsewhere.
PRESETS_DIR = Path(__file__).resolve().parent / "presets"
INDEX_FILE = "index.json"
RUN_PRESET_DIR = "preset"  # a training run folder keeps its trained preset here
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class Preset:
    """A loaded preset.

    Attributes:
        name: the preset name (as asked for, else the card's ``name``).
        model: the built `keras.Model` with its weights loaded.
        card: the parsed ``card.json``.
        assets: the preset's ``assets/`` folder (may be empty or absent).
        path: the preset folder.
        config: the parsed ``config.json`` (``format_version``, ``builder``, ``config``, ...).
    """

    name: str
    model: keras.Model = field(repr=False)
    card: dict
    assets: Path
    path: Path
    config: dict

    @property
    def builder(self) -> str:
        """The registry name of the builder the model came from."""
        return self.config["builder"]


def _read_index() -> dict[str, dict[str, str]]:
    path = PRESETS_DIR / INDEX_FILE
    if not path.is_file():
        return {}
    index = read_json(path)
    if not isinstance(index, dict):
        raise PresetError(path, "not a JSON object {name: {url, sha256}}")
    for name, entry in index.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("url"), str)
                and isinstance(entry.get("sha256"), str)):
            raise PresetError(path, f"entry {name!r} needs 'url' and 'sha256'")
    return index


def _packaged() -> list[str]:
    if not PRESETS_DIR.is_dir():
        return []
    return [p.name for p in PRESETS_DIR.iterdir()
            if _NAME.match(p.name) and (p / CONFIG_FILE).is_file()]


def list_presets() -> list[str]:
    """Names of the packaged presets and of those in the shipped index, sorted."""
    return sorted(set(_packaged()) | set(_read_index()))


def _from_folder(path: Path) -> Path:
    """The preset folder of ``path``: the folder itself or a training run's ``preset/``."""
    if (path / CONFIG_FILE).is_file():
        return path
    if (path / RUN_PRESET_DIR / CONFIG_FILE).is_file():
        return path / RUN_PRESET_DIR
    raise PresetError(path / CONFIG_FILE, "missing: not a preset folder (nor a training run "
                                          "folder with preset/)")


def _from_local(path: Path, sha256: str | None, label: str) -> Path:
    if path.is_dir():
        if sha256 is not None:
            raise ValueError(f"{label}: sha256 checks an archive, and this is a folder (its "
                             "files are checked against its card.json)")
        return _from_folder(path)
    if path.is_file():
        return download.from_archive(path, sha256, label)
    raise PresetError(path, "no such preset folder or archive")


def _from_url(url: str, sha256: str | None) -> Path:
    scheme = download.url_scheme(url)
    if scheme == "file":
        return _from_local(download.file_url_path(url), sha256, url)
    if scheme not in ("http", "https"):
        raise PresetError(url, f"unsupported URL scheme {scheme!r}; use a preset name, a folder, "
                               "file://, http:// or https://")
    if sha256 is None:
        sha256 = next((e["sha256"] for e in _read_index().values() if e["url"] == url), None)
    if sha256 is None:
        raise PresetError(url, "no sha256 given for this URL and it is not in the preset index; "
                               "pass sha256=<the archive's sha256> (a hash inside the archive "
                               "is never trusted)")
    return download.fetch_url(url, sha256)


def _resolve(source: str | os.PathLike, sha256: str | None) -> tuple[Path, str | None]:
    """(preset folder, name if ``source`` was a preset name)."""
    if isinstance(source, os.PathLike):
        return _from_local(Path(source).expanduser(), sha256, str(source)), None
    if not isinstance(source, str):
        raise TypeError(f"expected a preset name, path or URL, got {type(source).__name__}")
    if download.url_scheme(source):
        return _from_url(source, sha256), None
    if _NAME.match(source):
        packaged = PRESETS_DIR / source
        if (packaged / CONFIG_FILE).is_file():
            if sha256 is not None:
                raise ValueError(f"{source}: packaged presets are folders; sha256 checks archives")
            return packaged, source
        index = _read_index()
        if source in index:
            return _from_url(index[source]["url"], sha256 or index[source]["sha256"]), source
    path = Path(source).expanduser()
    if path.exists():
        return _from_local(path, sha256, source), None
    if _NAME.match(source):
        raise UnknownNameError("preset", source, list_presets())
    raise PresetError(path, "no such preset folder or archive")


def _compile_settings(compile: bool | dict, card: dict, card_path: Path) -> dict:
    if isinstance(compile, dict):
        return compile
    settings = card.get("compile")
    plain = (str, int, float, bool, type(None))
    if not isinstance(settings, dict) or not all(
            isinstance(v, plain) or (isinstance(v, list) and all(isinstance(i, plain) for i in v))
            for v in settings.values()):
        raise PresetError(card_path, "compile=True needs a 'compile' entry of names, e.g. "
                                     '{"optimizer": "adam", "loss": "mse"}; or pass '
                                     "compile={...} to load()")
    return settings


def load(name_or_path_or_url: str | os.PathLike, *, sha256: str | None = None,
         compile: bool | dict = False) -> Preset:
    """Load a preset: verify its folder, build its model and load its weights.

    Works offline except for an ``http(s)://`` source (or an index name that points to one),
    which is downloaded once; archives are unpacked into the cache (see
    `zoo.download.cache_home`) and later loads use the cached copy.

    Args:
        name_or_path_or_url: tried, in this order, as a packaged preset name (see
            `list_presets`), a name in the shipped index, a local preset folder, a training
            run folder (its ``preset/``), a ``.zip`` or ``.tar.gz`` archive, a ``file://``
            URL (folder or archive), then an ``http(s)://`` archive URL.
        sha256: the trusted sha256 of an archive (a hash inside the archive is never
            trusted); URLs need it unless the index lists them. Folders take none.
        compile: ``True`` compiles the model with the card's ``compile`` entry; a dict is
            passed to ``model.compile`` as keyword arguments; ``False`` leaves the model
            uncompiled.

    Returns:
        The `Preset`: its ``model`` built with its weights loaded, and its ``card``,
        ``config``, ``assets`` folder, ``path`` and ``name``.

    Raises:
        UnknownNameError: ``name_or_path_or_url`` is a name that is no preset (the message
            suggests close names).
        PresetError: the preset fails `zoo.preset_io.verify_folder`, its builder fails with
            its config, its weights do not load or it cannot be compiled; also a missing
            path, a URL without a known sha256 or a failed download. The message names the
            file (or URL) and the problem.
        ValueError: ``sha256`` given for a folder or a packaged preset.
        TypeError: ``name_or_path_or_url`` is neither a string nor a path.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> preset = zoo.load("adding-lstm")
        >>> preset.card["task"]
        'adding'
        >>> preset.model.predict_on_batch(np.zeros((1, 100, 2), np.float32)).shape
        (1, 1)
    """
    folder, name = _resolve(name_or_path_or_url, sha256)
    folder = folder.expanduser().resolve()
    try:
        config, card = verify_folder(folder, list_models())
    except PresetError as error:
        cached = download.cache_home().expanduser().resolve() / "presets"
        if not folder.is_relative_to(cached):
            raise
        entry = cached / folder.relative_to(cached).parts[0]
        raise PresetError(error.path, f"{error.problem} (in the download cache: delete {entry} "
                                      "to fetch it again)") from None
    builder = config["builder"]
    try:
        model = build(builder, **config.get("config", {}))
    except Exception as error:  # noqa: BLE001 - any builder failure is a bad preset config
        raise PresetError(folder / CONFIG_FILE, f"builder {builder!r} failed with this config "
                                                f"({type(error).__name__}: {error})") from None
    weights = folder / WEIGHTS_FILE
    try:
        external_weights.load_weights(model, weights, config.get(EXTERNAL_KEY, {}))
    except Exception as error:  # noqa: BLE001 - h5py and Keras raise many kinds
        raise PresetError(weights, f"cannot load the weights ({type(error).__name__}: "
                                   f"{error})") from None
    if compile:
        settings = _compile_settings(compile, card, folder / CARD_FILE)
        try:
            model.compile(**settings)
        except Exception as error:  # noqa: BLE001
            raise PresetError(folder / CARD_FILE, f"cannot compile with {settings} "
                                                  f"({error})") from None
    return Preset(name=name or str(card.get("name") or folder.name), model=model, card=card,
                  assets=folder / ASSETS_DIR, path=folder, config=config)


def _write_assets(dest: Path, assets: str | os.PathLike | dict | None) -> None:
    if assets is None:
        dest.mkdir()
    elif isinstance(assets, dict):
        dest.mkdir()
        for name, content in assets.items():
            problem = relative_path_problem(name)
            if problem:
                raise ValueError(f"asset {name!r}: {problem}")
            path = dest / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            elif isinstance(content, (bytes, bytearray)):
                path.write_bytes(bytes(content))
            else:
                raise ValueError(f"asset {name!r}: expected str or bytes, got "
                                 f"{type(content).__name__}")
    elif isinstance(assets, (str, os.PathLike)):
        source = Path(assets).expanduser()
        if not source.is_dir():
            raise ValueError(f"assets: {source} is not a folder")
        shutil.copytree(source, dest, symlinks=False)
    else:
        raise ValueError(f"assets must be a folder path, a dict name -> text/bytes or None, "
                         f"got {type(assets).__name__}")


def _json_problem(value: Any) -> str | None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def save(model: keras.Model, folder: str | os.PathLike, *, card: dict,
         assets: str | os.PathLike | dict | None = None, overwrite: bool = False,
         name: str | None = None) -> Path:
    """Write ``model`` as a preset folder and return its path.

    ``model`` must come from `build` (which records its builder and config). Writes
    ``config.json``, ``model.weights.h5`` (model variables only, no optimizer state),
    ``assets/`` (a copy of a folder, or a dict of name -> text/bytes), ``card.md`` and
    ``card.json`` (``card`` plus ``name``, ``builder`` and the sha256 of every other file);
    ``name`` defaults to the folder's name. The folder is written aside and renamed into
    place; an existing ``folder`` is refused with `FileExistsError` unless ``overwrite``.
    Raises `ValueError` for a model not made by `build`, a card or config that is not JSON,
    or assets a preset may not hold.
    """
    builder = getattr(model, "rnnzoo_builder", None)
    config = getattr(model, "rnnzoo_config", None)
    if not isinstance(builder, str) or not isinstance(config, dict):
        raise ValueError("save() needs a model made by zoo.build(), which records its builder "
                         f"and config; {getattr(model, 'name', model)!r} has none")
    if not isinstance(card, dict):
        raise ValueError(f"card must be a dict, got {type(card).__name__}")
    for what, value in (("card", card), ("builder config", config)):
        problem = _json_problem(value)
        if problem:
            raise ValueError(f"{what} is not JSON-serializable: {problem}")
    code = find_code(config, "config")
    if code:
        raise ValueError(f"builder config holds code ({code}); presets never load code")
    # An uncompiled twin holds exactly the model's variables: no optimizer or metric state.
    twin = build(builder, **config)
    try:
        twin.set_weights(model.get_weights())
    except ValueError as error:
        raise ValueError(f"the model's weights do not fit a fresh build({builder!r}, **{config}); "
                         f"was it changed after build()? ({error})") from None
    # frozen pretrained parts (an ImageNet backbone) still as built are not stored
    external = (external_weights.unchanged_parts(twin, build(builder, **config))
                if external_weights.marked_layers(twin) else {})
    target = Path(folder).expanduser().absolute()
    import tensorflow as tf

    from zoo import __version__

    with atomic_folder(target, overwrite=overwrite) as temp:
        write_json(temp / CONFIG_FILE, {
            "format_version": FORMAT_VERSION, "builder": builder, "config": config,
            "rnnzoo_version": __version__, "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
            **({EXTERNAL_KEY: external} if external else {}),
        })
        external_weights.save_weights(twin, temp / WEIGHTS_FILE, skip=external)
        _write_assets(temp / ASSETS_DIR, assets)
        _write_card(temp, {"name": name or target.name, "builder": builder,
                           **{k: v for k, v in card.items() if k not in _RESERVED},
                           **({EXTERNAL_KEY: external} if external else {})}, target)
    return target


_RESERVED = ("name", "builder", "files", EXTERNAL_KEY)


def _write_card(temp: Path, card: dict, target: Path) -> None:
    """Write card.md and card.json (with the sha256 of every other file) into ``temp``, then
    check that ``temp`` loads as a preset; `ValueError` if it would not."""
    card = {k: v for k, v in card.items() if k != "files"}
    for stale in (CARD_FILE, CARD_MD_FILE):
        (temp / stale).unlink(missing_ok=True)
    card["files"] = {n: sha256_file(temp / n) for n in list_files(temp)}
    (temp / CARD_MD_FILE).write_text(render_card_md(card), encoding="utf-8")
    card["files"] = {n: sha256_file(temp / n) for n in list_files(temp)}
    write_json(temp / CARD_FILE, card)
    try:
        verify_folder(temp, list_models())
    except PresetError as error:
        bad, base = Path(error.path), temp.resolve()
        shown = bad.relative_to(base) if bad.is_relative_to(base) else bad
        raise ValueError(f"refusing to write {target}: {shown}: {error.problem}") from None


def update_card(folder: str | os.PathLike, changes: dict) -> dict:
    """Merge ``changes`` into the card of the preset at ``folder`` (or a run folder's preset).

    The preset is verified first; ``card.md`` is re-rendered and the file hashes recorded
    again, and the folder is replaced atomically. ``name``, ``builder`` and ``files`` cannot
    be changed. Returns the new card.
    """
    source = _from_folder(Path(folder).expanduser()).resolve()
    verify_folder(source, list_models())
    if not isinstance(changes, dict):
        raise ValueError(f"changes must be a dict, got {type(changes).__name__}")
    fixed = sorted(set(changes) & set(_RESERVED))
    if fixed:
        raise ValueError(f"card keys {', '.join(fixed)} are set by rnnzoo and cannot be changed")
    problem = _json_problem(changes)
    if problem:
        raise ValueError(f"card changes are not JSON-serializable: {problem}")
    card = {**read_json(source / CARD_FILE), **changes}
    with atomic_folder(source, overwrite=True) as temp:
        shutil.copytree(source, temp, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if Path(d) == source
                                                 and n in (CARD_FILE, CARD_MD_FILE)])
        _write_card(temp, card, source)
    return json.loads((source / CARD_FILE).read_text(encoding="utf-8"))
