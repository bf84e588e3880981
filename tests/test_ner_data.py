"""tasks.ner: CoNLL reading (schemes, bad input), encoding and truncation, spans for predict,
the seqeval metric."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.common.text_lines import TextInputError
from tasks.ner.conll import ConllError, read_conll, split_file, to_iob2
from tasks.ner.data import encoder, load, loaded_tags, representative
from tasks.ner.encoding import build_tags, word_key
from tasks.ner.metric import metric, scores
from tasks.ner.predict import entities, tokenize

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
in IN B-PP O
1996 CD I-NP O
"""


def write_folder(folder, train=CONLL, valid=CONLL, test=CONLL):
    folder.mkdir(exist_ok=True)
    for name, text in (("train.txt", train), ("valid.txt", valid), ("test.txt", test)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_reads_sentences_skipping_docstart(tmp_path):
    sentences = read_conll(write_folder(tmp_path / "d") / "train.txt")
    assert [s.tokens for s in sentences] == [("EU", "rejects", "German", "call"),
                                             ("Peter", "Blackburn", "in", "1996")]
    assert sentences[1].tags == ("B-PER", "I-PER", "O", "O") and sentences[1].line == 8


def test_iob1_becomes_iob2():
    assert to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]
    assert to_iob2(["B-PER", "I-PER"]) == ["B-PER", "I-PER"]


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("EU NNP B-NP B-ORG\nrejects\n", 2, "one column"),
    ("EU NNP B-NP ORG\n", 1, "is not O, B-TYPE or I-TYPE"),
    ("\n\n", None, "holds no sentences"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, text, line, problem):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConllError) as error:
        read_conll(path)
    assert problem in str(error.value) and str(path) in str(error.value)
    assert error.value.line == line


def test_non_utf8_bytes_are_refused_with_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"EU NNP B-NP B-ORG\n" + "Müller NNP B-NP B-PER\n".encode("latin-1"))
    with pytest.raises(TextInputError, match=r"latin1.txt:2: not UTF-8"):
        read_conll(path)


def test_split_files_and_unknown_split(tmp_path):
    folder = write_folder(tmp_path / "d")
    assert split_file(folder, "validation").name == "valid.txt"
    with pytest.raises(ValueError, match="unknown split"):
        split_file(folder, "dev-test")
    (folder / "test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="test.txt"):
        split_file(folder, "test")


def test_words_are_lowercased_with_digits_folded_and_chars_keep_case(tmp_path, capsys):
    folder = write_folder(tmp_path / "d")
    assert word_key("1996-08-22") == "0000-00-00" and word_key("German") == "german"
    coder = encoder(folder, min_count=1, max_length=3, max_word_length=4)
    assert coder.tags == ["O", "B-MISC", "B-ORG", "B-PER", "I-MISC", "I-ORG", "I-PER"]
    words, chars = coder.token_ids(["GERMAN", "german", "Xyz"])
    assert words[0] == words[1] == coder.words.id("german") and words[2] == 3  # <unk>
    assert chars[0, 0] != chars[1, 0]  # "G" and "g" differ for the character feature
    inputs, tags = coder.encode(read_conll(folder / "train.txt"), "train.txt")
    assert inputs["words"].shape == (2, 3) and inputs["chars"].shape == (2, 3, 4)
    assert tags[1].tolist() == [coder.tags.index("B-PER"), coder.tags.index("I-PER"), 0]
    err = capsys.readouterr().err
    assert "2 of 2 sentences truncated to 3 tokens; the longest had 4" in err
    assert "tokens truncated to 4 characters" in err and "train.txt:3" in err


def test_min_count_makes_rare_words_unknown(tmp_path):
    coder = encoder(write_folder(tmp_path / "d"))  # default min_count 2: all seen once
    assert list(coder.words.tokens) == ["<pad>", "<start>", "<end>", "<unk>"]
    assert build_tags([]) == ["O"]


def test_load_and_representative_shapes(tmp_path):
    folder = write_folder(tmp_path / "d")
    data = load(folder, "validation", max_length=6, max_word_length=5)
    x, y = next(iter(data))
    assert x["words"].shape == (6,) and x["chars"].shape == (6, 5) and y.shape == (6,)
    assert loaded_tags()[0] == "O"
    samples = representative(folder, 5, max_length=6, max_word_length=5)
    assert len(samples) == 2 and samples[0]["chars"].shape == (1, 6, 5)


def test_metric_is_entity_level(tmp_path):
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert scores(gold, gold)["f1"] == 100.0
    half = scores(gold, [["B-PER", "O", "O", "B-LOC"]])  # a wrong span is a miss
    assert half["f1"] == pytest.approx(50.0) and half["f1_loc"] == 100.0
    folder = write_folder(tmp_path / "d")
    data = load(folder, "test", max_length=6)
    perfect = metric(lambda x: np.stack([t.numpy() for _, t in data]), data)
    assert perfect["f1"] == 100.0 and perfect["entities"] == 3
    nothing = metric(lambda x: np.zeros_like(x["words"]), data)
    assert nothing["f1"] == 0.0 and nothing["recall"] == 0.0


def test_tokens_and_entity_spans_point_into_the_text():
    text = "John Smith lives in New York, U.S.-born."
    tokens = tokenize(text)
    assert [t for t, _, _ in tokens] == ["John", "Smith", "lives", "in", "New", "York", ",",
                                         "U.S.", "-", "born", "."]
    assert all(text[a:b] == t for t, a, b in tokens)
    assert entities(["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "I-MISC"]) == [
        ("PER", 0, 2), ("LOC", 4, 6), ("MISC", 7, 8)]


def test_training_with_validation_adds_its_sentences_and_words(tmp_path):
    from tasks.ner.data import vocabularies

    valid = "Vienna NNP B-NP B-LOC\nVienna NNP B-NP B-LOC\n"
    folder = write_folder(tmp_path / "d", valid=valid)
    assert len(list(load(folder, "train", min_count=1))) == 2
    assert "vienna" not in vocabularies(folder, min_count=1)["words"]
    both = load(folder, "train", min_count=1, with_validation=True)
    assert len(list(both)) == 3
    words = vocabularies(folder, min_count=1, with_validation=True)["words"]
    assert "vienna" in words and "peter" in words
    # the other splits are untouched, and calibration reads the training split proper
    assert len(list(load(folder, "test", min_count=1, with_validation=True))) == 2
    assert len(representative(folder, 10, min_count=1, with_validation=True)) == 2


TRICKY_SENTENCES = ["John Smith lives in New York, U.S.-born.", "EU rejects German call",
                    "Don’t pay $1,299.50 on 1996-08-22 (AT&T)!", "ﬁne ＡＢＣ résumé",
                    "Ünïcödé ÉCOLE naïve 🙂 中文字", "", "a " * 70,
                    "Supercalifragilisticexpialidocious word"]


def test_the_reference_tagger_tokens_and_keys_match_the_library():
    from tasks.common.reference_tokenizer import tagger_tokens, tagger_word_key

    for text in TRICKY_SENTENCES:
        assert tagger_tokens(text) == tokenize(text)
        assert [tagger_word_key(t) for t, _, _ in tokenize(text)] == [
            word_key(t) for t, _, _ in tokenize(text)]


def test_the_shipped_tagger_assets_give_the_model_inputs_through_the_reference():
    """An app with only the shipped preset's assets/ and the standard-library reference
    builds the inputs `rnnzoo predict` feeds the model (tokenizer.json says how)."""
    import json
    from pathlib import Path

    from tasks.common.reference_tokenizer import ReferenceTaggerInput

    preset = Path(__file__).resolve().parents[1] / "zoo" / "presets" / "ner-conll2003"
    config = json.loads((preset / "config.json").read_text())["config"]
    settings = json.loads((preset / "assets" / "tokenizer.json").read_text())
    assert (settings["max_length"], settings["max_word_length"]) == (
        config["max_length"], config["max_word_length"])
    reference = ReferenceTaggerInput.from_folder(str(preset / "assets"))
    coder = encoder(None, words=config["words"], characters=config["characters"],
                    tags=config["tags"], max_length=config["max_length"],
                    max_word_length=config["max_word_length"])
    for text in TRICKY_SENTENCES:
        words, chars = coder.token_ids([t for t, _, _ in tokenize(text)])
        given = reference.model_input(text)
        assert given["words"] == words.tolist() and given["chars"] == chars.tolist(), text
    assert reference.tags([1, 0, 2, 0], "John lives") == [config["tags"][1], config["tags"][0]]
