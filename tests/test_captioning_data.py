"""Captioning data: the COCO captions format (tasks.captioning.coco: the loader's checks,
skip-and-report and strict), the tf.data pipelines (tasks.captioning.dataset: pairs and
references), TFDS coco_captions on a copy prepared by the real builder, and the real
coco_captions_mini when it is there."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_captioning_images import write_truncated

from tasks.captioning.coco import (
    CaptionedImage,
    CaptionsError,
    find_split,
    load_captions,
    load_task_split,
    read_annotations,
)
from tasks.captioning.dataset import caption_pairs, image_references, load, tfds_split
from tasks.captioning.images import ImageError
from tasks.common.data_paths import data_root
from tasks.common.vocabulary import END_ID, PAD_ID, START_ID, Vocabulary


def level(image_id: int) -> int:
    """The grey level that encodes an image id (20 apart: far above JPEG error)."""
    return 20 * image_id


def write_coco(root: Path, split: str = "train", images: int = 3, *, year: str = "2017",
               captions: int = 2, extra_images=(), extra_annotations=()) -> Path:
    """A tiny COCO captions folder: image ``i`` (id ``i + 1``) is a flat grey square of
    `level` (id), captioned "image <id> caption <k>"."""
    folder = root / f"{split}{year}"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    infos, annotations = [], []
    for i in range(images):
        image_id, name = i + 1, f"{i + 1:012d}.jpg"
        Image.new("RGB", (40, 30), (level(image_id),) * 3).save(folder / name, quality=95)
        infos.append({"id": image_id, "file_name": name, "width": 40, "height": 30})
        annotations += [{"id": 100 * image_id + k, "image_id": image_id,
                         "caption": f"Image {image_id}  caption {k}."} for k in range(captions)]
    data = {"info": {}, "images": infos + list(extra_images),
            "annotations": annotations + list(extra_annotations)}
    path = root / "annotations" / f"captions_{split}{year}.json"
    path.write_text(json.dumps(data))
    return path


def id_of(image: np.ndarray) -> int:
    return round(float(np.asarray(image).mean()) / 20)


# ------------------------------------------------------------------------------ the loader

def test_clean_folder_loads_in_file_order(tmp_path, capsys):
    write_coco(tmp_path, images=3)
    items, report = load_captions(tmp_path, "train")
    assert [item.image_id for item in items] == [1, 2, 3]
    assert items[0] == CaptionedImage(str(tmp_path / "train2017" / "000000000001.jpg"),
                                      ("Image 1 caption 0.", "Image 1 caption 1."), 1)
    assert report.clean and report.images == 3 and report.captions == 6
    assert capsys.readouterr().err == ""  # nothing to report


def test_split_names_and_years(tmp_path):
    write_coco(tmp_path, "val", year="2014")
    write_coco(tmp_path, "test", year="")
    assert find_split(tmp_path, "validation") == (
        tmp_path / "annotations" / "captions_val2014.json", tmp_path / "val2014")
    assert find_split(tmp_path, "test")[1] == tmp_path / "test"
    with pytest.raises(FileNotFoundError, match=r"no train captions \(looked for annotations/"
                                                r"captions_train2017.json, annotations/"
                                                r"captions_train2014.json, annotations/"
                                                r"captions_train.json\)"):
        find_split(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        find_split(tmp_path, "dev")
    shutil.rmtree(tmp_path / "val2014")
    with pytest.raises(FileNotFoundError, match="its image folder val2014/ is not"):
        find_split(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        find_split(tmp_path / "nothing", "val")


@pytest.mark.parametrize("content, problem", [
    (b"", r"empty file \(not JSON\)"),
    (b"\xff\xfe{}", r"not UTF-8 text"),
    (b'{"images": [],\n "annotations": [}', r"not JSON \(line 2 column 18: "),
    (b"[]", "the top level is a list, expected an object with 'images' and 'annotations'"),
    (b'{"annotations": []}', "no 'images' list"),
    (b'{"images": [], "annotations": {}}', "'annotations' is an object, expected a list"),
    (b'{"images": [7], "annotations": []}', r"images\[0\] is an integer, expected an object"),
    (b'{"images": [{"file_name": "a.jpg"}], "annotations": []}', r"images\[0\]: 'id' is missing"),
    (b'{"images": [{"id": "1", "file_name": "a.jpg"}], "annotations": []}',
     r"images\[0\]: 'id' is '1' \(a string\), expected an integer"),
    (b'{"images": [{"id": true, "file_name": "a.jpg"}], "annotations": []}',
     r"images\[0\]: 'id' is True \(a boolean\), expected an integer"),
    (b'{"images": [{"id": 1, "file_name": 5}], "annotations": []}',
     r"'file_name' is 5 \(an integer\), expected a string"),
    (b'{"images": [{"id": 1, "file_name": "a"}, {"id": 1, "file_name": "b"}], '
     b'"annotations": []}', r"images\[1\]: id 1 repeats images\[0\]"),
    (b'{"images": [], "annotations": [{"image_id": 1, "caption": null}]}',
     r"annotations\[0\]: 'caption' is None \(null\), expected a string"),
    (b'{"images": [], "annotations": [{"caption": "a dog"}]}',
     r"annotations\[0\]: 'image_id' is missing"),
])
def test_broken_structure_is_an_error_naming_the_json(tmp_path, content, problem):
    write_coco(tmp_path)
    path = tmp_path / "annotations" / "captions_train2017.json"
    path.write_bytes(content)
    for strict in (False, True):
        with pytest.raises(CaptionsError) as info:
            load_captions(tmp_path, "train", strict=strict)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
        assert re.search(problem, message), message


def bad_items_folder(root: Path) -> Path:
    """Three good images plus one of each per-item problem."""
    write_coco(root, images=3, extra_images=[
        {"id": 10, "file_name": "missing.jpg"},
        {"id": 11, "file_name": "empty.jpg"},
        {"id": 12, "file_name": "../outside.jpg"},
        {"id": 13, "file_name": "uncaptioned.jpg"},
    ], extra_annotations=[
        {"image_id": 99, "caption": "a caption of no image"},
        {"image_id": 1, "caption": "   "},
        {"image_id": 2, "caption": "?!"},
        {"image_id": 13, "caption": ""},
        *({"image_id": i, "caption": f"image {i}"} for i in (10, 11, 12)),
    ])
    (root / "train2017" / "empty.jpg").write_bytes(b"")
    shutil.copy(root / "train2017" / "000000000001.jpg", root / "train2017" / "uncaptioned.jpg")
    return root


def test_item_problems_are_skipped_and_reported(tmp_path, capsys):
    bad_items_folder(tmp_path)
    items, report = load_captions(tmp_path, "train")
    assert [item.image_id for item in items] == [1, 2, 3]
    assert [len(item.captions) for item in items] == [2, 2, 2]
    assert report.skipped_captions == {
        "annotations[6] (image 99)": "no image with this id",
        "annotations[7] (image 1)": "empty caption",
        "annotations[8] (image 2)": "empty caption ('?!')",
        "annotations[9] (image 13)": "empty caption",
    }
    folder = tmp_path / "train2017"
    assert report.skipped_images == {
        "images[3] (id 10, missing.jpg)": f"no such file in {folder}",
        "images[4] (id 11, empty.jpg)": "empty file (0 bytes)",
        "images[5] (id 12, ../outside.jpg)": "the file name leaves the image folder",
        "images[6] (id 13, uncaptioned.jpg)": "no captions",
    }
    err = capsys.readouterr().err
    assert err.startswith("note: captions_train2017.json: 3 images, 6 captions; skipped 4 "
                          "images: images[3] (id 10, missing.jpg) (no such file in ")
    assert "skipped 4 captions: annotations[6] (image 99) (no image with this id)" in err
    assert len(err.splitlines()) == 1
    load_captions(tmp_path, "train", report=None)
    assert capsys.readouterr().err == ""


def test_nothing_left_to_use_is_an_error(tmp_path):
    path = write_coco(tmp_path, images=0)
    with pytest.raises(CaptionsError, match=r"no captioned image to use: 'images' is empty"):
        load_captions(tmp_path, "train")
    write_coco(tmp_path, images=2, captions=0)
    with pytest.raises(CaptionsError, match=rf"^{re.escape(str(path))}: no captioned image to "
                                            r"use \(0 images, 0 captions; skipped 2 images: "
                                            r"images\[0\] \(id 1, 000000000001.jpg\) \(no "
                                            r"captions\);"):
        load_captions(tmp_path, "train")


def test_strict_raises_the_first_problem(tmp_path):
    bad_items_folder(tmp_path)
    json_path = tmp_path / "annotations" / "captions_train2017.json"
    with pytest.raises(CaptionsError, match=rf"^{re.escape(str(json_path))}: annotations\[6\] "
                                            r"\(image 99\): no image with this id$"):
        load_captions(tmp_path, "train", strict=True)
    data = json.loads(json_path.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["caption"].strip("?! ")
                           and a["image_id"] != 99]
    json_path.write_text(json.dumps(data))
    missing = tmp_path / "train2017" / "missing.jpg"
    with pytest.raises(CaptionsError, match=rf"^{re.escape(str(missing))}: no such file in .* "
                                            r"\(images\[3\] \(id 10, missing.jpg\) of "
                                            r"captions_train2017.json\)$"):
        load_captions(tmp_path, "train", strict=True)


def test_check_images_skips_or_refuses_undecodable_files(tmp_path, capsys):
    write_coco(tmp_path, images=3)
    write_truncated(tmp_path / "train2017" / "000000000002.jpg")
    items, report = load_captions(tmp_path, "train")
    assert len(items) == 3  # only decoding finds it
    items, report = load_captions(tmp_path, "train", check_images=True)
    assert [item.image_id for item in items] == [1, 3]
    assert list(report.skipped_images) == ["id 2, 000000000002.jpg"]
    assert report.skipped_images["id 2, 000000000002.jpg"].startswith(
        "truncated or corrupt (image file is truncated")
    assert "skipped 1 images: id 2, 000000000002.jpg (truncated" in capsys.readouterr().err
    with pytest.raises(ImageError, match=r"000000000002.jpg: truncated or corrupt"):
        load_captions(tmp_path, "train", check_images=True, strict=True)


def test_read_annotations_takes_any_json_and_folder(tmp_path):
    path = write_coco(tmp_path / "a", images=2)
    moved = tmp_path / "elsewhere.json"
    shutil.move(path, moved)
    items, _ = read_annotations(moved, tmp_path / "a" / "train2017")
    assert len(items) == 2
    with pytest.raises(FileNotFoundError, match="no such captions file"):
        read_annotations(path, tmp_path)


# ------------------------------------------------------------------------------ pipelines

def test_caption_pairs_one_example_per_caption(tmp_path):
    write_coco(tmp_path, images=4, captions=3)
    items, _ = load_captions(tmp_path, "train")
    data = caption_pairs(items, size=16)
    assert data.element_spec[0].shape == (16, 16, 3) and data.element_spec[1].shape == ()
    pairs = [(id_of(image), caption.decode()) for image, caption in data.as_numpy_iterator()]
    assert pairs == [(i, f"Image {i} caption {k}.") for i in range(1, 5) for k in range(3)]
    shuffled = [(id_of(i), c.decode()) for i, c in
                caption_pairs(items, size=16, shuffle=True, seed=3).as_numpy_iterator()]
    assert sorted(shuffled) == sorted(pairs) and shuffled != pairs
    for image, caption in shuffled:
        assert caption.startswith(f"Image {image} ")  # images stay with their captions


def test_caption_pairs_with_a_vocabulary_give_padded_ids(tmp_path, capsys):
    write_coco(tmp_path, images=2, captions=1, extra_annotations=[
        {"image_id": 2, "caption": "image two has a much longer caption than the rest"}])
    items, _ = load_captions(tmp_path, "train")
    vocabulary = Vocabulary.build([c for item in items for c in item.captions])
    data = caption_pairs(items, size=8, vocabulary=vocabulary, max_length=7)
    assert data.element_spec[1].shape == (7,) and data.element_spec[1].dtype.name == "int32"
    ids = [i for _, i in data.as_numpy_iterator()]
    assert ids[0].tolist() == [START_ID, *vocabulary.encode("image 1 caption 0",
                                                             add_start_end=False), END_ID, PAD_ID]
    assert vocabulary.decode(ids[0]) == "image 1 caption 0"
    assert ids[2][0] == START_ID and END_ID not in ids[2]  # cut: a prefix without <end>
    assert capsys.readouterr().err == ("note: decoded 2 of 2 images; 1 caption of 1 image cut "
                                     "to max_length\n")
    with pytest.raises(ValueError, match="need max_length"):
        caption_pairs(items, size=8, vocabulary=vocabulary)
    with pytest.raises(ValueError, match="give a vocabulary too"):
        caption_pairs(items, size=8, max_length=5)


def test_image_references_one_example_per_image(tmp_path):
    write_coco(tmp_path, images=3, captions=2, extra_annotations=[
        {"image_id": 3, "caption": "A third caption."}])
    items, _ = load_captions(tmp_path, "train")
    data = image_references(items, size=12, strict=True)
    assert int(data.cardinality()) == 3 and data.element_spec[1].shape.as_list() == [None]
    got = [(id_of(image), [r.decode() for r in refs]) for image, refs in
           data.as_numpy_iterator()]
    assert got[2] == (3, ["Image 3 caption 0.", "Image 3 caption 1.", "A third caption."])
    batch = next(iter(data.padded_batch(3)))
    assert batch[0].shape == (3, 12, 12, 3) and batch[1].shape == (3, 3)
    assert batch[1][0, 2].numpy() == b""


def test_pipelines_skip_and_report_bad_images_or_refuse_them_when_strict(tmp_path, capsys):
    write_coco(tmp_path, images=4)
    write_truncated(tmp_path / "train2017" / "000000000002.jpg")
    (tmp_path / "train2017" / "000000000003.jpg").write_text("not a picture")
    items, _ = load_captions(tmp_path, "train")
    for data in (caption_pairs(items, size=8), image_references(items, size=8)):
        assert sorted({id_of(image) for image, _ in data.as_numpy_iterator()}) == [1, 4]
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("note: skipped ") and "000000000002.jpg: truncated" in line
               for line in err)
    assert any("000000000003.jpg: not an image" in line for line in err)
    assert any(line.startswith("note: decoded 2 of 4 images; skipped 2 bad: ") for line in err)
    with pytest.raises(ImageError, match=r"000000000002.jpg: truncated or corrupt"):
        caption_pairs(items, size=8, strict=True)
    with pytest.raises(ValueError, match="no captioned images to read"):
        caption_pairs([], size=8)


def test_load_reads_a_folder_split(tmp_path):
    write_coco(tmp_path, "val", images=2)
    write_coco(tmp_path, "test", images=1)
    data = load(tmp_path, "validation", size=10, references=True)
    assert [id_of(image) for image, _ in data.as_numpy_iterator()] == [1, 2]
    assert len(list(load(tmp_path, "val", size=10))) == 4
    assert len(list(load(tmp_path, "test", size=10))) == 2


def test_without_test_captions_val_is_divided_into_validation_and_test(tmp_path):
    write_coco(tmp_path, "val", images=5)
    validation, _ = load_task_split(tmp_path, "validation")
    test, _ = load_task_split(tmp_path, "test")
    assert [i.image_id for i in validation] == [1, 2, 3]
    assert [i.image_id for i in test] == [4, 5]
    assert len(load_task_split(tmp_path, "val")[0]) == 5  # "val" is the whole file
    data = load(tmp_path, "test", size=10, references=True)
    assert [id_of(image) for image, _ in data.as_numpy_iterator()] == [4, 5]
    write_coco(tmp_path / "one", "val", images=1)
    with pytest.raises(CaptionsError, match="too few captioned val images"):
        load_task_split(tmp_path / "one", "test")


# ------------------------------------------------------------------------------ TFDS

def _fake_coco_2014(root: Path) -> dict[str, str]:
    """What TFDS coco_captions downloads (COCO 2014 image folders and instance files, and
    Karpathy's dataset_coco.json), tiny: 3 train images; of 4 val2014 images one each is
    Karpathy val and test and two are restval (id 7 with no usable caption); one test2014 and
    one test2015 image."""
    paths, karpathy, next_id = {}, [], 1
    categories = [{"id": i + 1, "name": f"thing{i}", "supercategory": "x"} for i in range(80)]
    for split, images, notes_zip, kind, count in (
            ("train", "train2014", "annotations_trainval2014", "instances", 3),
            ("validation", "val2014", "annotations_trainval2014", "instances", 4),
            ("test", "test2014", "image_info_test2014", "image_info", 1),
            ("test2015", "test2015", "image_info_test2015", "image_info", 1)):
        folder = root / f"{split}_images" / images
        folder.mkdir(parents=True)
        infos = []
        for k in range(count):
            name = f"COCO_{images}_{next_id:012d}.jpg"
            Image.new("RGB", (40 + k, 30), (level(next_id),) * 3).save(folder / name,
                                                                        quality=95)
            infos.append({"id": next_id, "file_name": name, "height": 30, "width": 40 + k})
            if split in ("train", "validation"):
                part = "train" if split == "train" else ("val", "test", "restval", "restval")[k]
                sentences = [{"raw": f"Image {next_id} caption {j}.", "sentid": 10 * next_id + j}
                             for j in range(1 + next_id % 3)]
                if next_id == 7:  # a restval image whose only caption has no words
                    sentences = [{"raw": "?!", "sentid": 70}]
                karpathy.append({"filename": name, "split": part, "sentences": sentences})
            next_id += 1
        notes = root / notes_zip / "annotations"
        notes.mkdir(parents=True, exist_ok=True)
        data = {"images": infos, "categories": categories}
        if kind == "instances":
            data["annotations"] = []
        (notes / f"{kind}_{images}.json").write_text(json.dumps(data))
        paths[f"{split}_images"] = str(root / f"{split}_images")
        paths[f"{split}_annotations"] = str(root / notes_zip)
    (root / "karpathy").mkdir()
    (root / "karpathy" / "dataset_coco.json").write_text(json.dumps({"images": karpathy}))
    paths["karpathy_and_li_splits"] = str(root / "karpathy")
    return paths


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A prepared TFDS ``coco_captions/2014`` written by the real builder class, its
    downloads replaced by the tiny local COCO 2014 of `_fake_coco_2014`."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.object_detection import coco_captions

    root = tmp_path_factory.mktemp("coco2014")
    paths = _fake_coco_2014(root / "downloads")

    class Downloads:
        def download_and_extract(self, urls):
            return {key: paths[key] for key in urls}

    with tfds.core.registered.skip_registration():
        class LocalCocoCaptions(coco_captions.CocoCaptions):
            name = "coco_captions"

            def _split_generators(self, dl_manager):
                return super()._split_generators(Downloads())

    LocalCocoCaptions(data_dir=str(root / "tfds")).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return root / "tfds"


def test_tfds_coco_captions_from_a_local_data_dir(tfds_dir, capsys):
    references = {}
    for split in ("train", "validation", "test"):
        data = load("tfds:coco_captions", split, size=16, references=True,
                    tfds_data_dir=tfds_dir)
        assert data.element_spec[0].shape == (16, 16, 3)
        references[split] = {id_of(image): [r.decode() for r in refs]
                             for image, refs in data.as_numpy_iterator()}
    # train = Karpathy train (ids 1-3) + restval (ids 6, 7); val = id 4; test = id 5
    assert sorted(references["train"]) == [1, 2, 3, 6]  # 7 has no caption with words
    assert ("note: skipped tfds:coco_captions image 7 COCO_val2014_000000000007.jpg: no "
            "captions") in capsys.readouterr().err
    assert list(references["validation"]) == [4] and list(references["test"]) == [5]
    assert references["test"][5] == ["Image 5 caption 0.", "Image 5 caption 1.",
                                     "Image 5 caption 2."]
    vocabulary = Vocabulary.build(c for refs in references["train"].values() for c in refs)
    pairs = load("tfds:coco_captions/2014", "train", size=8, vocabulary=vocabulary,
                 max_length=8, tfds_data_dir=tfds_dir)
    decoded = sorted(vocabulary.decode(ids) for _, ids in pairs.as_numpy_iterator())
    assert decoded == sorted(" ".join(c.lower().rstrip(".").split())
                             for refs in references["train"].values() for c in refs)


def test_tfds_not_prepared_is_refused_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tfds:coco_captions: not prepared in .*tens "
                                                r"of GB.*tfds build coco_captions"):
        load("tfds:coco_captions", "train", size=8, tfds_data_dir=tmp_path)


def test_tfds_split_strings():
    assert tfds_split("train") == "train+restval"
    assert tfds_split("validation") == tfds_split("val") == "val"
    assert tfds_split("test") == "test"
    with pytest.raises(ValueError, match="unknown split"):
        tfds_split("restval")


# ------------------------------------------------------------------------------ real data

@pytest.mark.data
def test_real_coco_captions_mini():
    root = data_root()
    folder = root / "coco_captions_mini" if root else None
    if folder is None or not folder.is_dir():
        pytest.skip("needs coco_captions_mini in the data root ($RNNZOO_DATA or "
                    "../shared/data), absent here")
    train, report = load_captions(folder, "train", report=None)
    val, val_report = load_captions(folder, "validation", report=None)
    assert (len(train), len(val)) == (80, 79) and report.clean and val_report.clean
    assert all(len(item.captions) == 5 for item in train + val)
    assert {i.image_id for i in train}.isdisjoint({i.image_id for i in val})
    data = image_references(train[:4], size=32, strict=True)
    images = [image for image, refs in data.as_numpy_iterator()]
    assert len(images) == 4 and all(image.std() > 10 for image in images)  # real photos
