"""The shared word vocabulary (tasks.common.vocabulary): normalization, ids, the text asset."""

from __future__ import annotations

import re

import pytest

from tasks.common.vocabulary import (
    END_ID,
    PAD_ID,
    SPECIALS,
    START_ID,
    UNK_ID,
    Vocabulary,
    VocabularyError,
    normalize,
    normalized_text,
    tokenize,
)

CAPTIONS = ["A dog runs on the grass.", "A black dog runs!", "Two dogs play on the grass",
            "A cat sleeps."]


def test_normalization_and_tokens():
    assert normalize("ＡＢＣ ﬁne Don’t") == "abc fine don't"
    assert tokenize("A man's T-shirt, 3.5 “big” dogs…") == [
        "a", "man's", "t-shirt", "3", "5", "big", "dogs"]
    assert tokenize("A man's T-shirt, 3.5 “big” dogs…", punctuation="split") == [
        "a", "man's", "t-shirt", ",", "3", ".", "5", "“", "big", "”", "dogs", ".", ".", "."]
    assert tokenize("'quoted' -- word_x\x00y\tz") == ["quoted", "word", "x", "y", "z"]
    assert "\x00" not in tokenize("a\x00b", punctuation="split")
    assert tokenize("Straße ÉTÉ") == ["straße", "été"]
    assert normalized_text("  A DOG,  runs. ") == "a dog runs"
    with pytest.raises(ValueError, match="punctuation must be one of drop, split"):
        tokenize("x", punctuation="keep")


def test_special_ids_and_order():
    vocab = Vocabulary.build(CAPTIONS)
    assert vocab.tokens[:4] == SPECIALS == ("<pad>", "<start>", "<end>", "<unk>")
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)
    # most frequent first, ties in code-point order
    assert vocab.tokens[4:9] == ("a", "dog", "grass", "on", "runs")
    assert vocab.id("<end>") == END_ID and vocab.id("zebra") == UNK_ID
    # the text "<end>" is the word "end", never the special token
    assert vocab.encode("<end>", add_start_end=False) == [UNK_ID]
    assert len(vocab) == vocab.size == 4 + len({w for c in CAPTIONS for w in tokenize(c)})


def test_round_trip_unknown_words_and_decode_rules():
    vocab = Vocabulary.build(CAPTIONS)
    ids = vocab.encode("A black dog runs on the grass")
    assert ids[0] == START_ID and ids[-1] == END_ID
    assert vocab.decode(ids) == "a black dog runs on the grass"
    assert vocab.decode(vocab.encode("A purple dog!")) == "a <unk> dog"
    assert vocab.encode("a dog", add_start_end=False) == [vocab.id("a"), vocab.id("dog")]
    # decode skips <pad> and <start> and stops at <end>
    dog = vocab.id("dog")
    assert vocab.decode([PAD_ID, START_ID, dog, PAD_ID, END_ID, dog]) == "dog"
    assert vocab.decode_tokens([dog, UNK_ID]) == ["dog", "<unk>"]
    with pytest.raises(ValueError, match="token id 999 is outside this vocabulary"):
        vocab.decode([999])


def test_min_count_and_max_size():
    vocab = Vocabulary.build(CAPTIONS, min_count=2)
    assert set(vocab.tokens[4:]) == {"a", "dog", "grass", "on", "runs", "the"}
    assert vocab.decode(vocab.encode("a cat sleeps")) == "a <unk> <unk>"
    small = Vocabulary.build(CAPTIONS, max_size=6)
    assert small.tokens == (*SPECIALS, "a", "dog")
    with pytest.raises(ValueError, match="min_count must be a positive integer"):
        Vocabulary.build(CAPTIONS, min_count=0)
    with pytest.raises(ValueError, match="max_size must be an integer >= 4"):
        Vocabulary.build(CAPTIONS, max_size=3)
    with pytest.raises(TypeError, match="not one string"):
        Vocabulary.build("a dog")


def test_truncation_is_reported_and_leaves_a_true_prefix():
    vocab = Vocabulary.build(CAPTIONS)
    text = "a dog runs on the grass"
    assert vocab.encode_counted(text, max_length=8) == (vocab.encode(text), 0)
    ids, cut = vocab.encode_counted(text, max_length=5)
    assert cut == 3 and len(ids) == 5  # 6 words + start + end = 8 ids: 3 cut, end included
    assert ids == [START_ID, *vocab.encode(text, add_start_end=False)[:4]]
    assert END_ID not in ids
    assert vocab.encode_counted(text, add_start_end=False, max_length=2)[1] == 4
    with pytest.raises(ValueError, match="max_length must be an integer >= 3"):
        vocab.encode(text, max_length=2)


def test_save_and_load(tmp_path):
    vocab = Vocabulary.build(["Ünïcödé straße: a “quoted” word", *CAPTIONS],
                             punctuation="split")
    path = vocab.save(tmp_path / "vocabulary.txt")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[:4] == list(SPECIALS) and lines[-1] == ""  # one per line, final newline
    assert lines.index("dog") == vocab.id("dog")  # line number = id
    loaded = Vocabulary.load(path, punctuation="split")
    assert loaded == vocab and loaded.encode("a “dog”") == vocab.encode("a “dog”")
    # Windows line ends and a byte-order mark are read too
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert Vocabulary.load(crlf, punctuation="split") == vocab


@pytest.mark.parametrize("content, message", [
    (b"", r"empty file \(0 bytes\)"),
    (b"\n", r"line 1 is '', expected <pad>"),
    (b"<pad>\n<start>\n<end>\n", "line 4 is missing, expected <unk>"),
    (b"dog\ncat\n", "line 1 is 'dog', expected <pad> .*starts with <pad>, <start>, <end>, <unk>"),
    (b"<pad>\n<start>\n<end>\n<unk>\ndog\n\ncat\n", "line 6: the token is empty"),
    (b"<pad>\n<start>\n<end>\n<unk>\ndog\ncat\ndog\n", "line 7: 'dog' repeats line 5"),
    (b"<pad>\n<start>\n<end>\n<unk>\nhot dog\n", "line 5: the token contains white space"),
    (b"<pad>\n<start>\n<end>\n<unk>\n\x00\x01\n", "line 5: the token contains control"),
    (b"<pad>\n<start>\n<end>\n<unk>\n\xff\xfe\n", r"not UTF-8 text \(byte 0xff at offset 26\)"),
])
def test_corrupt_assets_name_the_file(tmp_path, content, message):
    path = tmp_path / "vocab.txt"
    path.write_bytes(content)
    with pytest.raises(VocabularyError, match=rf"^{re.escape(str(path))}: {message}") as info:
        Vocabulary.load(path)
    assert "\n" not in str(info.value)


def test_missing_asset_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such vocabulary file"):
        Vocabulary.load(tmp_path / "none.txt")
    with pytest.raises(VocabularyError, match="is a folder, not a vocabulary file"):
        Vocabulary.load(tmp_path)


def test_constructor_checks():
    with pytest.raises(ValueError, match="starts with <pad>"):
        Vocabulary(["dog"])
    with pytest.raises(ValueError, match="appears twice"):
        Vocabulary([*SPECIALS, "dog", "dog"])
    with pytest.raises(ValueError, match="contains white space"):
        Vocabulary([*SPECIALS, "a b"])
