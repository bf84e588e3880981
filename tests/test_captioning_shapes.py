"""The procedural captioning data (tasks.captioning.shapes) and ``rnnzoo data
captioning-shapes``: grammar, relations, captions true of the drawn scene, seeded
determinism, and the written files read back through the COCO loader."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.cli import main
from tasks.captioning import shapes
from tasks.captioning.coco import load_captions
from tasks.captioning.images import read_image
from tasks.captioning.shapes import (
    COLOURS,
    RELATIONS,
    SHAPES,
    Group,
    Scene,
    Shape,
    captions,
    image_rng,
    make_example,
    phrase,
    relation,
    render,
    sample_scene,
    write_dataset,
)

RED, BLUE = (0.9, 0.1, 0.1), (0.1, 0.2, 0.9)


def shape(x, y, radius=5.0, kind="circle", colour="red", rgb=RED) -> Shape:
    return Shape(kind, colour, x, y, radius, 0.0, rgb)


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    return [sample_scene(image_rng(7, "train", i)) for i in range(400)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cs") / "captioning-shapes"
    summary = write_dataset(out, images=6, validation_images=2, test_images=3, seed=4,
                            size=48, progress=False)
    return out, summary


# ------------------------------------------------------------------------------ grammar

def test_phrases_use_number_words_articles_and_plurals():
    assert phrase(Group("circle", "red", 1)) == "a red circle"
    assert phrase(Group("star", "orange", 1)) == "an orange star"
    assert phrase(Group("square", "blue", 2)) == "two blue squares"
    assert phrase(Group("cross", "green", 3)) == "three green crosses"
    assert phrase(Group("triangle", "yellow", 4)) == "four yellow triangles"


def test_captions_of_two_groups_and_of_one():
    scene = Scene(96, (), (Group("circle", "red", 1), Group("square", "blue", 2)), "left of")
    assert captions(scene) == [
        "a red circle left of two blue squares",
        "two blue squares right of a red circle",
        "a red circle to the left of two blue squares",
        "two blue squares to the right of a red circle",
        "there is a red circle left of two blue squares",
    ]
    scene = Scene(96, (), (Group("cross", "purple", 3), Group("star", "orange", 1)), "above")
    assert captions(scene)[1:4] == ["an orange star below three purple crosses",
                                    "three purple crosses over an orange star",
                                    "an orange star under three purple crosses"]
    assert captions(scene)[4].startswith("there are three purple crosses above")
    one = Scene(96, (), (Group("triangle", "green", 1),), None)
    assert captions(one) == ["a green triangle", "there is a green triangle",
                             "a picture of a green triangle", "an image of a green triangle"]


# ------------------------------------------------------------------------------ relations

def test_relation_from_the_drawn_boxes():
    left, right = [shape(20, 50)], [shape(60, 48), shape(62, 30, kind="square")]
    assert relation(left, right, 96) == "left of" and relation(right, left, 96) == "right of"
    top, bottom = [shape(50, 10)], [shape(45, 60)]
    assert relation(top, bottom, 96) == "above" and relation(bottom, top, 96) == "below"
    assert relation([shape(10, 10)], [shape(80, 80)], 96) is None  # diagonal: apart on both
    assert relation([shape(40, 40)], [shape(45, 45)], 96) is None  # apart on neither
    assert relation([shape(20, 50)], [shape(28, 50)], 96) is None  # closer than the gap
    # apart only across x, but the centres are further apart in y: not "left of"
    assert relation([shape(20, 10)], [shape(34, 40), shape(34, 10)], 96) is None


def test_random_scenes_captions_are_true_of_their_shapes(scenes):
    seen = {"shape": set(), "colour": set(), "count": set(), "relation": set()}
    for scene in scenes:
        size = scene.size
        kinds = {(g.shape, g.colour) for g in scene.groups}
        assert len(kinds) == len(scene.groups)  # groups differ in shape or colour
        assert {(s.shape, s.colour) for s in scene.shapes} == kinds  # nothing unnamed
        for group in scene.groups:
            assert len(scene.members(group)) == group.count
            seen["shape"].add(group.shape)
            seen["colour"].add(group.colour)
            seen["count"].add(group.count)
        for i, a in enumerate(scene.shapes):  # inside the image, never touching
            assert min(a.box) >= 0 and max(a.box) <= size
            for b in scene.shapes[i + 1:]:
                assert np.hypot(a.x - b.x, a.y - b.y) > a.radius + b.radius
        if len(scene.groups) == 2:
            first, second = (scene.members(g) for g in scene.groups)
            assert scene.relation == relation(first, second, size) is not None
            assert relation(second, first, size) == RELATIONS[scene.relation]
            seen["relation"].add(scene.relation)
            text = captions(scene)[0]
            assert text == f"{phrase(scene.groups[0])} {scene.relation} " \
                           f"{phrase(scene.groups[1])}"
        else:
            assert scene.relation is None and captions(scene)[0] == phrase(scene.groups[0])
    assert seen == {"shape": set(SHAPES), "colour": set(COLOURS), "count": {1, 2, 3, 4},
                    "relation": set(RELATIONS)}
    share = np.mean([len(s.groups) == 1 for s in scenes])
    assert 0.2 < share < 0.4


def test_drawn_pixels_show_each_shape_in_its_colour(scenes):
    for scene in scenes[:40]:
        clean = replace(scene, style={**scene.style, "noise": 0.0, "blur": 0.0})
        image = render(clean).astype(float) / 255
        for s in scene.shapes:  # every shape covers its centre
            np.testing.assert_allclose(image[int(s.y), int(s.x)], s.rgb, atol=0.01)
        covered = np.zeros(image.shape[:2], bool)
        yy, xx = np.mgrid[0:scene.size, 0:scene.size] + 0.5
        for s in scene.shapes:
            covered |= (xx - s.x) ** 2 + (yy - s.y) ** 2 <= (s.radius + 1) ** 2
        # outside the shapes only the backdrop: low saturation, unlike every shape colour
        outside = image[~covered]
        assert (outside.max(axis=1) - outside.min(axis=1)).max() < 0.25


def test_seeded_determinism():
    image, texts, scene = make_example(image_rng(3, "train", 5))
    again = make_example(image_rng(3, "train", 5))
    assert np.array_equal(image, again[0]) and texts == again[1]
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    for other in (image_rng(4, "train", 5), image_rng(3, "val", 5), image_rng(3, "train", 6)):
        assert not np.array_equal(image, make_example(other)[0])
    assert make_example(11, size=64)[0].shape == (64, 64, 3)
    with pytest.raises(ValueError, match="from 32 to 512 pixels"):
        make_example(0, size=16)


# ------------------------------------------------------------------------------ the files

def test_written_files_load_through_the_coco_loader(tiny):
    out, summary = tiny
    assert summary["splits"]["test"]["seed"] == 1004 and summary["splits"]["val"]["seed"] == 4
    for split, count in (("train", 6), ("validation", 2), ("test", 3)):
        items, report = load_captions(out, split, report=None)
        assert report.clean and len(items) == count
        data = json.loads((out / "annotations" /
                           f"captions_{'val' if split == 'validation' else split}.json")
                          .read_text())
        annotation_ids = [a["id"] for a in data["annotations"]]
        assert annotation_ids == list(range(1, len(annotation_ids) + 1))
        for item, record in zip(items, data["images"]):
            assert len(item.captions) in (4, 5)
            image = read_image(item.path)
            assert image.shape == (48, 48, 3)
            # the file holds the scene its captions were made from
            scene = record["scene"]
            groups = [Group(**g) for g in scene["groups"]]
            rebuilt = Scene(48, (), tuple(groups), scene["relation"])
            assert list(item.captions) == captions(rebuilt)
            assert sum(g["count"] for g in scene["groups"]) == len(scene["shapes"])
    # the test seed is another: its first image is not the first training image
    first_train = read_image(out / "train" / "train_s4_000000.png")
    assert not np.array_equal(first_train, read_image(out / "test" / "test_s1004_000000.png"))


def test_the_same_seed_writes_the_same_files(tiny, tmp_path):
    out, _ = tiny
    again = tmp_path / "again"
    write_dataset(again, images=6, validation_images=2, test_images=3, seed=4, size=48,
                  progress=False)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()
                   and p.name not in ("metadata.json", "README.txt"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file()
                           and p.name not in ("metadata.json", "README.txt"))
    for file in files:
        assert (out / file).read_bytes() == (again / file).read_bytes(), file


def test_the_written_data_goes_through_the_pipeline(tiny):
    from tasks.captioning.dataset import load

    out, _ = tiny
    data = load(out, "test", size=32, references=True, strict=True)
    got = list(data.as_numpy_iterator())
    assert len(got) == 3 and got[0][0].shape == (32, 32, 3) and len(got[0][1]) in (4, 5)


def test_write_refusals(tmp_path):
    with pytest.raises(ValueError, match="test seed must differ"):
        write_dataset(tmp_path / "x", images=1, seed=3, test_seed=3, progress=False)
    with pytest.raises(ValueError, match="images must be a positive integer"):
        write_dataset(tmp_path / "x", images=0, progress=False)
    with pytest.raises(ValueError, match="from 32 to 512"):
        write_dataset(tmp_path / "x", images=1, size=600, progress=False)
    assert not (tmp_path / "x").exists()
    out = tmp_path / "data"
    write_dataset(out, images=1, validation_images=0, test_images=0, size=32, progress=False)
    with pytest.raises(FileExistsError, match="already exists"):
        write_dataset(out, images=1, size=32, progress=False)
    write_dataset(out, images=2, validation_images=0, test_images=1, size=32, overwrite=True,
                  progress=False)
    assert len(list((out / "train").iterdir())) == 2
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a dataset written by rnnzoo data"):
        write_dataset(foreign, images=1, size=32, overwrite=True, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep me"


# ------------------------------------------------------------------------------ command line

def test_data_command_writes_captioning_shapes(tmp_path, capsys):
    assert main(["data"]) == 0
    assert "captioning-shapes" in capsys.readouterr().out
    out = tmp_path / "cs"
    argv = ["data", "captioning-shapes", "--out", str(out), "--images", "3", "--seed", "2",
            "--validation-images", "1", "--test-images", "1", "--size", "32"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert re.match(r"wrote captioning-shapes \(3 train, 1 val, 1 test images\) to ",
                    captured.out)
    assert "captioning-shapes: train 3 images" in captured.err
    assert json.loads((out / "metadata.json").read_text())["splits"]["test"]["seed"] == 1002
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.splitlines()) == 1
    assert main([*argv, "--overwrite", "--quiet", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["size"] == 32


@pytest.mark.parametrize("argv, message", [
    (["data", "captioning-shapes"], "--out"),
    (["data", "captioning-shapes", "--out", "x", "--images", "0"], "positive integer"),
    (["data", "captioning-shapes", "--out", "x", "--size", "16"], "from 32 to 512"),
    (["data", "captioning-shapes", "--out", "x", "--test-seed", "0"], "must differ"),
])
def test_bad_data_arguments_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_module_constants_are_consistent():
    assert set(shapes.PLURALS) == set(SHAPES)
    assert set(RELATIONS) == set(shapes.PARAPHRASES)
    hues = sorted(h for h, _ in COLOURS.values())
    assert min(np.diff(hues + [hues[0] + 360])) >= 25  # colours apart beyond their jitter
