"""Translation data (tasks.translation.data): parallel files and tab-separated pairs, checks
that name the file and line, the hash-held-out split, and encoding with truncation reports."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from tasks.common.subwords import END_ID, START_ID, Subwords
from tasks.common.text_lines import TextInputError
from tasks.translation.data import TranslationDataError, encode, read_pairs
from tests.translation_toy import toy_pairs, write_folder


def test_parallel_folder_with_plain_and_gzip_files(tmp_path):
    write_folder(tmp_path, train=30, validation=5, test=4)
    (tmp_path / "val.de").unlink()
    english, german = toy_pairs(5, 1)
    (tmp_path / "val.de.gz").write_bytes(gzip.compress(("\n".join(german) + "\n").encode()))
    pairs = read_pairs(tmp_path, "validation", source="en", target="de")
    assert (pairs.sources, pairs.targets) == (english, german)
    assert pairs.where[2] == "val.en:3" and pairs.target_where[2] == "val.de.gz:3"
    assert len(read_pairs(tmp_path, "test", target="de")) == 4
    reverse = read_pairs(tmp_path, "train", source="de", target="en", max_pairs=3)
    assert reverse.sources == toy_pairs(30, 0)[1][:3]
    with pytest.raises(TranslationDataError, match=r"no file train\.fr or train\.fr\.gz"):
        read_pairs(tmp_path, "train", target="fr")


def test_bad_parallel_files_name_the_file_and_line(tmp_path):
    (tmp_path / "train.en").write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    (tmp_path / "train.de").write_text("Eins.\nZwei.\n", encoding="utf-8")
    with pytest.raises(TranslationDataError, match=r"train\.en has 3 lines but .*train\.de "
                                                   r"has 2"):
        read_pairs(tmp_path, "train")
    (tmp_path / "train.de").write_text("Eins.\n  \nDrei.\n", encoding="utf-8")
    with pytest.raises(TranslationDataError, match=r"train\.de:2: empty sentence"):
        read_pairs(tmp_path, "train")
    (tmp_path / "train.de").write_bytes(b"Eins.\nZwei.\nDr\xe9i.\n")
    with pytest.raises(TextInputError, match=r"train\.de:3: not UTF-8"):
        read_pairs(tmp_path, "train")
    (tmp_path / "train.de.gz").write_bytes(b"not gzip")
    (tmp_path / "train.de").unlink()
    with pytest.raises(TextInputError, match=r"train\.de\.gz: not a readable gzip file"):
        read_pairs(tmp_path, "train")


def test_table_pairs_are_held_out_by_source_sentence(tmp_path):
    english, german = toy_pairs(400, 3)
    table = tmp_path / "pairs.txt"
    table.write_text("".join(f"{e}\t{g}\tattribution\n" for e, g in zip(english, german)),
                     encoding="utf-8")
    parts = {split: read_pairs(table, split) for split in ("train", "validation", "test")}
    assert sum(len(p) for p in parts.values()) == 400
    assert 20 <= len(parts["validation"]) <= 60 and 20 <= len(parts["test"]) <= 60
    seen = {split: set(p.sources) for split, p in parts.items()}
    assert not seen["train"] & seen["test"] and not seen["train"] & seen["validation"]
    again = read_pairs(tmp_path, "test")  # the folder holding one table: the same split
    assert again.sources == parts["test"].sources
    flipped = read_pairs(table, "test", reverse=True)
    assert set(flipped.targets) <= set(english)
    table.write_text("One.\tEins.\nTwo. Zwei.\n", encoding="utf-8")
    with pytest.raises(TranslationDataError, match=r"pairs\.txt:2: expected source<TAB>target"):
        read_pairs(table, "train")
    table.write_text("One.\tEins.\nTwo.\t \n", encoding="utf-8")
    with pytest.raises(TranslationDataError, match=r"pairs\.txt:2: empty target sentence"):
        read_pairs(table, "train")


def test_encode_pads_marks_and_reports_cut_sentences(tmp_path, capsys):
    write_folder(tmp_path, train=50)
    pairs = read_pairs(tmp_path, "train")
    words = Subwords.learn([*pairs.sources, *pairs.targets], size=300)
    inputs, target = encode(pairs, words, max_source_length=6, max_length=12)
    assert inputs["source"].shape == (50, 6) and target.shape == (50, 12)
    first = words.encode(pairs.sources[0])
    assert list(inputs["source"][0][:len(first)]) == first[:6]
    assert inputs["tokens"][0][0] == START_ID
    # the target is the token input shifted by one (where the input has not ended)
    shifted, ahead = inputs["tokens"][:, 1:], target[:, :-1]
    assert np.all((shifted == ahead) | ((shifted == 0) & np.isin(ahead, (0, END_ID))))
    fits = [len(words.encode(t)) + 1 <= 12 for t in pairs.targets]  # the ids and <end>
    assert any(fits) and not all(fits)
    assert [END_ID in row for row in target] == fits  # a cut target has no <end>
    err = capsys.readouterr().err
    assert "source sentences truncated to 6 subword ids" in err
    assert "target sentences truncated to 12 subword ids" in err and "train.de:" in err


def test_real_data_splits(shared_data):
    multi30k = shared_data / "multi30k_en_de_fr"
    sizes = {split: len(read_pairs(multi30k, split, target="de"))
             for split in ("validation", "test")}
    assert sizes == {"validation": 1014, "test": 1000}
    tatoeba = shared_data / "tatoeba_eng_fra_partial"
    parts = [len(read_pairs(tatoeba, s)) for s in ("train", "validation", "test")]
    assert sum(parts) == 18065 and min(parts[1:]) > 1000
