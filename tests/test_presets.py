"""Preset folders: save, load, verification refusals, archives, file:// and http:// URLs."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import download, registry
from zoo.errors import PresetError
from zoo.preset_io import sha256_file

X = np.random.default_rng(0).random((3, 6, 2), dtype=np.float32)
CARD = {
    "task": "adding",
    "dataset": "adding problem, generated",
    "split": "test",
    "metrics": {"keras": {"mse": 0.0123}, "tflite-int8": {"mse": 0.0125}},
    "training_command": "rnnzoo train adding --out runs/a --length 6 --units 3",
    "license": {"data": "synthetic", "weights": "Apache-2.0"},
}


def sha256_bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(3)
    built = zoo.build("adding-lstm", length=6, units=3)
    built.compile(optimizer="adam", loss="mse")  # optimizer state must not reach the preset
    built.fit(X, np.ones((3, 1)), epochs=1, verbose=0)
    return built


@pytest.fixture(scope="module")
def golden(model, tmp_path_factory) -> Path:
    """One saved preset; tests copy it before changing anything."""
    return zoo.save(model, tmp_path_factory.mktemp("golden") / "adding-tiny", card=CARD,
                    assets={"labels.txt": "sum\n", "sub/settings.json": b"{}"})


@pytest.fixture
def preset(golden, tmp_path) -> Path:
    """A fresh copy of the golden preset to tamper with."""
    return Path(shutil.copytree(golden, tmp_path / "adding-tiny"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("RNNZOO_HOME", str(home))
    return home


def rehash(folder: Path) -> None:
    """Record the current sha256 of every file in card.json (to test one check at a time)."""
    card = json.loads((folder / "card.json").read_text())
    card["files"] = {p.relative_to(folder).as_posix(): sha256_file(p)
                     for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "card.json"}
    (folder / "card.json").write_text(json.dumps(card))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def refused(folder: Path, file: str, problem: str) -> PresetError:
    with pytest.raises(PresetError) as caught:
        zoo.load(folder)
    message = str(caught.value)
    assert file in message and problem in message, message
    return caught.value


def tar_gz(folder: Path, dest: Path, arcname: str | None = None) -> Path:
    with tarfile.open(dest, "w:gz") as handle:
        handle.add(folder, arcname=arcname or folder.name)
    return dest


def zip_root(folder: Path, dest: Path) -> Path:
    """A zip holding the preset's files at its root (no enclosing folder)."""
    with zipfile.ZipFile(dest, "w") as handle:
        for path in sorted(folder.rglob("*")):
            handle.write(path, path.relative_to(folder).as_posix())
    return dest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over http on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_process(folder: Path) -> Iterator[str]:
    """``python -m http.server`` on 127.0.0.1 and a free port, as the issue asks."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "--directory", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("http.server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- save -----------------------------------------------------------------------------------

def test_round_trip_gives_identical_predictions(golden, model):
    preset = zoo.load(golden)
    assert isinstance(preset, zoo.Preset)
    assert preset.name == "adding-tiny" and preset.path == golden.resolve()
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))
    assert (preset.assets / "labels.txt").read_text() == "sum\n"
    assert preset.config["config"] == {"length": 6, "units": 3}
    assert preset.card["task"] == "adding"


def test_folder_contents_and_card(golden):
    config = json.loads((golden / "config.json").read_text())
    assert config["format_version"] == 1 and config["builder"] == "adding-lstm"
    assert config["rnnzoo_version"] == zoo.__version__
    assert config["keras_version"] == keras.__version__ and config["tensorflow_version"]
    card = json.loads((golden / "card.json").read_text())
    assert card["name"] == "adding-tiny" and card["builder"] == "adding-lstm"
    files = {p.relative_to(golden).as_posix() for p in golden.rglob("*")
             if p.is_file() and p.name != "card.json"}
    assert set(card["files"]) == files == {"config.json", "model.weights.h5", "card.md",
                                           "assets/labels.txt", "assets/sub/settings.json"}
    assert all(card["files"][f] == sha256_bytes(golden / f) for f in files)
    text = (golden / "card.md").read_text()
    for expected in ("# adding-tiny", "## Metrics", "| keras | 0.0123 |", "tflite-int8",
                     "rnnzoo train adding", "data: synthetic", "weights: Apache-2.0",
                     card["files"]["model.weights.h5"]):
        assert expected in text


def test_weights_file_holds_no_optimizer_state(golden):
    import h5py

    with h5py.File(golden / "model.weights.h5") as handle:
        names: list[str] = []
        handle.visit(names.append)
    assert names and not any("optimizer" in n for n in names)


def test_save_is_atomic_when_it_fails_midway(model, tmp_path, monkeypatch):
    def boom(card):
        raise RuntimeError("disk full")

    monkeypatch.setattr(registry, "render_card_md", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        zoo.save(model, tmp_path / "out" / "p", card=CARD)
    assert list((tmp_path / "out").iterdir()) == []  # no target, no temp folder


def test_overwrite_is_refused_then_replaces(model, golden, tmp_path):
    target = Path(shutil.copytree(golden, tmp_path / "p"))
    before = sha256_bytes(target / "card.json")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        zoo.save(model, target, card={"task": "other"})
    assert sha256_bytes(target / "card.json") == before
    zoo.save(model, target, card={"task": "other"}, overwrite=True)
    assert zoo.load(target).card["task"] == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # old copy and temp are gone


def test_overwrite_never_replaces_a_folder_that_is_not_a_preset(model, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a preset folder"):
        zoo.save(model, tmp_path / "mine", card=CARD, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_save_refuses_models_not_from_build(tmp_path):
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"needs a model made by zoo\.build\(\)"):
        zoo.save(plain, tmp_path / "p", card=CARD)
    assert not (tmp_path / "p").exists()


def test_save_copies_an_assets_folder_and_checks_assets(model, tmp_path):
    source = tmp_path / "src"
    (source / "deep").mkdir(parents=True)
    (source / "vocab.txt").write_text("a\nb\n")
    (source / "deep" / "x.txt").write_text("x")
    folder = zoo.save(model, tmp_path / "p", card=CARD, assets=source)
    assert (zoo.load(folder).assets / "deep" / "x.txt").read_text() == "x"
    with pytest.raises(ValueError, match="contains '..'"):
        zoo.save(model, tmp_path / "q", card=CARD, assets={"../evil.txt": "x"})
    with pytest.raises(ValueError, match="pickle files are not loaded"):
        zoo.save(model, tmp_path / "r", card=CARD, assets={"table.pkl": b"\x80\x04."})
    with pytest.raises(ValueError, match="not JSON-serializable"):
        zoo.save(model, tmp_path / "s", card={"metrics": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "src"]


# --- refusals on load: each names the file and the problem ----------------------------------

def test_unknown_builder_suggests_close_names(preset):
    edit_json(preset / "config.json", lambda c: c.update(builder="adding-lstn"))
    rehash(preset)
    error = refused(preset, "config.json", "unknown model builder 'adding-lstn'")
    assert "did you mean adding-lstm" in str(error)


def test_missing_weights(preset):
    (preset / "model.weights.h5").unlink()
    refused(preset, "model.weights.h5", "missing")


def test_truncated_weights_fail_the_hash(preset):
    weights = preset / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:2000])
    refused(preset, "model.weights.h5", "sha256 mismatch")


def test_truncated_weights_with_a_matching_hash_still_name_the_file(preset):
    weights = preset / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:2000])
    rehash(preset)
    refused(preset, "model.weights.h5", "cannot load the weights")


def test_weights_that_do_not_fit_the_config(preset):
    edit_json(preset / "config.json", lambda c: c["config"].update(units=4))
    rehash(preset)
    refused(preset, "model.weights.h5", "cannot load the weights")


def test_sha256_mismatch(preset):
    (preset / "assets" / "labels.txt").write_text("tampered\n")
    refused(preset, "assets/labels.txt", "sha256 mismatch")


def test_file_listed_but_missing(preset):
    (preset / "assets" / "labels.txt").unlink()
    refused(preset, "assets/labels.txt", "missing (listed in card.json)")


def test_extra_unlisted_file(preset):
    (preset / "assets" / "extra.txt").write_text("slipped in")
    refused(preset, "assets/extra.txt", "not listed in card.json")


@pytest.mark.parametrize("name, content", [("model.pkl", b"anything"),
                                           ("data.bin", b"\x80\x04\x95\x00"),
                                           ("cache.joblib", b"x")])
def test_pickle_files_are_refused(preset, name, content):
    (preset / "assets" / name).write_bytes(content)
    rehash(preset)
    refused(preset, f"assets/{name}", "pickle files are not loaded")


@pytest.mark.parametrize("code", [
    {"class_name": "Lambda", "config": {"function": "lambda x: x"}},
    {"class_name": "__lambda__", "config": {"code": "4wEAAA=="}},
    {"module": "builtins", "class_name": "function", "config": "eval"},
    {"function_type": "lambda", "function": ["code", None, None]},
])
def test_lambda_or_function_in_config_is_refused(preset, code):
    edit_json(preset / "config.json", lambda c: c["config"].update(layers=[{"inner": code}]))
    rehash(preset)
    refused(preset, "config.json", "Lambda layer or serialized function")


def test_newer_format_version_is_refused(preset):
    edit_json(preset / "config.json", lambda c: c.update(format_version=2))
    refused(preset, "config.json", "written by a newer rnnzoo")


def test_config_and_card_must_exist_and_parse(preset):
    (preset / "card.json").unlink()
    refused(preset, "card.json", "missing")
    (preset / "config.json").write_text("{not json")
    refused(preset, "config.json", "not valid JSON")
    (preset / "config.json").unlink()
    refused(preset, "config.json", "missing")


def test_symlink_leaving_the_folder_is_refused(preset, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (preset / "assets" / "link.txt").symlink_to(secret)
    refused(preset, "assets/link.txt", "path leaves the preset folder")


@pytest.mark.parametrize("change, shown", [
    (lambda c: c["files"].update({"../outside.txt": "0" * 64}), "outside.txt"),
    (lambda c: c["files"].update({"/etc/passwd": "0" * 64}), "/etc/passwd"),
    (lambda c: c.update(assets=["assets/labels.txt", "../../etc/passwd"]), "etc/passwd"),
])
def test_card_paths_leaving_the_folder_are_refused(preset, change, shown):
    (preset.parent / "outside.txt").write_text("x")
    edit_json(preset / "card.json", change)
    refused(preset, shown, "path leaves the preset folder")


# --- file:// and archives -------------------------------------------------------------------

def test_file_url_of_a_folder(golden, model):
    preset = zoo.load(golden.as_uri())
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))


@pytest.mark.parametrize("make", ["tar_gz", "zip_root"])
def test_file_url_of_an_archive(golden, model, tmp_path, cache, make):
    archive = (tar_gz(golden, tmp_path / "adding-tiny.tar.gz") if make == "tar_gz"
               else zip_root(golden, tmp_path / "adding-tiny.zip"))
    digest = sha256_bytes(archive)
    preset = zoo.load(archive.as_uri(), sha256=digest)
    assert preset.path == (cache / "presets" / digest / "adding-tiny").resolve()
    assert preset.name == "adding-tiny"
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))
    assert zoo.load(str(archive)).path == preset.path  # a plain path works too; cache reused
    with pytest.raises(PresetError, match="sha256 mismatch"):
        zoo.load(archive.as_uri(), sha256="0" * 64)


def test_archive_member_leaving_the_folder_is_refused(tmp_path, cache):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as handle:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        handle.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(PresetError, match=r"evil\.tar\.gz: archive member '\.\./escaped"):
        zoo.load(evil)
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as handle:
        handle.writestr("p/../../escaped.txt", "x")
    with pytest.raises(PresetError, match=r"evil\.zip: archive member"):
        zoo.load(evil_zip)
    assert not (tmp_path / "escaped.txt").exists() and not (cache / "escaped.txt").exists()
    assert [p for p in (cache / "presets").iterdir()] == []  # nothing half-unpacked is cached


def test_archive_symlink_leaving_the_folder_is_refused(tmp_path, cache):
    evil = tmp_path / "link.tar"
    with tarfile.open(evil, "w") as handle:
        info = tarfile.TarInfo("p/config.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        handle.addfile(info)
    with pytest.raises(PresetError, match="links to '/etc/passwd': path leaves the preset"):
        zoo.load(evil)


def test_archive_without_a_preset_is_refused(tmp_path, cache):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("README.txt", "no preset here")
    with pytest.raises(PresetError, match="no preset folder"):
        zoo.load(archive)


# --- http(s) --------------------------------------------------------------------------------

def test_http_download_lands_in_the_cache_and_is_reused(golden, model, tmp_path, cache, capsys):
    site = tmp_path / "site"
    site.mkdir()
    archive = tar_gz(golden, site / "adding-tiny.tar.gz")
    digest = sha256_bytes(archive)
    with serve_process(site) as base:
        url = f"{base}/adding-tiny.tar.gz"
        preset = zoo.load(url, sha256=digest)
    assert "downloading adding-tiny.tar.gz" in capsys.readouterr().err
    assert preset.path == (cache / "presets" / digest / "adding-tiny").resolve()
    assert (cache / "downloads" / f"{digest}.tar.gz").is_file()
    np.testing.assert_array_equal(preset.model.predict(X, verbose=0), model.predict(X, verbose=0))
    again = zoo.load(url, sha256=digest)  # the server is gone: the cache answers
    assert again.path == preset.path
    assert capsys.readouterr().err == ""


def test_http_wrong_sha256_leaves_nothing_cached(golden, tmp_path, cache):
    site = tmp_path / "site"
    site.mkdir()
    tar_gz(golden, site / "p.tar.gz")
    with serve(site) as base, pytest.raises(PresetError, match=r"p\.tar\.gz: sha256 mismatch"):
        zoo.load(f"{base}/p.tar.gz", sha256="ab" * 32)
    assert not (cache / "presets").exists() or list((cache / "presets").iterdir()) == []
    assert list((cache / "downloads").iterdir()) == []


def test_http_needs_a_sha256_unless_indexed(golden, tmp_path, cache, monkeypatch, capsys):
    with pytest.raises(PresetError, match="no sha256 given for this URL"):
        zoo.load("http://127.0.0.1:9/p.tar.gz")
    site = tmp_path / "site"
    site.mkdir()
    digest = sha256_bytes(tar_gz(golden, site / "p.tar.gz"))
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    monkeypatch.setattr(registry, "PRESETS_DIR", packaged)
    with serve(site) as base:
        url = f"{base}/p.tar.gz"
        (packaged / "index.json").write_text(json.dumps({"remote-tiny": {"url": url,
                                                                         "sha256": digest}}))
        assert zoo.list_presets() == ["remote-tiny"]
        by_name = zoo.load("remote-tiny")
        assert by_name.name == "remote-tiny"
        assert zoo.load(url).path == by_name.path  # the index vouches for the URL


def test_http_errors_are_named(tmp_path, cache):
    with serve(tmp_path) as base, pytest.raises(PresetError, match="download failed: HTTP 404"):
        zoo.load(f"{base}/missing.tar.gz", sha256="0" * 64)
    with pytest.raises(PresetError, match="bad sha256"):
        zoo.load("http://127.0.0.1:9/p.tar.gz", sha256="xyz")


def test_unwritable_cache_gives_a_clear_error(golden, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should go")
    monkeypatch.delenv("RNNZOO_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(blocker / "home"))
    assert zoo.load(golden).name == "adding-tiny"  # folders never touch the cache
    archive = tar_gz(golden, tmp_path / "p.tar.gz")
    with pytest.raises(PresetError, match="set RNNZOO_HOME to a writable folder"):
        zoo.load(archive)
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path / "cache"))
    assert zoo.load(archive).name == "adding-tiny"


def test_progress_bar_redraws_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = download.Progress(2_000_000, "p.tar.gz", stream)
    bar.update(1_000_000)
    bar.close(2_000_000)
    text = stream.getvalue()
    assert text.startswith("\rp.tar.gz [") and "100% 2.0 MB/2.0 MB\n" in text
    quiet = io.StringIO()
    bar = download.Progress(None, "p.tar.gz", quiet)
    bar.update(10)
    bar.close(10)
    assert quiet.getvalue().count("\n") == 2  # not a terminal: two lines, no redraws


def test_cache_home_default(monkeypatch):
    monkeypatch.delenv("RNNZOO_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert download.cache_home() == Path(os.path.expanduser("~")) / ".cache" / "rnnzoo"


# --- update_card ----------------------------------------------------------------------------

def test_update_card_rewrites_card_and_hashes(preset, model):
    card = zoo.update_card(preset, {"split": "test", "metrics": {"keras": {"mse": 0.5}}})
    assert card["split"] == "test" and card["name"] == "adding-tiny"
    assert "| keras | 0.5 |" in (preset / "card.md").read_text()
    assert card["files"]["card.md"] == sha256_bytes(preset / "card.md")
    loaded = zoo.load(preset)  # still verifies
    assert loaded.card["metrics"] == {"keras": {"mse": 0.5}}
    np.testing.assert_array_equal(loaded.model.predict(X, verbose=0), model.predict(X, verbose=0))
    assert sorted(p.name for p in preset.parent.iterdir()) == ["adding-tiny"]
    with pytest.raises(ValueError, match="cannot be changed"):
        zoo.update_card(preset, {"files": {}})


def test_update_card_refuses_a_tampered_preset(preset):
    (preset / "assets" / "labels.txt").write_text("tampered\n")
    with pytest.raises(PresetError, match="sha256 mismatch"):
        zoo.update_card(preset, {"split": "test"})


def test_a_tampered_cache_entry_says_how_to_refetch(golden, tmp_path, cache):
    archive = tar_gz(golden, tmp_path / "adding-tiny.tar.gz")
    cached = zoo.load(archive).path
    (cached / "assets" / "labels.txt").write_text("tampered\n")
    with pytest.raises(PresetError, match=r"labels\.txt: sha256 mismatch.*delete .* to fetch it"):
        zoo.load(archive)
    shutil.rmtree(cached.parent)
    assert zoo.load(archive).path == cached  # unpacked again from the archive
