"""Labelled sentiment data: SST-2, the UCI labelled sentences, Pang & Lee's polarity reviews.

``--data`` picks the dataset by path (`detect`):

* **SST-2**: a folder with ``train.tsv``, ``dev.tsv``, ``test.tsv`` (or one of those files),
  ``text<TAB>label`` per line, label 0 (negative) or 1 (positive). Splits: the files' own
  (``dev.tsv`` is the validation split).
* **UCI labelled sentences** (Kotzias et al. 2015): a folder with ``*_labelled.txt`` files
  (Amazon, IMDb, Yelp), ``sentence<TAB>score`` per line. Split, per file, by the position of
  the line among the file's sentences (0-based ``i``): ``i % 10 == 9`` test, ``i % 10 == 8``
  validation, the rest train (80/10/10, every source in every split).
* **Pang & Lee polarity v2.0**: ``review_polarity.tar.gz`` (or a folder holding it), read from
  the archive: ``txt_sentoken/{neg,pos}/cvNNN_*.txt``, one review per file. Split by the
  ``cv`` number of the file (the folds of the original cross-validation): 000-799 train,
  800-899 validation, 900-999 test.

Every file is read as strict UTF-8 (`tasks.common.text_lines`): a byte that is not UTF-8 stops
with an error naming the file (or ``archive:member``) and the line. Empty lines are skipped
and counted; a malformed line (no tab, a label other than 0/1) is an error naming the file and
line.
"""

from __future__ import annotations

import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tasks.common.text_lines import TextInputError, decode_utf8, read_text_lines

SPLITS = ("train", "validation", "test")
DATASETS = ("sst2", "uci", "polarity")
SST_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
POLARITY_ARCHIVE = "review_polarity.tar.gz"
_POLARITY_MEMBER = re.compile(r"(?:^|/)(neg|pos)/cv(\d{3})_[^/]*\.txt$")


@dataclass
class Labelled:
    """Texts, their labels (0 negative, 1 positive) and where each came from (``file:line``)."""

    texts: list[str]
    labels: list[int]
    where: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def detect(path: str | Path) -> tuple[str, Path]:
    """``(dataset, location)`` for a ``--data`` path: the SST-2 folder, the UCI folder or the
    polarity archive; `TextInputError` naming the path when it is none of them."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name.endswith(".tar.gz") or path.name.endswith(".tgz"):
            return "polarity", path
        if path.name in SST_FILES.values():
            return "sst2", path.parent
        if path.name.endswith("_labelled.txt"):
            return "uci", path.parent
    elif (path / "train.tsv").is_file():
        return "sst2", path
    elif any(path.glob("*_labelled.txt")):
        return "uci", path
    elif (path / POLARITY_ARCHIVE).is_file():
        return "polarity", path / POLARITY_ARCHIVE
    raise TextInputError(path, "not a sentiment dataset: expected an SST-2 folder (train.tsv, "
                               "dev.tsv, test.tsv), a folder of UCI *_labelled.txt files, or "
                               f"the Pang & Lee {POLARITY_ARCHIVE}")


def _label(text: str, path: Path, line: int) -> int:
    text = text.strip()
    if text not in ("0", "1"):
        raise TextInputError(path, f"label {text!r} is not 0 or 1", line)
    return int(text)


def read_tab_file(path: str | Path) -> Labelled:
    """The ``text<TAB>label`` lines of ``path`` (SST-2 and UCI format); empty lines skipped
    (noted on stderr)."""
    lines = read_text_lines(path, kind="sentiment")
    out = Labelled([], [], [])
    for number, line in lines:
        text, tab, label = line.rstrip().rpartition("\t")
        if not tab:
            raise TextInputError(lines.path, "expected text<TAB>label (no tab on this line)",
                                 number)
        if not text.strip():
            raise TextInputError(lines.path, "empty text before the tab", number)
        out.texts.append(text.strip())
        out.labels.append(_label(label, lines.path, number))
        out.where.append(f"{lines.path.name}:{number}")
    if lines.empty_skipped:
        print(f"note: {lines.path}: {lines.empty_skipped} empty line(s) skipped",
              file=sys.stderr)
    return out


def _sst2(folder: Path, split: str) -> Labelled:
    return read_tab_file(folder / SST_FILES[split])


def uci_split(index: int) -> str:
    """The split of the ``index``-th (0-based) sentence of a UCI file."""
    return "test" if index % 10 == 9 else "validation" if index % 10 == 8 else "train"


def _uci(folder: Path, split: str) -> Labelled:
    out = Labelled([], [], [])
    for path in sorted(folder.glob("*_labelled.txt")):
        data = read_tab_file(path)
        for i, (text, label, where) in enumerate(zip(data.texts, data.labels, data.where)):
            if uci_split(i) == split:
                out.texts.append(text)
                out.labels.append(label)
                out.where.append(where)
    if not out.texts:
        raise TextInputError(folder, "no *_labelled.txt sentences")
    return out


def polarity_split(fold: int) -> str:
    """The split of a review of fold ``cv<fold>``."""
    return "train" if fold < 800 else "validation" if fold < 900 else "test"


def polarity_reviews(archive: str | Path, splits: tuple[str, ...], *,
                     join: str = " ") -> Labelled:
    """The reviews of ``splits`` in the polarity archive, each as one text (its non-empty
    lines, one sentence each, joined by ``join``), in member-name order."""
    archive = Path(archive)
    found: list[tuple[str, str, int]] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                match = _POLARITY_MEMBER.search(member.name)
                if not member.isfile() or not match:
                    continue
                if polarity_split(int(match.group(2))) not in splits:
                    continue
                where = f"{archive}:{member.name}"
                text = decode_utf8(tar.extractfile(member).read(), where)
                text = join.join(line.strip() for line in text.splitlines() if line.strip())
                if text:
                    found.append((member.name, text, int(match.group(1) == "pos")))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise TextInputError(archive, f"cannot read the archive ({error})") from None
    if not found:
        raise TextInputError(archive, "no txt_sentoken/{neg,pos}/cvNNN_*.txt reviews of the "
                                      f"{'/'.join(splits)} split(s)")
    found.sort()
    return Labelled([t for _, t, _ in found], [y for _, _, y in found],
                    [n for n, _, _ in found])


def read_labelled(path: str | Path, split: str) -> Labelled:
    """The labelled texts of ``split`` of the dataset at ``path`` (see the module docstring)."""
    check_split(split)
    dataset, location = detect(path)
    if dataset == "sst2":
        return _sst2(location, split)
    if dataset == "uci":
        return _uci(location, split)
    return polarity_reviews(location, (split,))
