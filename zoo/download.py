"""Fetch preset archives (``.zip``, ``.tar.gz``) into the local cache and unpack them safely.

Cache layout under `cache_home()` (``$RNNZOO_HOME``, else ``$XDG_CACHE_HOME/rnnzoo``, else
``~/.cache/rnnzoo``)::

    downloads/<sha256><suffix>   verified archives (downloaded to a temp file, then renamed)
    presets/<sha256>/<name>/     the unpacked preset folder (unpacked aside, then renamed)

The cache is keyed by the archive's sha256, which is always the one the caller trusts (given
by the user or the shipped index), never one read from the archive. Nothing under the cache
is created until a URL or archive is actually loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import posixpath
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import IO

from zoo.errors import PresetError
from zoo.preset_io import CONFIG_FILE, relative_path_problem, sha256_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
TIMEOUT_S = 60.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def cache_home() -> Path:
    """The cache: ``$RNNZOO_HOME``, else ``$XDG_CACHE_HOME/rnnzoo``, else ``~/.cache/rnnzoo``."""
    if os.environ.get("RNNZOO_HOME"):
        return Path(os.environ["RNNZOO_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnnzoo"


def url_scheme(text: str) -> str:
    """The lower-case URL scheme of ``text`` ("" for plain paths, Windows drives included)."""
    scheme = urllib.parse.urlparse(text).scheme
    return scheme.lower() if len(scheme) > 1 else ""


def file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise PresetError(url, f"file:// URL with host {parsed.netloc!r} is not supported")
    return Path(urllib.request.url2pathname(parsed.path))


def check_sha256(sha256: str, label: str) -> str:
    """``sha256`` normalised to lower-case hex; `PresetError` if it is not one."""
    value = str(sha256).strip().lower()
    if not _SHA256.match(value):
        raise PresetError(label, f"bad sha256 {sha256!r}: expected 64 hex digits")
    return value


def archive_stem(name: str) -> str:
    """A folder name for an archive file name: ``speech-digits.tar.gz`` -> ``speech-digits``."""
    base = posixpath.basename(name)
    for suffix in ARCHIVE_SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", base) else "preset"


def _suffix(name: str) -> str:
    lower = name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), "")


def _ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PresetError(path, f"cannot create the cache folder ({error.strerror or error}); "
                                "set RNNZOO_HOME to a writable folder") from None
    return path


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""  # unreachable


class Progress:
    """A download progress bar on stderr: redrawn in place on a terminal, else two lines."""

    def __init__(self, total: int | None, label: str, stream: IO[str] | None = None):
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self._last = 0.0
        if not self.tty:
            self._write(f"downloading {label} ({_size(total) if total else 'size unknown'})\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed or broken stderr must not stop a download
            pass

    def _line(self, done: int) -> str:
        if self.total:
            fraction = min(done / self.total, 1.0)
            bar = "#" * int(30 * fraction)
            return (f"\r{self.label} [{bar:<30}] {100 * fraction:3.0f}% "
                    f"{_size(done)}/{_size(self.total)}")
        return f"\r{self.label} {_size(done)}"

    def update(self, done: int) -> None:
        """Show ``done`` bytes received (at most ten redraws a second)."""
        now = time.monotonic()
        if self.tty and now - self._last >= 0.1:
            self._last = now
            self._write(self._line(done))

    def close(self, done: int) -> None:
        """Finish the bar."""
        self._write(self._line(done) + "\n" if self.tty else f"downloaded {_size(done)}\n")


def _download(url: str, dest: Path, sha256: str) -> None:
    """Stream ``url`` into a temp file next to ``dest``, check its sha256, rename to ``dest``."""
    fd, temp = tempfile.mkstemp(prefix=f"{dest.name}.part-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
            except urllib.error.HTTPError as error:
                problem = f"download failed: HTTP {error.code} {error.reason}"
                raise PresetError(url, problem) from None
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise PresetError(url, f"download failed: {reason}") from None
            digest, done = hashlib.sha256(), 0
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                bar = Progress(total, posixpath.basename(urllib.parse.urlparse(url).path) or url)
                try:
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        bar.update(done)
                except (OSError, http.client.HTTPException) as error:
                    raise PresetError(url, f"download failed after {done} bytes: {error}") from None
                bar.close(done)
        if total is not None and done != total:
            raise PresetError(url, f"download truncated: got {done} of {total} bytes")
        actual = digest.hexdigest()
        if actual != sha256:
            raise PresetError(url, f"sha256 mismatch: expected {sha256}, the download has {actual}")
        os.replace(temp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _check_member(name: str, label: str) -> None:
    if name.strip("/") in ("", "."):
        return
    problem = relative_path_problem(name.rstrip("/"))
    if problem:
        raise PresetError(label, f"archive member {name!r}: {problem}")


def safe_extract(archive: Path, dest: Path, label: str) -> None:
    """Unpack a zip or tar archive into ``dest``, refusing members that would leave it."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                for info in handle.infolist():
                    _check_member(info.filename, label)
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise PresetError(label, f"archive member {info.filename!r} is a symlink; "
                                                 "links are not unpacked")
                handle.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as handle:
                for member in handle.getmembers():
                    _check_member(member.name, label)
                    if member.issym() or member.islnk():
                        base = posixpath.dirname(member.name) if member.issym() else ""
                        target = posixpath.normpath(posixpath.join(base, member.linkname))
                        if member.linkname.startswith("/") or relative_path_problem(target):
                            raise PresetError(label, f"archive member {member.name!r} links to "
                                                     f"{member.linkname!r}: path leaves the "
                                                     "preset folder")
                    elif not (member.isfile() or member.isdir()):
                        raise PresetError(label, f"archive member {member.name!r} is not a "
                                                 "regular file or folder")
                if hasattr(tarfile, "data_filter"):
                    handle.extractall(dest, filter="data")
                else:  # Python without extraction filters: members were checked above
                    handle.extractall(dest)
        else:
            raise PresetError(label, "not a .zip or .tar.gz archive")
    except PresetError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise PresetError(label, f"cannot unpack the archive ({error})") from None


def locate_preset(root: Path, label: str) -> Path:
    """The preset folder in ``root``: ``root`` itself or its one subfolder with config.json."""
    if (root / CONFIG_FILE).is_file():
        return root
    found = [p for p in root.iterdir()
             if p.is_dir() and not p.is_symlink() and (p / CONFIG_FILE).is_file()]
    if len(found) != 1:
        raise PresetError(label, "no preset folder (config.json) at the archive root or one "
                                 "folder down")
    return found[0]


def _unpack_into_cache(archive: Path, sha256: str, label: str, name_hint: str) -> Path:
    presets = _ensure_dir(cache_home() / "presets")
    final = presets / sha256
    if final.is_dir():
        return locate_preset(final, label)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=presets))
    holder = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.tmp-", dir=presets))
    try:
        safe_extract(archive, staging, label)
        found = locate_preset(staging, label)
        os.rename(found, holder / (found.name if found != staging else name_hint))
        try:
            os.rename(holder, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(holder, ignore_errors=True)  # another process unpacked it first
    except BaseException:
        shutil.rmtree(holder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return locate_preset(final, label)


def fetch_url(url: str, sha256: str) -> Path:
    """The unpacked preset folder of the archive at an http(s) ``url`` whose sha256 is given.

    A cached copy is used when present; otherwise the archive is downloaded (progress on
    stderr), checked against ``sha256`` and unpacked into the cache.
    """
    sha256 = check_sha256(sha256, url)
    cached = cache_home() / "presets" / sha256
    if cached.is_dir():
        return locate_preset(cached, url)
    path = urllib.parse.urlparse(url).path
    archive = _ensure_dir(cache_home() / "downloads") / (sha256 + _suffix(path))
    if not (archive.is_file() and sha256_file(archive) == sha256):
        _download(url, archive, sha256)
    return _unpack_into_cache(archive, sha256, url, archive_stem(path))


def from_archive(path: Path, sha256: str | None = None, label: str | None = None) -> Path:
    """The unpacked preset folder of a local archive, checked against ``sha256`` if given."""
    label = label or str(path)
    actual = sha256_file(path)
    if sha256 is not None and actual != check_sha256(sha256, label):
        raise PresetError(path, f"sha256 mismatch: expected {sha256.lower()}, the archive has "
                                f"{actual}")
    return _unpack_into_cache(path, actual, label, archive_stem(path.name))
