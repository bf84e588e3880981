"""The COCO captions format: an annotations json and an image folder, checked item by item.

Layout (`find_split`): ``ROOT/annotations/captions_<split><year>.json`` and the images in
``ROOT/<split><year>/``, tried for the years 2017, 2014 and none (``captions_train.json``,
``train/``); ``split`` is ``train``, ``val`` (``validation`` is the same) or ``test``. The
json holds ``images`` (``[{"id": int, "file_name": str, ...}]``) and ``annotations``
(``[{"image_id": int, "caption": str, ...}]``); other keys are ignored.

`load_task_split` gives the task's train/validation/test (a folder without test captions
divides its val images in two halves). `load_captions` (`read_annotations` for a json and
an image folder named directly) returns
`CaptionedImage` items (image path, captions, image id) in the json's image order, captions
in annotation order, and a `CaptionsReport`:

* the structure is checked first, and a file that is not COCO captions is an error
  (`CaptionsError` naming the json and what is wrong): empty, not UTF-8, not JSON (line and
  column), no ``images`` or ``annotations`` list, an entry that is not an object, lacks
  ``id`` / ``file_name`` / ``image_id`` / ``caption`` or has the wrong type (named by its
  index, e.g. ``annotations[17]``), an image id given twice;
* problems of single items are skipped and reported (one ``note:`` line on stderr listing
  them; ``report=None`` is silent): a caption without words (empty, blank or punctuation
  only: `tasks.common.vocabulary.tokenize` finds none), a caption whose image id is not in
  ``images``, an image whose file is missing or empty, whose file name leaves the image
  folder (absolute or ``..``), or that has no usable caption. ``check_images=True`` also
  decodes every image (`tasks.captioning.images.read_image`, in a thread pool) and skips
  those that fail; otherwise the pipelines (`tasks.captioning.dataset`) find them.
  ``strict=True`` raises the first problem instead: a `CaptionsError` naming the entry (and
  the image file for file problems), or the image's `ImageError`;
* a json that leaves no captioned image to use is an error (`CaptionsError`).

Captions are kept as written, runs of white space made single spaces; normalization is the
vocabulary's (`tasks.common.vocabulary`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tasks.captioning.images import ImageError, read_image
from tasks.common.vocabulary import tokenize
from zoo.errors import RnnzooError

SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
YEARS = ("2017", "2014", "")
SHOWN = 10  # problems named in a summary line


def _stderr(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


class CaptionsError(RnnzooError, ValueError):
    """A captions file (or an item in it) that cannot be used; names the file and the
    problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        problem = " ".join(str(problem).split())
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class CaptionedImage:
    """One image and its reference captions."""

    path: str
    captions: tuple[str, ...]
    image_id: int


@dataclass
class CaptionsReport:
    """What `read_annotations` kept and skipped (``where -> problem``, in file order)."""

    annotations: str
    images: int = 0
    captions: int = 0
    skipped_images: dict[str, str] = field(default_factory=dict)
    skipped_captions: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.skipped_images and not self.skipped_captions

    def summary(self) -> str:
        """One line: what was kept, and the skipped items with their problems."""
        line = (f"{Path(self.annotations).name}: {self.images} images, {self.captions} "
                "captions")
        for what, skipped in (("images", self.skipped_images),
                              ("captions", self.skipped_captions)):
            if skipped:
                named = "; ".join(f"{k} ({v})" for k, v in list(skipped.items())[:SHOWN])
                more = f"; and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
                line += f"; skipped {len(skipped)} {what}: {named}{more}"
        return line


# ------------------------------------------------------------------------------ the files

def find_split(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """``(annotations json, image folder)`` of ``split`` under ``root`` (see the module
    docstring); FileNotFoundError naming what was looked for."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (COCO captions: annotations/ and "
                                "image folders)")
    name = SPLITS[split]
    tried = []
    for year in YEARS:
        annotations = root / "annotations" / f"captions_{name}{year}.json"
        tried.append(annotations.name)
        if annotations.is_file():
            images = root / f"{name}{year}"
            if not images.is_dir():
                raise FileNotFoundError(f"{root}: {annotations.relative_to(root)} is there "
                                        f"but its image folder {name}{year}/ is not")
            return annotations, images
    raise FileNotFoundError(f"{root}: no {split} captions (looked for annotations/"
                            f"{', annotations/'.join(tried)})")


def load_captions(root: str | os.PathLike, split: str, *, strict: bool = False,
                  check_images: bool = False,
                  report: Callable[[str], None] | None = _stderr,
                  ) -> tuple[list[CaptionedImage], CaptionsReport]:
    """The images of ``split`` under ``root`` with their captions, and what was skipped
    (see the module docstring)."""
    annotations, images = find_split(root, split)
    return read_annotations(annotations, images, strict=strict, check_images=check_images,
                            report=report)


TASK_SPLITS = ("train", "validation", "test")


def has_split(root: str | os.PathLike, split: str) -> bool:
    """Whether ``root`` holds the captions of ``split``."""
    try:
        find_split(root, split)
    except FileNotFoundError:
        return False
    return True


def load_task_split(root: str | os.PathLike, split: str, *, strict: bool = False,
                    check_images: bool = False,
                    report: Callable[[str], None] | None = _stderr,
                    ) -> tuple[list[CaptionedImage], CaptionsReport]:
    """`load_captions` of a task split: ``train``, ``validation`` (model selection) or
    ``test`` (scored once). A folder with test captions uses its own splits. One without
    (COCO 2017 publishes no test captions; ``coco_captions_mini``) divides its val images
    in two by image id, as Karpathy & Fei-Fei divide COCO 2014 val: ``validation`` is the
    first half, ``test`` the second, so that selection and scoring never share an image.
    Other split names go to `load_captions` unchanged."""
    if split not in ("validation", "test") or has_split(root, "test"):
        return load_captions(root, split, strict=strict, check_images=check_images,
                             report=report)
    items, found = load_captions(root, "val", strict=strict, check_images=check_images,
                                 report=report)
    ordered = sorted(items, key=lambda item: item.image_id)
    half = (len(ordered) + 1) // 2
    chosen = ordered[:half] if split == "validation" else ordered[half:]
    if not chosen:
        raise CaptionsError(find_split(root, "val")[0],
                            f"too few captioned val images to divide into validation and "
                            f"test ({len(ordered)})")
    return chosen, found


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such captions file")
    data = path.read_bytes()
    if not data.strip():
        raise CaptionsError(path, "empty file (not JSON)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CaptionsError(path, f"not UTF-8 text (byte offset {error.start}): not a "
                                  "COCO captions json") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CaptionsError(path, f"not JSON (line {error.lineno} column {error.colno}: "
                                  f"{error.msg})") from None


def _typed(path: Path, entry: Any, where: str, key: str, kind: type) -> Any:
    """``entry[key]`` checked to be a ``kind`` (bools are not integers)."""
    if not isinstance(entry, dict):
        raise CaptionsError(path, f"{where} is {_type(entry)}, expected an object")
    if key not in entry:
        raise CaptionsError(path, f"{where}: {key!r} is missing")
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = "an integer" if kind is int else "a string"
        raise CaptionsError(path, f"{where}: {key!r} is {value!r:.40} ({_type(value)}), "
                                  f"expected {expected}")
    return value


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", int: "an integer",
            float: "a number", bool: "a boolean", type(None): "null"}.get(type(value),
                                                                         type(value).__name__)


def _structure(path: Path, data: Any) -> tuple[list, list]:
    if not isinstance(data, dict):
        raise CaptionsError(path, f"the top level is {_type(data)}, expected an object with "
                                  "'images' and 'annotations' (COCO captions)")
    lists = []
    for key in ("images", "annotations"):
        if key not in data:
            raise CaptionsError(path, f"no {key!r} list (a COCO captions file has 'images' "
                                      "and 'annotations')")
        if not isinstance(data[key], list):
            raise CaptionsError(path, f"{key!r} is {_type(data[key])}, expected a list")
        lists.append(data[key])
    return lists[0], lists[1]


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return bool(name) and not name.startswith(("/", "\\")) and ".." not in parts \
        and not (len(name) > 1 and name[1] == ":")


def read_annotations(annotations: str | os.PathLike, images: str | os.PathLike, *,
                     strict: bool = False, check_images: bool = False,
                     report: Callable[[str], None] | None = _stderr,
                     ) -> tuple[list[CaptionedImage], CaptionsReport]:
    """`load_captions` for the COCO captions json ``annotations`` and the folder ``images``
    holding its files."""
    path, folder = Path(annotations), Path(images)
    image_list, annotation_list = _structure(path, _load_json(path))
    out = CaptionsReport(annotations=str(path))

    def skip(kind: dict[str, str], where: str, problem: str, file: Path | None = None):
        if strict:
            raise CaptionsError(file or path, f"{where}: {problem}" if file is None
                                else f"{problem} ({where} of {path.name})")
        kind[where] = problem

    entries: dict[int, tuple[int, str]] = {}  # id -> (index, file name)
    for i, entry in enumerate(image_list):
        image_id = _typed(path, entry, f"images[{i}]", "id", int)
        name = _typed(path, entry, f"images[{i}]", "file_name", str)
        if image_id in entries:
            raise CaptionsError(path, f"images[{i}]: id {image_id} repeats "
                                      f"images[{entries[image_id][0]}]")
        entries[image_id] = (i, name)
    captions: dict[int, list[str]] = {image_id: [] for image_id in entries}
    for i, entry in enumerate(annotation_list):
        image_id = _typed(path, entry, f"annotations[{i}]", "image_id", int)
        text = " ".join(_typed(path, entry, f"annotations[{i}]", "caption", str).split())
        where = f"annotations[{i}] (image {image_id})"
        if image_id not in captions:
            skip(out.skipped_captions, where, "no image with this id")
        elif not tokenize(text):
            skip(out.skipped_captions, where, f"empty caption ({text!r:.40})" if text
                 else "empty caption")
        else:
            captions[image_id].append(text)

    items = []
    for image_id, (i, name) in entries.items():
        where = f"images[{i}] (id {image_id}, {name})"
        file = folder / name
        if not _safe_name(name):
            skip(out.skipped_images, where, "the file name leaves the image folder")
        elif not file.is_file():
            skip(out.skipped_images, where, f"no such file in {folder}", file)
        elif file.stat().st_size == 0:
            skip(out.skipped_images, where, "empty file (0 bytes)", file)
        elif not captions[image_id]:
            skip(out.skipped_images, where, "no captions")
        else:
            items.append(CaptionedImage(str(file), tuple(captions[image_id]), image_id))
    if check_images:
        items = _checked(items, strict, out)
    out.images, out.captions = len(items), sum(len(item.captions) for item in items)
    if not items:
        raise CaptionsError(path, "no captioned image to use" + (
            f" ({out.summary().split(': ', 1)[1]})" if entries else ": 'images' is empty"))
    if not out.clean and report:
        report(out.summary())
    return items, out


def _checked(items: list[CaptionedImage], strict: bool,
             out: CaptionsReport) -> list[CaptionedImage]:
    """``items`` whose images decode (all decoded, in a thread pool)."""
    errors = image_errors([item.path for item in items])
    kept = []
    for item, error in zip(items, errors):
        if error is None:
            kept.append(item)
        elif strict:
            raise error
        else:
            out.skipped_images[f"id {item.image_id}, {Path(item.path).name}"] = error.problem
    return kept


def image_errors(paths: Sequence[str], workers: int | None = None) -> list[ImageError | None]:
    """The `ImageError` of each image at ``paths``, None where it decodes (every image
    decoded, at a small size, in a thread pool of ``workers``, default one per CPU)."""

    def check(p: str) -> ImageError | None:
        try:
            read_image(p, 16)
        except ImageError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(check, paths))
