"""``rnnzoo train/evaluate/predict`` for translation on a toy parallel folder: a preset with
its tokenizer (config, card data options, assets/subwords.model), a translation printed, the
attention matrix written, and bad data refused with exit code 2 and the file and line."""

from __future__ import annotations

import json

import pytest

from rnnzoo.cli import main
from tests.translation_toy import write_folder

TINY = ["--vocabulary-size", "300", "--embedding-dim", "16", "--encoder-units", "16",
        "--decoder-units", "32", "--max-source-length", "24", "--max-length", "24"]


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation-cli")
    write_folder(root / "toy", train=200, validation=20, test=20)
    code = main(["train", "translation", "--data", str(root / "toy"), "--out",
                 str(root / "run"), "--epochs", "1", "--quiet", *TINY])
    assert code == 0
    return root / "run" / "preset"


def test_train_writes_a_preset_with_its_tokenizer(preset, capsys):
    card = json.loads((preset / "card.json").read_text())
    config = json.loads((preset / "config.json").read_text())["config"]
    assert card["data_options"]["subwords"] == config["subwords"]
    assert (preset / "assets" / "subwords.model").stat().st_size > 0
    # the base64 is not shown
    assert "characters, see card.json>" in (preset / "card.md").read_text()
    assert {"bleu", "chrf", "sentences", "bleu_signature"} <= set(card["metrics"]["keras"])
    assert main(["evaluate", str(preset), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["sentences"] == 20


def test_predict_prints_the_translation_and_plots_attention(preset, tmp_path, capsys):
    plot = tmp_path / "attention.png"
    assert main(["predict", str(preset), "One two three.", "--beam", "2",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1] == f"attention matrix written to {plot}"
    assert plot.stat().st_size > 0
    assert main(["predict", str(preset), "Red.", "Blue.", "--json", "--beam", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in rows] == ["Red.", "Blue."]
    assert all(isinstance(r["translation"], str) for r in rows)
    assert main(["predict", str(preset), "--beam", "0", "Red."]) == 2
    assert "--beam must be at least 1" in capsys.readouterr().err


def test_predict_reads_sentences_from_a_file_and_stdin(preset, tmp_path, capsys, monkeypatch):
    import io

    lines = tmp_path / "sentences.txt"
    lines.write_text("Red.\n\nBlue.\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("Green.\n"))
    assert main(["predict", str(preset), "One.", "-", "--file", str(lines), "--json",
                 "--beam", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in rows] == ["One.", "Green.", "Red.", "Blue."]
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9.\n".encode("latin-1"))
    assert main(["predict", str(preset), "--file", str(tmp_path / "latin1.txt")]) == 2
    err = capsys.readouterr().err
    assert "latin1.txt:1: not UTF-8 text" in err
    assert main(["predict", str(preset)]) == 2
    assert "give a sentence, '-' (stdin) or --file PATH" in capsys.readouterr().err


def test_bad_data_exits_2_naming_the_file(tmp_path, capsys):
    folder = tmp_path / "bad"
    write_folder(folder, train=10)
    (folder / "train.de").write_text("Eins.\n", encoding="utf-8")
    code = main(["train", "translation", "--data", str(folder), "--out", str(tmp_path / "r"),
                 *TINY])
    assert code == 2
    err = capsys.readouterr().err
    assert "train.en has 10 lines but" in err and "train.de has 1" in err
    with pytest.raises(SystemExit) as done:
        main(["train", "translation", "--help"])
    assert done.value.code == 0 and "--vocabulary-size" in capsys.readouterr().out
