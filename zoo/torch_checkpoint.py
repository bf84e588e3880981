"""Read a PyTorch state dict into numpy arrays, without torch and without running pickle code.

`read_state_dict(path)` returns ``{name: numpy array}`` for the two layouts ``torch.save``
writes:

* zip (PyTorch >= 1.6): ``<prefix>/data.pkl`` holds the pickled dict, each storage is the raw
  little-endian file ``<prefix>/data/<key>``;
* legacy (``_use_new_zipfile_serialization=False`` or PyTorch < 1.6): five pickles in a row
  (magic number, protocol version, system info, the dict, the list of storage keys), then
  each storage as an int64 element count followed by its raw bytes.

The even older tar layout (PyTorch < 0.4) is refused with a clear error.

Every pickle is read by `SafeUnpickler`, whose ``find_class`` accepts only the globals a state
dict needs (`ALLOWED_GLOBALS`: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``
and ``_rebuild_tensor``, the typed storage classes such as ``torch.FloatStorage`` and
``torch.UntypedStorage``), each mapped to a small numpy-backed stand-in, never to torch. Any
other global (``os.system``, ``builtins.eval``, ...) raises `CheckpointError` naming the file and
the global before anything is called. Storages come through ``persistent_load`` and are checked
against the bytes really present; tensor offsets, sizes and strides are checked against their
storage before numpy views them.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from zoo.errors import RnnzooError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage class name -> numpy dtype of its elements.
_STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}


class CheckpointError(RnnzooError, ValueError):
    """A torch checkpoint that cannot be read safely; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes  # installed with TensorFlow

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


class _StorageType:
    """Stand-in for a torch storage class: only knows its element type."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = _numpy_dtype(_STORAGE_DTYPES[name])


class _Storage:
    """Stand-in for a torch storage: ``numel`` elements of ``dtype``; bytes filled in later."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.root: _Storage | None = None  # legacy views: elements [offset, offset + numel)
        self.offset = 0
        self.data: np.ndarray | None = None

    def array(self) -> np.ndarray | None:
        if self.root is not None:
            root = self.root.array()
            return None if root is None else root[self.offset:self.offset + self.numel]
        return self.data


class _TensorRef:
    """A tensor waiting for its storage's bytes (legacy files store them after the pickle)."""

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any,
                       requires_grad: Any = False, backward_hooks: Any = None,
                       metadata: Any = None) -> _TensorRef:
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> _TensorRef:
    return _TensorRef(storage, storage_offset, size, stride)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    }
    for name in _STORAGE_DTYPES:
        allowed[("torch", name)] = _StorageType(name)
    allowed[("torch.storage", "UntypedStorage")] = allowed[("torch", "UntypedStorage")]
    return allowed


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _allowed_globals()


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only `ALLOWED_GLOBALS` and hands storages to a callback."""

    def __init__(self, file: IO[bytes], path: str | os.PathLike,
                 storage: Callable[[tuple], Any] | None = None):
        super().__init__(file)
        self._path = path
        self._storage = storage

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(self._path, f"refused to load global {module}.{name}: a "
                                  "torch state dict needs only tensors and storages "
                                  "(the file may be hostile)") from None

    def persistent_load(self, pid: Any) -> Any:
        if self._storage is None:
            raise CheckpointError(self._path, "unexpected storage reference in a header pickle")
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError(self._path, f"unknown persistent id {str(pid)[:80]}")
        return self._storage(pid[1:])


def _safe_load(file: IO[bytes], path: str | os.PathLike,
               storage: Callable[[tuple], Any] | None = None) -> Any:
    try:
        return SafeUnpickler(file, path, storage).load()
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(path, f"not a readable torch checkpoint "
                              f"({type(error).__name__}: {error})") from None


def _text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Storages:
    """The storages a pickle refers to, by key; `record` is the ``persistent_load`` callback."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self.by_key: dict[str, _Storage] = {}

    def record(self, fields: tuple) -> _Storage:
        if len(fields) not in (4, 5):
            raise CheckpointError(self.path, f"malformed storage record {str(fields)[:80]}")
        storage_type, key, _location, numel = fields[:4]
        view = fields[4] if len(fields) == 5 else None
        if not isinstance(storage_type, _StorageType) or not _is_int(numel) or numel < 0:
            raise CheckpointError(self.path, f"malformed storage record {str(fields)[:80]}")
        key = _text(key)
        storage = self.by_key.get(key)
        if storage is None:
            storage = self.by_key[key] = _Storage(key, storage_type.dtype, numel)
        elif storage.dtype != storage_type.dtype or storage.numel != numel:
            raise CheckpointError(self.path, f"storage {key} is declared twice differently")
        if view is None:
            return storage
        view_key, offset, view_numel = view
        if not (_is_int(offset) and _is_int(view_numel) and offset >= 0
                and offset + view_numel <= numel):
            raise CheckpointError(self.path, f"storage view {_text(view_key)} leaves storage {key}")
        part = _Storage(_text(view_key), storage.dtype, view_numel)
        part.root, part.offset = storage, offset
        return part

    def fill(self, key: str, raw: bytes | memoryview) -> None:
        storage = self.by_key[key]
        expected = storage.numel * storage.dtype.itemsize
        if len(raw) != expected:
            raise CheckpointError(self.path, f"storage {key} has {len(raw)} bytes, "
                                  f"expected {expected}")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)


def _tensor(ref: _TensorRef, name: str, path: str | os.PathLike) -> np.ndarray:
    """The tensor ``ref`` as a contiguous numpy array, after checking it fits its storage."""
    storage, offset, size, stride = ref.storage, ref.offset, ref.size, ref.stride
    if not isinstance(storage, _Storage):
        raise CheckpointError(path, f"tensor {name}: its storage is not a storage")
    size, stride = tuple(size), tuple(stride)
    if (not _is_int(offset) or offset < 0 or len(size) != len(stride)
            or not all(_is_int(v) and v >= 0 for v in size + stride)):
        raise CheckpointError(path, f"tensor {name}: bad offset, size or stride")
    data = storage.array()
    if data is None:
        raise CheckpointError(path, f"tensor {name}: storage {storage.key} has no data")
    if 0 in size:
        return np.zeros(size, dtype=data.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= data.size:
        raise CheckpointError(path, f"tensor {name} reaches element {last} of storage "
                              f"{storage.key}, which has {data.size}")
    view = np.lib.stride_tricks.as_strided(
        data[offset:], shape=size, strides=[s * data.itemsize for s in stride], writeable=False)
    return np.array(view, order="C")  # a copy: ascontiguousarray would make 0-d arrays 1-d


def _state_dict(obj: Any, path: str | os.PathLike) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise CheckpointError(path, f"holds a {type(obj).__name__}, not a state dict")
    if "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # training checkpoints wrap the weights
    out = {}
    for name, value in obj.items():
        if not isinstance(value, _TensorRef):
            raise CheckpointError(path, f"entry {name!r} is not a tensor")
        out[str(name)] = _tensor(value, str(name), path)
    return out


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(path, "zip file without exactly one <prefix>/data.pkl: "
                                  "not a torch checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names:
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            if order != "little":
                raise CheckpointError(path, f"byte order {order!r} is not supported")
        storages = _Storages(path)
        with archive.open(pickles[0]) as handle:
            obj = _safe_load(io.BytesIO(handle.read()), path, storages.record)
        for key, storage in storages.by_key.items():
            member = f"{prefix}data/{key}"
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise CheckpointError(path, f"storage file {member} is missing") from None
            if info.file_size != storage.numel * storage.dtype.itemsize:
                raise CheckpointError(path, f"storage {key} has {info.file_size} bytes, "
                                      f"expected {storage.numel * storage.dtype.itemsize}")
            storages.fill(key, archive.read(member))
    return _state_dict(obj, path)


def _read_legacy(path: Path) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if _safe_load(handle, path) != LEGACY_MAGIC:
            raise CheckpointError(path, "not a torch checkpoint (bad magic number)")
        protocol = _safe_load(handle, path)
        if protocol != LEGACY_PROTOCOL:
            raise CheckpointError(path, f"unsupported legacy protocol version {protocol!r}")
        sys_info = _safe_load(handle, path)
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise CheckpointError(path, "only little-endian checkpoints are supported")
        storages = _Storages(path)
        obj = _safe_load(handle, path, storages.record)
        keys = _safe_load(handle, path)
        if not isinstance(keys, list) or {_text(k) for k in keys} != set(storages.by_key):
            raise CheckpointError(path, "the storage key list does not match the tensors")
        for key in map(_text, keys):
            head = handle.read(8)
            if len(head) != 8:
                raise CheckpointError(path, f"truncated before storage {key}")
            (numel,) = struct.unpack("<q", head)
            storage = storages.by_key[key]
            if numel != storage.numel:
                raise CheckpointError(path, f"storage {key} holds {numel} elements, "
                                      f"expected {storage.numel}")
            nbytes = numel * storage.dtype.itemsize
            if handle.tell() + nbytes > size:
                raise CheckpointError(path, f"truncated inside storage {key}")
            storages.fill(key, handle.read(nbytes))
    return _state_dict(obj, path)


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of the torch state dict at ``path`` as numpy arrays, by name.

    Raises `CheckpointError` (naming the file) for anything that is not a plain state dict of
    tensors: a refused global, a malformed or truncated file, the old tar layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    with open(path, "rb") as handle:
        head = handle.read(512)
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise CheckpointError(path, "tar-based torch checkpoint (PyTorch < 0.4) is not "
                              "supported; re-save it with a newer PyTorch")
    if not head.startswith(b"\x80"):
        raise CheckpointError(path, "not a torch checkpoint (neither zip nor pickle)")
    return _read_legacy(path)
