"""Where data is found: the data root ($RNNZOO_DATA, else ../shared/data), the dataset record
of cards and exports (a path relative to the root), and that no shipped card or export holds
an absolute path of the machine that wrote it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnnzoo.cli import main
from tasks.common.data_paths import DataNotFoundError, data_record, locate, resolve_data

PRESETS = Path(__file__).resolve().parents[1] / "zoo" / "presets"
CHORALES = {"train": [[[60, 64, 67], [62], []], [[48, 52], [50, 53], [52, 55], [53]]],
            "valid": [[[60], [62], [64]]], "test": [[[72, 76]], [[60], [], [64, 67]]]}
# A path token of some machine: "/..." or "~/..." after a space, quote, "=" or "(", a Windows
# drive, or a usual top folder anywhere (URLs, "scheme://", do not count).
# a "/" that starts a path: followed by a path character (a lone "/" token, "a / b" are not)
_ABSOLUTE = re.compile(r"(?:^|[\s=(\"'`])(?:/(?=[\w.~-])|~/)|^[A-Za-z]:[\\/]"
                       r"|/(?:work|home|tmp|root|Users|mnt|private|var)/")


def absolute_paths(value, where: str = "") -> list[str]:
    """Every string inside ``value`` (JSON-like) that holds an absolute path, with its place."""
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in absolute_paths(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in absolute_paths(v, f"{where}[{i}]")]
    if isinstance(value, str) and _ABSOLUTE.search(value):
        return [f"{where}: {value}"]
    return []


class _Task:
    name, needs_data = "music-jsb", True


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A data root (set as $RNNZOO_DATA) holding a tiny JSB dataset in jsb/."""
    folder = tmp_path / "data-root"
    (folder / "jsb").mkdir(parents=True)
    (folder / "jsb" / "jsb-chorales-quarter.json").write_text(json.dumps(CHORALES))
    monkeypatch.setenv("RNNZOO_DATA", str(folder))
    return folder


def test_records_are_relative_to_the_data_root(root, tmp_path):
    assert data_record(root / "jsb") == {"name": "jsb", "path": "jsb"}
    assert data_record(str(root / "jsb" / "x.json")) == {"name": "jsb", "path": "jsb/x.json"}
    outside = tmp_path / "mine"
    assert data_record(outside) == {"name": "mine", "given": str(outside)}
    assert data_record(outside, keep_outside=False) == {"name": "mine"}  # no absolute path
    assert data_record("rel/mine", keep_outside=False) == {"name": "mine", "given": "rel/mine"}
    assert data_record("tfds:spoken_digit")["given"] == "tfds:spoken_digit"
    assert data_record(None) is None


def test_resolve_prefers_data_then_the_record_under_rnnzoo_data(root):
    card = {"data": {"name": "jsb", "path": "jsb"}}
    assert resolve_data("elsewhere", card, _Task) == "elsewhere"
    assert Path(resolve_data(None, card, _Task)) == root / "jsb"
    assert resolve_data(None, {"data_path": str(root / "jsb")}, _Task) == str(root / "jsb")
    with pytest.raises(ValueError, match="task music-jsb needs --data PATH"):
        resolve_data(None, {}, _Task)


def test_missing_data_is_one_clear_line(root):
    with pytest.raises(DataNotFoundError) as error:
        locate({"name": "fsdd", "path": "fsdd"})
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, FileNotFoundError)
    assert "dataset fsdd not found" in message and str(root) in message
    assert "--data DIR" in message and "RNNZOO_DATA" in message
    with pytest.raises(DataNotFoundError, match="no location recorded"):
        locate({"name": "mine"})


def test_default_root_is_shared_data_beside_the_checkout(monkeypatch, tmp_path):
    from tasks.common import data_paths

    monkeypatch.delenv("RNNZOO_DATA", raising=False)
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    assert data_paths.root_candidates() == [Path("../shared/data"),
                                           data_paths.CHECKOUT.parent / "shared" / "data"]
    (tmp_path / "shared" / "data" / "ds").mkdir(parents=True)
    assert data_paths.data_root() == Path("../shared/data")
    assert Path(locate({"name": "ds", "path": "ds"})).resolve() == (
        tmp_path / "shared" / "data" / "ds").resolve()


def test_training_command_names_the_data_under_the_default_root():
    from rnnzoo.commands.train import _training_command

    record = {"name": "fsdd", "path": "fsdd"}
    assert _training_command(["train", "x", "--data", "/any/where/fsdd", "--out", "r"],
                             record) == "rnnzoo train x --data ../shared/data/fsdd --out r"
    assert _training_command(["train", "x", "--data=/a/fsdd"], record) == (
        "rnnzoo train x --data=../shared/data/fsdd")
    assert _training_command(["train", "x", "--data", "mine"], {"name": "mine",
                                                                "given": "mine"}) == (
        "rnnzoo train x --data mine")


@pytest.mark.parametrize("preset", sorted(p.name for p in PRESETS.iterdir() if p.is_dir()))
def test_shipped_cards_hold_no_absolute_path(preset):
    card = json.loads((PRESETS / preset / "card.json").read_text())
    assert absolute_paths(card) == []
    assert "data_path" not in card
    markdown = (PRESETS / preset / "card.md").read_text().splitlines()
    assert absolute_paths(markdown) == []
    if "data" in card:
        assert set(card["data"]) == {"name", "path"}
        assert "--data ../shared/data/" + card["data"]["path"] in card["training_command"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_train_evaluate_export_find_the_data_by_its_record(root, tmp_path, capsys,
                                                           monkeypatch):
    from export.tflite_file import read_metadata

    run = tmp_path / "run"
    code, _, err = _run(capsys, "train", "music-jsb", "--data", str(root / "jsb"), "--units",
                        "4", "--epochs", "1", "--batch-size", "2", "--quiet", "--out", str(run))
    assert code == 0, err
    card = json.loads((run / "preset" / "card.json").read_text())
    assert card["data"] == {"name": "jsb", "path": "jsb"} and "data_path" not in card
    code, out, err = _run(capsys, "evaluate", str(run), "--split", "test")
    assert code == 0 and "[music-jsb, test] nll" in out, err

    out_dir = tmp_path / "export"
    code, _, err = _run(capsys, "export", str(run), "--out", str(out_dir), "--format", "tflite",
                        "--quantize", "none", "--kinds", "step", "--eval-examples", "2")
    assert code == 0, err
    metadata = json.loads((out_dir / "metadata.json").read_text())
    assert metadata["data"] == {"name": "jsb", "path": "jsb"}
    assert metadata["preset_source"] == {"folder": "../run/preset"}
    assert absolute_paths(metadata) == []
    embedded = read_metadata((out_dir / "step.fp32.tflite").read_bytes())
    assert absolute_paths(embedded) == []
    code, out, err = _run(capsys, "evaluate", str(out_dir), "--split", "test", "--record")
    assert code == 0 and "[music-jsb, test]" in out, err
    assert "tflite-step.fp32" in json.loads((run / "preset" / "card.json").read_text())["metrics"]

    monkeypatch.setenv("RNNZOO_DATA", str(tmp_path / "empty"))
    for model in (str(run), str(out_dir)):
        code, _, err = _run(capsys, "evaluate", model, "--split", "test")
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert "dataset jsb not found" in err and "RNNZOO_DATA" in err and "--data" in err
