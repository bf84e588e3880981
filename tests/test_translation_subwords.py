"""Joint subword vocabularies (tasks.common.subwords): learned from training text, lossless,
deterministic, stored as bytes or base64, bad models refused with the place named."""

from __future__ import annotations

import pytest

from tasks.common.subwords import END_ID, START_ID, SubwordError, Subwords

TEXT = ["A man is riding a bike.", "Ein Mann fährt Fahrrad.", "Two dogs play in the snow.",
        "Zwei Hunde spielen im Schnee.", "A girl in a red dress is running."] * 20


@pytest.fixture(scope="module")
def words() -> Subwords:
    return Subwords.learn(TEXT, size=320)


def test_special_ids_and_round_trip_of_unseen_text(words):
    assert words.pieces([0, 1, 2, 3]) == ["<pad>", "<start>", "<end>", "<unk>"]
    unseen = "Ein Bär (ours) isst 3,5 € Honig — 北京!"  # characters never seen in training
    ids = words.encode(unseen)
    assert 3 not in ids  # byte fallback: nothing is <unk>
    assert words.decode(ids) == unseen
    assert words.decode([START_ID, *ids, END_ID, 7, 8]) == unseen  # stops at <end>
    with pytest.raises(ValueError, match="outside this vocabulary"):
        words.decode([words.size])


def test_learning_is_deterministic_and_from_the_given_text_only(words):
    assert Subwords.learn(TEXT, size=320).data == words.data
    other = Subwords.learn(["completely different words here"] * 30, size=300)
    assert other.data != words.data
    # frequent training words are whole pieces, so they cost one id each
    assert len(words.encode(" riding")) < len(other.encode(" riding"))


def test_bpe_model_and_storage(tmp_path, words):
    bpe = Subwords.learn(TEXT, size=320, model="bpe")
    assert (bpe.model, words.model) == ("bpe", "unigram")
    assert bpe.decode(bpe.encode("A dog.")) == "A dog."
    assert Subwords.from_text(words.to_text()) == words
    assert Subwords.load(words.save(tmp_path / "subwords.model")) == words


def test_bad_models_and_settings_are_refused(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(SubwordError, match=r"bad\.model: not a SentencePiece model"):
        Subwords.load(bad)
    with pytest.raises(SubwordError, match="config: not base64"):
        Subwords.from_text("%%%", where="config")
    with pytest.raises(ValueError, match="size must be an integer >= 300"):
        Subwords.learn(TEXT, size=50)
    with pytest.raises(ValueError, match="unigram, bpe"):
        Subwords.learn(TEXT, model="char")
    with pytest.raises(SubwordError, match="no training sentences"):
        Subwords.learn(["", "  "])
