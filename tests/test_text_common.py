"""The shared text pieces: strict UTF-8 line reading, truncation reports, the character
vocabulary and its asset."""

from __future__ import annotations

import json

import pytest

from tasks.common.characters import CHAR_PAD_ID, CHAR_UNK_ID, CharVocabulary
from tasks.common.text_lines import TextInputError, TruncationReport, read_text_lines, truncate
from tasks.common.vocabulary import VocabularyError


def test_lines_keep_numbers_and_count_empty(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\n\n  \nsecond\n")
    lines = read_text_lines(path)
    assert lines.lines == ["first", "second"]
    assert lines.line_numbers == [1, 4]
    assert lines.empty_skipped == 2
    kept = read_text_lines(path, keep_empty=True)
    assert kept.lines == ["first", "", "  ", "second"]


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nstill good\nbad \xff here\n")
    with pytest.raises(TextInputError, match=r"bad\.txt:3: not UTF-8 text \(byte 0xff"):
        read_text_lines(path)


def test_empty_file_and_folder_refused(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(TextInputError, match="empty file"):
        read_text_lines(tmp_path / "empty.txt")
    with pytest.raises(TextInputError, match="is a folder"):
        read_text_lines(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_text_lines(tmp_path / "missing.txt")


def test_truncation_is_counted_and_reported():
    report = TruncationReport(max_length=3)
    assert truncate([1, 2], report) == [1, 2]
    assert truncate([1, 2, 3, 4, 5], report, where="line 7") == [1, 2, 3]
    assert (report.seen, report.truncated, report.longest) == (2, 1, 5)
    assert report.message("sentences") == ("1 of 2 sentences truncated to 3 tokens; the "
                                           "longest had 5 (e.g. line 7)")
    assert TruncationReport(max_length=3).message() is None


def test_char_vocabulary_ids_and_round_trip(tmp_path):
    vocab = CharVocabulary.build(["abba\n", "cab"], min_count=2)
    assert vocab.tokens == ("<pad>", "<unk>", "a", "b")  # a 3x, b 3x (ties by code point)
    assert vocab.encode("abc") == [2, 3, CHAR_UNK_ID]
    assert vocab.decode([2, CHAR_PAD_ID, 3, CHAR_UNK_ID]) == "ab\ufffd"
    full = CharVocabulary.build(["Line one\nLine two é"])
    path = full.save(tmp_path / "characters.json")
    assert CharVocabulary.load(path) == full
    assert "\n" in full.tokens
    # NFC: a decomposed e + combining acute is the same character id as the composed one
    assert full.encode("e\u0301") == full.encode("\u00e9")


def test_char_vocabulary_case_option():
    vocab = CharVocabulary.build(["AbC"], lowercase=True)
    assert set(vocab.tokens[2:]) == {"a", "b", "c"}
    assert vocab.encode("ABC") == vocab.encode("abc")


@pytest.mark.parametrize("content, problem", [
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2", "not JSON"),
    (b'{"tokens": []}', "not a character vocabulary"),
    (b'{"format": "rnnzoo-characters", "version": 2, "tokens": []}', "version 2"),
    (json.dumps({"format": "rnnzoo-characters", "version": 1,
                 "tokens": ["<pad>", "<unk>", "ab"]}).encode(), "not a single character"),
    (json.dumps({"format": "rnnzoo-characters", "version": 1,
                 "tokens": ["<pad>", "<unk>", "a", "a"]}).encode(), "appears twice"),
    (json.dumps({"format": "rnnzoo-characters", "version": 1,
                 "tokens": ["a", "<unk>"]}).encode(), "starts with"),
])
def test_bad_character_asset_refused(tmp_path, content, problem):
    path = tmp_path / "characters.json"
    path.write_bytes(content)
    with pytest.raises(VocabularyError, match=problem):
        CharVocabulary.load(path)


CHARACTER_TEXTS = ["ROMEO:\nWhat light", "ﬁne ＡＢＣ", "e\u0301cole Éclair", "tab\tand 🙂 中文",
                   "", "unseen: ß ø ñ"]


@pytest.mark.parametrize("lowercase", [False, True])
def test_the_reference_character_mapping_matches_the_library(tmp_path, lowercase):
    """`ReferenceCharacters` (standard library only, for apps) gives `CharVocabulary`'s ids
    from the saved asset: NFC (a combining accent joins its letter), case as saved, unknown 1."""
    from tasks.common.reference_tokenizer import ReferenceCharacters

    vocabulary = CharVocabulary.build(["ROMEO: What light, école Éclair!"], lowercase=lowercase)
    reference = ReferenceCharacters.from_file(str(vocabulary.save(tmp_path / "chars.json")))
    for text in CHARACTER_TEXTS:
        assert reference.ids(text) == vocabulary.encode(text), text
    assert reference.ids("e\u0301")[0] == vocabulary.encode("é")[0] != CHAR_UNK_ID
