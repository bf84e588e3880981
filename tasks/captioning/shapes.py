"""Procedural captioning data: coloured shapes, captions naming shapes, colours, counts and
where one group is relative to another, written in the COCO captions format.

Scenes (`sample_scene`): one group of 1-4 identical-looking shapes (same shape and colour),
or two groups of 1-3 each that differ in shape, colour or both, one side by side with or
above the other. `SHAPES`: circle, square, triangle, star, cross; `COLOURS`: red, orange,
yellow, green, blue, purple (saturated hues at least 25 degrees apart, jittered by up to 7;
backgrounds are desaturated, so a shape's colour is never the backdrop's). Shapes vary in
size (radius 0.065-0.12 of the image), position and turn (circles, triangles and stars any
angle; squares and crosses within 15 degrees, beyond which they would read as a diamond or
an x), and never touch. Backgrounds: flat, a linear gradient, or a texture (soft noise,
stripes or checks), of low saturation and contrast; a third of the images get Gaussian
sensor noise, a quarter a slight blur. Nothing but the named shapes is drawn.

Captions (`captions`) are computed from the scene's record, so they are true of the image.
Groups: "a red circle", "an orange star", "two blue squares", "three green crosses" (number
words; ``a``/``an`` for one; plural nouns, "crosses"). The relation of the first group to the
second comes from the drawn shapes (`relation`): their bounding boxes (union per group) must
be apart by `RELATION_GAP` along one axis, overlap along the other, and the group centres
must be further apart along that axis than across it; a layout that fails (apart on both
axes: diagonal; or on neither) is drawn again. Image y grows downwards, so "above" means a
smaller y. References, five for two groups::

    a red circle left of two blue squares
    two blue squares right of a red circle
    a red circle to the left of two blue squares
    two blue squares to the right of a red circle
    there is a red circle left of two blue squares

("above"/"below" have "over"/"under" as their paraphrases), four for one group::

    three green triangles / there are three green triangles /
    a picture of three green triangles / an image of three green triangles

Size: 96 px by default (`SIZE`). At 64 px the smallest shapes would be about 8 px across,
where a star, a cross and a circle differ by a pixel or two that blur and noise wipe out; at
96 px they are 12-23 px, and up to 7 shapes fit without touching while the images stay about
5 times cheaper than 224 px for a network trained from scratch. Shapes are drawn at 4x and
averaged down, so edges are anti-aliased.

`write_dataset` writes the COCO captions layout that `tasks.captioning.coco.load_captions`
reads (``annotations/captions_<split>.json`` and ``<split>/*.png``, the year-less form):
``train`` and ``val`` from ``seed``, ``test`` from ``test_seed`` (default ``seed + 1000``;
never ``seed``). Validation is a file of its own rather than a part of train: every split
goes through the same loader, and the sizes of train and validation do not change each
other's images. Each image is drawn from its own generator, ``numpy.random.default_rng([seed,
crc32(split), index])``, so any image can be made again alone. Each image record in the json
carries its scene (``"scene"``: shapes with centre, radius, turn, colour; groups; relation),
which COCO readers ignore.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tasks.common.generated import progress_printer, writable_target

SIZE = 96
SHAPES = ("circle", "square", "triangle", "star", "cross")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars",
           "cross": "crosses"}
# hue in degrees and the lowest brightness (orange and yellow turn brown and olive below it)
COLOURS = {"red": (0, 0.7), "orange": (28, 0.85), "yellow": (55, 0.85), "green": (125, 0.6),
           "blue": (220, 0.7), "purple": (280, 0.65)}
NUMBERS = {2: "two", 3: "three", 4: "four"}
MAX_ONE_GROUP = 4  # shapes in a one-group scene
MAX_PER_GROUP = 3  # shapes in each group of a two-group scene
ONE_GROUP_SHARE = 0.3
RELATIONS = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
PARAPHRASES = {"left of": "to the left of", "right of": "to the right of", "above": "over",
               "below": "under"}
RADIUS = (0.065, 0.12)  # of the image size
SHAPE_GAP = 0.02  # of the image size, between shapes
GROUP_GAP = 0.06  # of the image size, the layout's gap between two groups
RELATION_GAP = 0.03  # of the image size, the least gap for a relation to hold
MARGIN = 0.01  # of the image size, between shapes and the border
HUE_JITTER = 7.0
SUPERSAMPLE = 4
TEST_SEED_OFFSET = 1000
SPLITS = ("train", "val", "test")
METADATA_FILE = "metadata.json"
GENERATOR = "rnnzoo tasks.captioning.shapes"
# Raised whenever the same seed would give other images or captions.
GENERATOR_VERSION = 1
LICENCE = ("Generated by rnnzoo (tasks.captioning.shapes): procedural images, no third-party "
           "content; no licence is needed to use them.")


@dataclass(frozen=True)
class Shape:
    """One drawn shape: centre ``(x, y)`` and circumscribed ``radius`` in pixels (y down),
    turn in degrees, colour name and the RGB (0-1) it was drawn in."""

    shape: str
    colour: str
    x: float
    y: float
    radius: float
    angle: float
    rgb: tuple[float, float, float]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the circumscribed circle."""
        return (self.x - self.radius, self.y - self.radius, self.x + self.radius,
                self.y + self.radius)


@dataclass(frozen=True)
class Group:
    """What a caption names: ``count`` shapes of one ``shape`` and ``colour``."""

    shape: str
    colour: str
    count: int


@dataclass
class Scene:
    """An image's content: its shapes, the named groups (the caption's order), the relation
    of ``groups[0]`` to ``groups[1]`` (None with one group) and the drawing style."""

    size: int
    shapes: tuple[Shape, ...]
    groups: tuple[Group, ...]
    relation: str | None
    style: dict[str, Any] = field(default_factory=dict)

    def members(self, group: Group) -> list[Shape]:
        return [s for s in self.shapes if (s.shape, s.colour) == (group.shape, group.colour)]

    def record(self) -> dict[str, Any]:
        """The scene as JSON-ready data (the ``"scene"`` of an image record)."""
        return {"groups": [asdict(g) for g in self.groups], "relation": self.relation,
                "shapes": [{**asdict(s), "x": round(s.x, 2), "y": round(s.y, 2),
                            "radius": round(s.radius, 2), "angle": round(s.angle, 1),
                            "rgb": [round(c, 3) for c in s.rgb]} for s in self.shapes],
                "style": {k: round(v, 4) if isinstance(v, float) else v
                          for k, v in self.style.items() if k != "noise_seed"}}


# ------------------------------------------------------------------------------ captions

def phrase(group: Group) -> str:
    """"a red circle", "an orange star", "two blue squares", "three green crosses"."""
    if group.count == 1:
        article = "an" if group.colour[0] in "aeiou" else "a"
        return f"{article} {group.colour} {group.shape}"
    return f"{NUMBERS[group.count]} {group.colour} {PLURALS[group.shape]}"


def _there(group: Group) -> str:
    return f"there {'is' if group.count == 1 else 'are'} {phrase(group)}"


def captions(scene: Scene) -> list[str]:
    """The reference captions of ``scene`` (see the module docstring)."""
    if len(scene.groups) == 1:
        group = scene.groups[0]
        return [phrase(group), _there(group), f"a picture of {phrase(group)}",
                f"an image of {phrase(group)}"]
    first, second = scene.groups
    a, b, relation = phrase(first), phrase(second), scene.relation
    inverse = RELATIONS[relation]
    return [f"{a} {relation} {b}", f"{b} {inverse} {a}",
            f"{a} {PARAPHRASES[relation]} {b}", f"{b} {PARAPHRASES[inverse]} {a}",
            f"{_there(first)} {relation} {b}"]


def relation(first: Sequence[Shape], second: Sequence[Shape], size: int) -> str | None:
    """Where the shapes ``first`` are relative to ``second`` ("left of", "right of", "above",
    "below"), or None when the layout does not say it in one word (see the module
    docstring)."""
    gap = RELATION_GAP * size
    a = _union([s.box for s in first])
    b = _union([s.box for s in second])
    horizontal = ("left of" if a[2] + gap <= b[0] else
                  "right of" if b[2] + gap <= a[0] else None)
    vertical = "above" if a[3] + gap <= b[1] else "below" if b[3] + gap <= a[1] else None
    if (horizontal is None) == (vertical is None):
        return None  # apart on both axes (diagonal) or on neither
    dx = abs(np.mean([s.x for s in first]) - np.mean([s.x for s in second]))
    dy = abs(np.mean([s.y for s in first]) - np.mean([s.y for s in second]))
    if (horizontal and dx <= dy) or (vertical and dy <= dx):
        return None
    return horizontal or vertical


def _union(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[float, ...]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


# ------------------------------------------------------------------------------ scenes

def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``split`` under ``seed``: independent of the other
    images and of how many there are."""
    return np.random.default_rng([int(seed), zlib.crc32(split.encode()), int(index)])


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or not 32 <= size <= 512:
        raise ValueError(f"image size must be an integer from 32 to 512 pixels, got {size!r}")
    return int(size)


def _colour(rng: np.random.Generator, name: str) -> tuple[float, float, float]:
    hue, lowest = COLOURS[name]
    hue = (hue + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 360
    rgb = colorsys.hsv_to_rgb(hue / 360, rng.uniform(0.7, 1.0), rng.uniform(lowest, 1.0))
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _angle(rng: np.random.Generator, shape: str) -> float:
    if shape in ("square", "cross"):
        return float(rng.uniform(-15, 15))
    return float(rng.uniform(0, 360))


def _place(rng: np.random.Generator, radii: Sequence[float], regions: Sequence[tuple],
           placed: list[tuple[float, float, float]], gap: float) -> list[tuple] | None:
    """Centres for circles of ``radii`` inside ``regions`` (``(x0, y0, x1, y1)`` each, for
    the centre), apart from each other and from ``placed`` by ``gap``; None if it fails."""
    out: list[tuple[float, float, float]] = []
    for radius, (x0, y0, x1, y1) in zip(radii, regions):
        if x1 < x0 or y1 < y0:
            return None
        for _ in range(60):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if all(math.hypot(x - px, y - py) >= radius + pr + gap
                   for px, py, pr in placed + out):
                out.append((x, y, radius))
                break
        else:
            return None
    return out


def _one_group(rng: np.random.Generator, size: int) -> Scene | None:
    group = Group(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))),
                  int(rng.integers(1, MAX_ONE_GROUP + 1)))
    radii = rng.uniform(*RADIUS, group.count) * size
    margin = MARGIN * size
    regions = [(margin + r, margin + r, size - margin - r, size - margin - r) for r in radii]
    centres = _place(rng, radii, regions, [], SHAPE_GAP * size)
    if centres is None:
        return None
    shapes = tuple(Shape(group.shape, group.colour, x, y, r, _angle(rng, group.shape),
                         _colour(rng, group.colour)) for x, y, r in centres)
    return Scene(size, shapes, (group,), None)


def _two_groups(rng: np.random.Generator, size: int) -> Scene | None:
    kinds = [(s, c) for s in SHAPES for c in COLOURS]
    first, second = rng.choice(len(kinds), 2, replace=False)
    groups = tuple(Group(*kinds[k], int(rng.integers(1, MAX_PER_GROUP + 1)))
                   for k in (first, second))
    horizontal = rng.random() < 0.5
    first_low = rng.random() < 0.5  # the first group left of (or above) the second
    split = rng.uniform(0.35, 0.65) * size
    margin, half_gap = MARGIN * size, GROUP_GAP * size / 2
    placed: list[tuple[float, float, float]] = []
    members: list[list[tuple[float, float, float]]] = []
    for index, group in enumerate(groups):
        low = (index == 0) == first_low
        radii = rng.uniform(*RADIUS, group.count) * size
        regions = []
        for r in radii:
            along = ((margin + r, split - half_gap - r) if low
                     else (split + half_gap + r, size - margin - r))
            across = (margin + r, size - margin - r)
            regions.append((along[0], across[0], along[1], across[1]) if horizontal
                           else (across[0], along[0], across[1], along[1]))
        centres = _place(rng, radii, regions, placed, SHAPE_GAP * size)
        if centres is None:
            return None
        placed += centres
        members.append(centres)
    shapes = [[Shape(g.shape, g.colour, x, y, r, _angle(rng, g.shape), _colour(rng, g.colour))
               for x, y, r in centres] for g, centres in zip(groups, members)]
    found = relation(shapes[0], shapes[1], size)
    if found is None:
        return None
    return Scene(size, (*shapes[0], *shapes[1]), groups, found)


def _style(rng: np.random.Generator, shapes: Sequence[Shape]) -> dict[str, Any]:
    """Background, noise and blur; the background's colours stand apart from the shapes'."""
    for _ in range(50):
        base = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0, 0.18),
                                   rng.uniform(0.12, 0.95))
        if all(np.abs(np.subtract(base, s.rgb)).sum() >= 0.6 for s in shapes):
            break
    kind = str(rng.choice(["flat", "gradient", "texture"], p=[0.35, 0.35, 0.3]))
    style: dict[str, Any] = {"background": kind, "colour": [round(c, 3) for c in base]}
    if kind == "gradient":
        style["shift"] = float(rng.uniform(-0.25, 0.25))
        style["direction"] = float(rng.uniform(0, 360))
    elif kind == "texture":
        style["texture"] = str(rng.choice(["noise", "stripes", "checks"]))
        style["amplitude"] = float(rng.uniform(0.03, 0.09))
        style["period"] = float(rng.uniform(0.08, 0.3))  # of the image size
        style["direction"] = float(rng.uniform(0, 180))
    style["noise"] = float(rng.uniform(0.01, 0.05)) if rng.random() < 1 / 3 else 0.0
    style["blur"] = float(rng.uniform(0.4, 0.8)) if rng.random() < 0.25 else 0.0
    style["noise_seed"] = int(rng.integers(2**31))
    return style


def sample_scene(rng: np.random.Generator, size: int = SIZE) -> Scene:
    """A random scene whose captions hold (layouts without a clear relation are redrawn)."""
    size = _check_size(size)
    one = rng.random() < ONE_GROUP_SHARE
    for _ in range(10_000):
        scene = _one_group(rng, size) if one else _two_groups(rng, size)
        if scene is not None:
            scene.style = _style(rng, scene.shapes)
            return scene
    raise RuntimeError("no scene could be laid out")  # not met at sizes 32-512


# ------------------------------------------------------------------------------ drawing

def _outline(shape: Shape, scale: float) -> list[tuple[float, float]] | None:
    """The polygon of ``shape`` at ``scale`` (None for a circle)."""
    x, y, r, turn = shape.x * scale, shape.y * scale, shape.radius * scale, shape.angle

    def points(polar: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x + d * math.sin(math.radians(a + turn)), y - d * math.cos(math.radians(a + turn)))
                for a, d in polar]

    if shape.shape == "circle":
        return None
    if shape.shape == "square":
        return points([(45 + 90 * k, r) for k in range(4)])
    if shape.shape == "triangle":
        return points([(120 * k, r) for k in range(3)])
    if shape.shape == "star":
        return points([(36 * k, r if k % 2 == 0 else 0.48 * r) for k in range(10)])
    arm = 0.3 * r  # cross: half the arm width; its corners lie on the circle
    reach = math.sqrt(r * r - arm * arm)
    corners = [(arm, reach), (arm, arm), (reach, arm), (reach, -arm), (arm, -arm),
               (arm, -reach), (-arm, -reach), (-arm, -arm), (-reach, -arm), (-reach, arm),
               (-arm, arm), (-arm, reach)]
    polar = [(math.degrees(math.atan2(cx, cy)), math.hypot(cx, cy)) for cx, cy in corners]
    return points(polar)


def _background(style: dict[str, Any], size: int) -> np.ndarray:
    base = np.array(style["colour"], np.float32)
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    kind = style["background"]
    if kind == "flat":
        return np.broadcast_to(base, (size, size, 3)).copy()
    angle = math.radians(style["direction"])
    along = math.cos(angle) * (xx - 0.5) + math.sin(angle) * (yy - 0.5)
    if kind == "gradient":
        return np.clip(base + style["shift"] * 2 * along[..., None], 0, 1)
    texture, period = style["texture"], style["period"]
    if texture == "stripes":
        wave = np.sin(2 * np.pi * along / period)
    elif texture == "checks":
        across = -math.sin(angle) * (xx - 0.5) + math.cos(angle) * (yy - 0.5)
        wave = np.sign(np.sin(np.pi * along / period) * np.sin(np.pi * across / period))
    else:  # soft noise: a coarse random grid, bilinearly enlarged
        cells = max(2, round(1 / period))
        grid = np.random.default_rng(style["noise_seed"]).uniform(-1, 1, (cells, cells))
        wave = np.asarray(Image.fromarray(grid.astype(np.float32), "F").resize(
            (size, size), Image.Resampling.BILINEAR))
    return np.clip(base + style["amplitude"] * wave[..., None], 0, 1)


def render(scene: Scene) -> np.ndarray:
    """uint8 ``[size, size, 3]`` RGB of ``scene`` (the same scene gives the same pixels)."""
    size, style = scene.size, scene.style
    canvas = _background(style, size).astype(np.float32)
    big = size * SUPERSAMPLE
    for shape in scene.shapes:
        mask = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(mask)
        outline = _outline(shape, SUPERSAMPLE)
        if outline is None:
            x, y, r = (v * SUPERSAMPLE for v in (shape.x, shape.y, shape.radius))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        else:
            draw.polygon(outline, fill=255)
        cover = np.asarray(mask.resize((size, size), Image.Resampling.BOX), np.float32) / 255
        canvas = canvas * (1 - cover[..., None]) + np.array(shape.rgb, np.float32) * cover[
            ..., None]
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")
    if style.get("blur"):
        image = image.filter(ImageFilter.GaussianBlur(style["blur"] * size / SIZE))
    pixels = np.asarray(image, np.float32) / 255
    if style.get("noise"):
        noise = np.random.default_rng(style["noise_seed"] + 1).standard_normal(pixels.shape)
        pixels = pixels + style["noise"] * noise.astype(np.float32)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_example(seed: int | np.random.Generator, size: int = SIZE
                 ) -> tuple[np.ndarray, list[str], Scene]:
    """``(image, captions, scene)`` of one random scene; ``seed`` an int or a generator
    (`image_rng` gives the one a dataset uses)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    scene = sample_scene(rng, size)
    return render(scene), captions(scene), scene


# ------------------------------------------------------------------------------ the dataset

def _count(name: str, value: int | None, default: int) -> int:
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def write_dataset(out: str | os.PathLike, *, images: int, seed: int = 0,
                  validation_images: int | None = None, test_images: int | None = None,
                  test_seed: int | None = None, size: int = SIZE, overwrite: bool = False,
                  progress: bool | Callable[[str], None] = True) -> dict[str, Any]:
    """Write the captioning-shapes dataset to ``out`` in the COCO captions format.

    ``images`` training and ``validation_images`` validation images (default: a tenth of
    ``images``, at least 1) from ``seed``, ``test_images`` test images (default as
    validation) from ``test_seed`` (default ``seed + 1000``; never ``seed``), ``size`` x
    ``size`` PNGs in ``out/train/``, ``out/val/``, ``out/test/`` with
    ``out/annotations/captions_<split>.json``, plus ``metadata.json`` and ``README.txt``.

    The same seeds give the same files. Everything is written to a temporary folder that
    becomes ``out`` at the end, so a failure leaves nothing half-written. An existing
    non-empty ``out`` is refused (`FileExistsError`) unless ``overwrite`` and it is a dataset
    this function wrote. ``progress``: a line per split on stderr (or to a callable; False
    for none). Returns a summary (``metadata.json``'s contents plus ``out`` and ``seconds``).
    """
    from zoo import __version__
    from zoo.preset_io import atomic_folder

    if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or images < 1:
        raise ValueError(f"images must be a positive integer, got {images!r}")
    images = int(images)
    validation_images = _count("validation_images", validation_images, max(1, images // 10))
    test_images = _count("test_images", test_images, max(1, images // 10))
    seed = _count("seed", seed, 0)
    test_seed = _count("test seed", test_seed, seed + TEST_SEED_OFFSET)
    if test_seed == seed:
        raise ValueError(f"the test seed must differ from the training seed ({seed}), so that "
                         "no test image is drawn as a training image")
    size = _check_size(size)
    say = progress_printer(progress)
    target, empty = writable_target(out, overwrite=overwrite, metadata_file=METADATA_FILE,
                                    generator=GENERATOR)
    plan = (("train", seed, images), ("val", seed, validation_images),
            ("test", test_seed, test_images))
    metadata: dict[str, Any] = {
        "dataset": "captioning-shapes",
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "rnnzoo_version": __version__,
        "format": "COCO captions: annotations/captions_<split>.json, <split>/<image>.png",
        "size": size,
        "shapes": list(SHAPES),
        "colours": list(COLOURS),
        "splits": {name: {"seed": s, "images": n, "annotations":
                          f"annotations/captions_{name}.json", "folder": f"{name}/"}
                   for name, s, n in plan},
        "image_seed": "numpy.random.default_rng([seed, zlib.crc32(split), index])",
        "licence": LICENCE,
        "command": (f"rnnzoo data captioning-shapes --out OUT --images {images} --seed {seed} "
                    f"--validation-images {validation_images} --test-images {test_images} "
                    f"--test-seed {test_seed} --size {size}"),
    }
    started = time.perf_counter()
    with atomic_folder(target, overwrite=overwrite or empty, markers=(METADATA_FILE,),
                       what="a generated dataset") as temp:
        (temp / "annotations").mkdir()
        for split, split_seed, count in plan:
            split_started = time.perf_counter()
            (temp / split).mkdir()
            records, annotations = [], []
            digits = max(6, len(str(count - 1)))
            for index in range(count):
                image, texts, scene = make_example(image_rng(split_seed, split, index), size)
                name = f"{split}_s{split_seed}_{index:0{digits}d}.png"
                Image.fromarray(image).save(temp / split / name, optimize=False)
                image_id = index + 1
                records.append({"id": image_id, "file_name": name, "width": size,
                                "height": size, "scene": scene.record()})
                for text in texts:
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                        "caption": text})
            data = {"info": {"description": "captioning-shapes, procedural (rnnzoo)",
                             "version": str(GENERATOR_VERSION), "seed": split_seed},
                    "licenses": [], "images": records, "annotations": annotations}
            (temp / "annotations" / f"captions_{split}.json").write_text(
                json.dumps(data, separators=(",", ":")) + "\n")
            say(f"captioning-shapes: {split:<5} {count} images, {len(annotations)} captions "
                f"({time.perf_counter() - split_started:.1f} s)")
        (temp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        (temp / "README.txt").write_text(_readme(metadata))
    return {**metadata, "out": str(target), "seconds": round(time.perf_counter() - started, 2)}


def _readme(metadata: dict[str, Any]) -> str:
    splits = metadata["splits"]
    lines = "".join(f"  {name}: {info['images']} images from seed {info['seed']} "
                    f"({info['annotations']}, {info['folder']})\n"
                    for name, info in splits.items())
    return (
        "captioning-shapes: procedural image captioning, written by rnnzoo\n\n"
        f"{metadata['size']}x{metadata['size']} PNG images of coloured shapes "
        f"({', '.join(metadata['shapes'])}; {', '.join(metadata['colours'])}), with 4 or 5 "
        "reference captions each that name the shapes, their colours, how many, and where "
        "one group is relative to the other (left of, right of, above, below).\n\n"
        f"Format: {metadata['format']} (the year-less COCO names); each image record also "
        "holds its scene (shapes, groups, relation).\n"
        f"Splits (validation and test are files of their own; test has its own seed):\n"
        f"{lines}\n"
        f"Generator: {metadata['generator']} version {metadata['generator_version']} (rnnzoo "
        f"{metadata['rnnzoo_version']}); the same seeds give the same files.\n"
        f"Made with: {metadata['command']}\n\n"
        f"Licence: {metadata['licence']}\n")
