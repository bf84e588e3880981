"""Finding the clips of a split in a folder per class (UCF101's layout and most users' own).

Layout: ``ROOT/<class>/<clip>.<ext>`` (clips may sit in sub-folders of their class folder);
`CLIP_EXTENSIONS` are the files taken, names starting with a dot are ignored. Classes are the
sorted names of the sub-folders that hold clips, or the order of UCF101's ``classInd.txt``
("1 ApplyEyeMakeup" lines) when there is one next to the split lists or in ROOT.

Splits: ``train``, ``validation``, ``test``, ``train+validation``.

* With UCF101 split lists (``trainlistNN.txt``: "Class/clip.avi 12" lines, the number is
  ignored and the label comes from the class folder; ``testlistNN.txt``: "Class/clip.avi"),
  train and test are the lists. ``split_list`` names the train list (its test list is the
  file with "test" for "train" in its name) or a folder holding ``trainlist01.txt``; a
  relative name is also looked for in ROOT and ROOT/ucfTrainTestlist. Without
  ``split_list``, ROOT/trainlist01.txt or ROOT/ucfTrainTestlist/trainlist01.txt is used when
  present; ``split_list=False`` ignores lists. Entries are matched to files ignoring case
  (UCF101's lists and folders disagree on "HandstandPushups"). Listed files that are not
  there are skipped and reported in one line on stderr (``strict``: an error naming the list,
  the line and ROOT); clips in neither list are left out and counted in a note.
* Without lists: per class, the clips are put in groups (UCF101-style names
  ``v_<Class>_g08_c01`` group by ``g08``, the same actor and scene; any other name is a group
  of its own) and the groups sorted by name; every fifth group (``test_fraction=0.2``;
  evenly spread, at least one per class with two or more groups) is test.
* ``validation`` is a part of the training list, per class and by group as well: the
  ``round(validation_fraction * groups)`` groups (at least one where a class has two or
  more) first in an order shuffled by ``seed`` and the class name. It never overlaps
  ``train``; ``train+validation`` is the whole training list.

Paths come back sorted by their path relative to ROOT.
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.checks import check_fraction
from zoo.errors import RnnzooError

CLIP_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
SPLITS = ("train", "validation", "test", "train+validation")
LIST_FOLDER = "ucfTrainTestlist"
CLASS_INDEX = "classInd.txt"
_GROUP = re.compile(r"^(v_.+_g\d+)_c\d+$")
_SPLIT_FOLDERS = {"train", "test", "val", "valid", "validation"}


class LayoutError(RnnzooError, ValueError):
    """A dataset folder or split list that cannot be used; names it and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class SplitLists:
    """UCF101-style split lists: the train and test list and the class index, if any."""

    train: Path
    test: Path
    class_index: Path | None = None


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


def find_clips(root: str | os.PathLike, split: str, *,
               split_list: str | os.PathLike | bool | None = None,
               validation_fraction: float = 0.15, test_fraction: float = 0.2, seed: int = 0,
               strict: bool = False, report: Callable[[str], None] | None = _note,
               ) -> tuple[list[str], list[int], list[str]]:
    """``(paths, labels, class_names)`` of ``split`` under ``root`` (see the module
    docstring). ``report`` gets one line about listed files that are missing and clips in no
    list (None: silent). Raises FileNotFoundError for a missing ROOT, LayoutError naming
    ROOT (or the list) for a folder without class folders or clips, an empty split, bad or
    overlapping lists and (``strict``) listed files that are not there, ValueError for an
    unknown split or fraction."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    for name, value in (("validation_fraction", validation_fraction),
                        ("test_fraction", test_fraction)):
        check_fraction(value, name)
    root = _root(root)
    on_disk = _clips_on_disk(root)
    lists = find_split_lists(root, split_list)
    classes = _classes(root, on_disk, lists)
    if lists is None:
        train, test = _split_without_lists(on_disk, test_fraction)
    else:
        train, test = _split_from_lists(root, on_disk, lists, split, strict, report)
    _check_classes(root, train | test, classes, lists)
    if split == "test":
        chosen = test
    elif split == "train+validation":
        chosen = train
    else:
        validation = _validation(train, validation_fraction, seed)
        chosen = validation if split == "validation" else train - validation
    if not chosen:
        hint = (" (validation_fraction is 0)" if split == "validation" and not validation_fraction
                else "")
        raise LayoutError(root, f"no clips in the {split} split{hint}")
    index = {name: i for i, name in enumerate(classes)}
    relative = sorted(chosen)
    return ([str(root / r) for r in relative], [index[_class_of(r)] for r in relative],
            list(classes))


def class_names(root: str | os.PathLike, *,
                split_list: str | os.PathLike | bool | None = None) -> list[str]:
    """The class names of ``root`` in label order."""
    root = _root(root)
    return _classes(root, _clips_on_disk(root), find_split_lists(root, split_list))


def find_split_lists(root: str | os.PathLike,
                     split_list: str | os.PathLike | bool | None = None) -> SplitLists | None:
    """The split lists to use for ``root`` (see the module docstring), or None."""
    root = Path(root)
    if split_list is False:
        return None
    if split_list is None or split_list is True:
        for folder in (root, root / LIST_FOLDER):
            if (folder / "trainlist01.txt").is_file():
                return _lists_from_train(folder / "trainlist01.txt", root)
        if split_list is True:
            raise LayoutError(root, f"no trainlist01.txt in it or in its {LIST_FOLDER}/")
        return None
    given = Path(split_list).expanduser()
    candidates = [given]
    if not given.is_absolute():
        candidates += [root / given, root / LIST_FOLDER / given]
    for candidate in candidates:
        if candidate.is_dir() and (candidate / "trainlist01.txt").is_file():
            return _lists_from_train(candidate / "trainlist01.txt", root)
        if candidate.is_file():
            return _lists_from_train(candidate, root)
    raise FileNotFoundError(f"{given}: no such split list (looked for it as given, in {root} "
                            f"and in {root / LIST_FOLDER})")


def group_key(relative: str) -> str:
    """The group of a clip: UCF101's ``v_<Class>_gNN`` (one actor and scene), else the
    clip's own path."""
    stem = Path(relative).stem
    match = _GROUP.match(stem)
    return f"{_class_of(relative)}/{match[1]}" if match else relative


# folder -------------------------------------------------------------------------------------
def _root(root: str | os.PathLike) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video folder (expected "
                                "ROOT/<class>/<clip>.mp4)")
    if not path.is_dir():
        raise LayoutError(path, "is a file, not a folder of class folders")
    return path


def _is_clip(path: Path) -> bool:
    return (path.suffix.lower() in CLIP_EXTENSIONS and not path.name.startswith(".")
            and path.is_file())


def _clips_on_disk(root: Path) -> list[str]:
    """Relative paths (``/``-separated) of every clip in a class folder, sorted."""
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")
               and p.name != LIST_FOLDER]
    if not folders:
        loose = sum(1 for p in root.iterdir() if _is_clip(p))
        hint = (f" ({loose} clips lie directly in it: put each class's clips in a folder "
                "named after the class)" if loose else "")
        raise LayoutError(root, f"no class folders: expected ROOT/<class>/<clip>.<ext> with "
                                f"<ext> one of {', '.join(CLIP_EXTENSIONS)}{hint}")
    names = {p.name.lower() for p in folders}
    if {"train", "test"} <= names and names <= _SPLIT_FOLDERS:
        raise LayoutError(root, f"its folders are splits ({', '.join(sorted(names))}), not "
                                "classes: use ROOT/<class>/<clip> with split lists instead")
    clips = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                path = Path(dirpath) / name
                if _is_clip(path):
                    clips.append(path.relative_to(root).as_posix())
    if not clips:
        raise LayoutError(root, f"no clips ({', '.join(CLIP_EXTENSIONS)}) in its "
                                f"{len(folders)} class folders")
    return sorted(clips)


def _class_of(relative: str) -> str:
    return relative.split("/", 1)[0]


def _classes(root: Path, on_disk: list[str], lists: SplitLists | None) -> list[str]:
    index = lists.class_index if lists else None
    if index is None and (root / CLASS_INDEX).is_file():
        index = root / CLASS_INDEX
    if index is None:
        return sorted({_class_of(r) for r in on_disk})
    numbered = {}
    for number, line in enumerate(index.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise LayoutError(index, f"line {number}: expected '<number> <class>', got "
                                     f"{line.strip()!r}")
        if int(parts[0]) in numbered or parts[1] in numbered.values():
            raise LayoutError(index, f"line {number}: {line.strip()!r} repeats a number or "
                                     "a class")
        numbered[int(parts[0])] = parts[1]
    if not numbered:
        raise LayoutError(index, "no classes in it")
    return [numbered[k] for k in sorted(numbered)]


def _check_classes(root: Path, clips: set[str], classes: list[str],
                   lists: SplitLists | None) -> None:
    known = set(classes)
    stray = sorted(r for r in clips if _class_of(r) not in known)
    if stray:
        index = (lists.class_index if lists else None) or root / CLASS_INDEX
        raise LayoutError(index, f"class {_class_of(stray[0])!r} (of {stray[0]}) is not in it")


# splits -------------------------------------------------------------------------------------
def _lists_from_train(train: Path, root: Path) -> SplitLists:
    if "train" not in train.name:
        raise LayoutError(train, "a split list must be a train list (trainlistNN.txt); its "
                                 "test list is the file named with 'test' for 'train'")
    test = train.with_name(train.name.replace("train", "test", 1))
    if not test.is_file():
        raise LayoutError(train, f"its test list {test.name} is not next to it")
    index = next((f for f in (train.parent / CLASS_INDEX, root / CLASS_INDEX) if f.is_file()),
                 None)
    return SplitLists(train, test, index)


def _read_list(path: Path) -> list[tuple[int, str]]:
    """(line number, relative path) of every entry of a split list."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        parts = text.rsplit(maxsplit=1)
        name = parts[0] if len(parts) == 2 and parts[1].isdigit() else text
        name = name.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or "/" not in name:
            raise LayoutError(path, f"line {number}: {name!r} is not a <class>/<clip> path "
                                    "inside the dataset folder")
        entries.append((number, name))
    if not entries:
        raise LayoutError(path, "the split list is empty")
    return entries


def _split_from_lists(root: Path, on_disk: list[str], lists: SplitLists, split: str,
                      strict: bool, report) -> tuple[set[str], set[str]]:
    by_lower = {r.lower(): r for r in on_disk}
    chosen: dict[str, set[str]] = {}
    used = {"train": lists.train, "test": lists.test}
    for which, path in used.items():
        found, missing = set(), []
        relevant = (which == "test") == (split == "test")
        for number, name in _read_list(path):
            real = name if (root / name).is_file() else by_lower.get(name.lower())
            if real is None or not _is_clip(root / real):
                if relevant and strict:
                    raise LayoutError(path, f"line {number} names {name}, which is not a clip "
                                            f"under {root} (--strict)")
                missing.append(name)
                continue
            found.add(real)
        if missing and relevant and report:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            report(f"{path}: {len(missing)} listed clips are not under {root}, skipped: "
                   f"{shown}")
        chosen[which] = found
    overlap = sorted(chosen["train"] & chosen["test"])
    if overlap:
        raise LayoutError(lists.test, f"{overlap[0]} is in both {lists.train.name} and "
                                      f"{lists.test.name}")
    unlisted = len(on_disk) - len(chosen["train"] | chosen["test"])
    if unlisted and report:
        report(f"{root}: {unlisted} clips are in neither {lists.train.name} nor "
               f"{lists.test.name}; left out")
    return chosen["train"], chosen["test"]


def _by_class_and_group(clips) -> dict[str, dict[str, list[str]]]:
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for relative in sorted(clips):
        grouped[_class_of(relative)][group_key(relative)].append(relative)
    return grouped


def _spread(count: int, fraction: float) -> int:
    """How many of ``count`` groups a split with ``fraction`` gets: at least one of two."""
    if fraction <= 0 or count < 2:
        return 0
    return min(count - 1, max(1, round(fraction * count)))


def _split_without_lists(on_disk: list[str], test_fraction: float) -> tuple[set[str], set[str]]:
    train, test = set(), set()
    for groups in _by_class_and_group(on_disk).values():
        keys = sorted(groups)
        n_test = _spread(len(keys), test_fraction)
        for j, key in enumerate(keys):
            is_test = (j + 1) * n_test // len(keys) > j * n_test // len(keys)
            (test if is_test else train).update(groups[key])
    return train, test


def _validation(train: set[str], fraction: float, seed: int) -> set[str]:
    validation = set()
    for name, groups in _by_class_and_group(train).items():
        keys = sorted(groups)
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        for position in rng.permutation(len(keys))[:_spread(len(keys), fraction)]:
            validation.update(groups[keys[position]])
    return validation
