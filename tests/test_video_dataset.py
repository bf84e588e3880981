"""Video datasets: the folder-per-class layout with and without UCF101 split lists
(tasks.video.layout), the parallel tf.data pipeline with skip-and-report or strict
(tasks.video.dataset), and the TFDS ucf101 path on a locally prepared copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_video_decode import (
    indices_of,
    write_audio_only,
    write_index_clip,
    write_truncated,
)

from tasks.video.dataset import (
    DecodeReport,
    class_names,
    clip_dataset,
    load,
    tfds_clip,
    tfds_split,
)
from tasks.video.decode import VideoError
from tasks.video.layout import LayoutError, find_clips, group_key

CLASSES = ("jump", "run", "walk")


# layout (placeholder files: listing does not decode) ----------------------------------------
def touch_layout(root: Path, clips: dict[str, list[str]]) -> Path:
    for name, files in clips.items():
        for file in files:
            (root / name / file).parent.mkdir(parents=True, exist_ok=True)
            (root / name / file).write_bytes(b"placeholder")
    return root


def ucf_layout(root: Path, groups: int = 10, clips: int = 2) -> Path:
    """UCF101-named placeholders: ``v_<Class>_gNN_cMM.avi`` for every class."""
    return touch_layout(root, {c: [f"v_{c}_g{g:02d}_c{k:02d}.avi" for g in range(1, groups + 1)
                                   for k in range(1, clips + 1)] for c in CLASSES})


def relative(root: Path, paths: list[str]) -> set[str]:
    return {Path(p).relative_to(root).as_posix() for p in paths}


def test_folder_split_without_lists(tmp_path):
    root = ucf_layout(tmp_path / "data")
    parts = {s: find_clips(root, s) for s in ("train", "validation", "test", "train+validation")}
    paths = {s: relative(root, p[0]) for s, p in parts.items()}
    assert parts["train"][2] == list(CLASSES)
    assert paths["train"].isdisjoint(paths["validation"])
    assert paths["train"].isdisjoint(paths["test"])
    assert paths["validation"].isdisjoint(paths["test"])
    assert paths["train"] | paths["validation"] == paths["train+validation"]
    assert len(paths["train+validation"] | paths["test"]) == 60
    # every fifth group of each class is test: g05 and g10
    assert {group_key(p).split("_g")[-1] for p in paths["test"]} == {"05", "10"}
    # validation: round(0.15 * 8) = 1 group per class, both its clips
    assert len(paths["validation"]) == 3 * 2
    assert len({group_key(p) for p in paths["validation"]}) == 3
    # labels follow the sorted class folders
    for path, label in zip(*parts["test"][:2]):
        assert Path(path).parent.name == CLASSES[label]
    # deterministic, and the seed moves validation only
    assert find_clips(root, "validation") == parts["validation"]
    other = {s: relative(root, find_clips(root, s, seed=5)[0]) for s in ("validation", "test")}
    assert other["test"] == paths["test"] and other["validation"] != paths["validation"]


def test_groups_stay_together_and_plain_names_split_per_clip(tmp_path):
    root = touch_layout(tmp_path / "data", {"a": [f"clip{i:02d}.mp4" for i in range(10)],
                                            "b": [f"x{i}.MKV" for i in range(3)],
                                            "c": ["only.webm"]})
    test = relative(root, find_clips(root, "test")[0])
    assert test == {"a/clip04.mp4", "a/clip09.mp4", "b/x2.MKV"}  # none from a one-clip class
    train = relative(root, find_clips(root, "train", validation_fraction=0.3)[0])
    assert "c/only.webm" in train
    assert group_key("Run/v_Run_g08_c03.avi") == "Run/v_Run_g08"
    assert group_key("Run/clip_g08.avi") == "Run/clip_g08.avi"


def test_ignored_files_and_nested_clips(tmp_path):
    root = touch_layout(tmp_path / "data", {"a": ["one.mp4", "sub/two.avi", ".hidden.mp4",
                                                  "notes.txt", "._one.mp4"],
                                            "b": ["three.mov"], ".cache": ["x.mp4"]})
    paths, _, classes = find_clips(root, "train+validation", validation_fraction=0)
    assert classes == ["a", "b"]
    assert relative(root, paths) | relative(root, find_clips(root, "test")[0]) == {
        "a/one.mp4", "a/sub/two.avi", "b/three.mov"}


def write_lists(folder: Path, train: list[str], test: list[str], classes=CLASSES,
                number="01", class_index=True):
    folder.mkdir(parents=True, exist_ok=True)
    index = {c: i + 1 for i, c in enumerate(classes)}
    (folder / f"trainlist{number}.txt").write_text(
        "".join(f"{p} {index.get(p.split('/')[0], 0)}\r\n" for p in train))
    (folder / f"testlist{number}.txt").write_text("".join(f"{p}\n" for p in test))
    if class_index:
        (folder / "classInd.txt").write_text("".join(f"{i} {c}\n" for c, i in index.items()))


def ucf_split(root: Path, test_groups=range(1, 4)):
    all_clips = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.avi"))
    test = [p for p in all_clips if int(p.split("_g")[1][:2]) in test_groups]
    return [p for p in all_clips if p not in test], test


def test_ucf101_split_lists(tmp_path, capsys):
    root = ucf_layout(tmp_path / "UCF-101")
    train, test = ucf_split(root)
    # classInd orders the classes its own way
    write_lists(root / "ucfTrainTestlist", train, test, classes=("walk", "jump", "run"))
    found = {s: find_clips(root, s) for s in ("train", "validation", "test", "train+validation")}
    assert found["test"][2] == ["walk", "jump", "run"]
    assert relative(root, found["test"][0]) == set(test)
    assert relative(root, found["train+validation"][0]) == set(train)
    assert relative(root, found["train"][0]) | relative(root, found["validation"][0]) == set(train)
    assert relative(root, found["train"][0]).isdisjoint(relative(root, found["validation"][0]))
    for path, label in zip(*found["train"][:2]):
        assert Path(path).parent.name == ("walk", "jump", "run")[label]
    assert capsys.readouterr().err == ""
    # split_list=False ignores the lists (a deterministic split of its own)
    own = relative(root, find_clips(root, "test", split_list=False)[0])
    assert own != set(test)


def test_split_list_by_name_and_case_insensitive_entries(tmp_path, capsys):
    root = ucf_layout(tmp_path / "data", groups=4, clips=1)
    train, test = ucf_split(root, test_groups=(1,))
    shouted = [f"{p.split('/')[0]}/{p.split('/')[1].upper()}" for p in train]
    write_lists(root / "ucfTrainTestlist", shouted, test, number="02")
    # no trainlist01.txt: found only when named
    assert find_clips(root, "test")[0] != find_clips(root, "test", split_list="trainlist02.txt")[0]
    paths = find_clips(root, "train+validation", split_list="trainlist02.txt")[0]
    assert relative(root, paths) == set(train)
    assert capsys.readouterr().err == ""


def test_missing_listed_files_are_skipped_and_reported_or_strict(tmp_path, capsys):
    root = ucf_layout(tmp_path / "data", groups=5, clips=1)
    train, test = ucf_split(root, test_groups=(1,))
    write_lists(root, train + ["run/v_run_g99_c01.avi"], test)
    paths = find_clips(root, "train+validation")[0]
    assert relative(root, paths) == set(train)
    err = capsys.readouterr().err
    assert "trainlist01.txt: 1 listed clips are not under" in err
    assert "run/v_run_g99_c01.avi" in err and err.count("\n") == 1
    # the test split does not read the missing train entries
    find_clips(root, "test")
    assert capsys.readouterr().err == ""
    with pytest.raises(LayoutError, match=r"trainlist01\.txt: line 13 names "
                                          r"run/v_run_g99_c01\.avi, which is not a clip under"):
        find_clips(root, "train", strict=True)


def test_clips_in_no_list_are_counted(tmp_path, capsys):
    root = ucf_layout(tmp_path / "data", groups=4, clips=1)
    train, test = ucf_split(root, test_groups=(1,))
    write_lists(root, train[:-2], test)
    find_clips(root, "test")
    assert "2 clips are in neither trainlist01.txt nor testlist01.txt; left out" in \
        capsys.readouterr().err


def test_bad_lists(tmp_path):
    root = ucf_layout(tmp_path / "data", groups=4, clips=1)
    train, test = ucf_split(root, test_groups=(1,))
    write_lists(root, train, test + train[:1])
    with pytest.raises(LayoutError, match="is in both trainlist01.txt and testlist01.txt"):
        find_clips(root, "train")
    write_lists(root, train, ["../outside.avi"])
    with pytest.raises(LayoutError, match=r"testlist01\.txt: line 1: '\.\./outside\.avi' is not"):
        find_clips(root, "test")
    write_lists(root, train, test, classes=("jump", "run"), class_index=False)
    (root / "classInd.txt").write_text("1 jump\n2 run\n")
    with pytest.raises(LayoutError, match=r"classInd\.txt: class 'walk' .* is not in it"):
        find_clips(root, "test")
    (root / "testlist01.txt").unlink()
    with pytest.raises(LayoutError, match="its test list testlist01.txt is not next to it"):
        find_clips(root, "train")
    with pytest.raises(FileNotFoundError, match="no such split list"):
        find_clips(root, "train", split_list="trainlist07.txt")


def test_layout_errors_name_the_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"{missing}: no such video folder"):
        find_clips(missing, "train")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.mp4").write_bytes(b"x")
    with pytest.raises(LayoutError, match=rf"{flat}: no class folders.*1 clips lie directly"):
        find_clips(flat, "train")
    empty = touch_layout(tmp_path / "empty", {"a": ["readme.txt"], "b": ["x.json"]})
    with pytest.raises(LayoutError, match=rf"{empty}: no clips .* in its 2 class folders"):
        find_clips(empty, "train")
    splits = touch_layout(tmp_path / "splits", {"train": ["a/x.mp4"], "test": ["a/y.mp4"]})
    with pytest.raises(LayoutError, match="its folders are splits"):
        find_clips(splits, "train")
    root = ucf_layout(tmp_path / "data", groups=3, clips=1)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        find_clips(root, "dev")
    with pytest.raises(LayoutError, match=r"no clips in the validation split \(validation_"):
        find_clips(root, "validation", validation_fraction=0)
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        find_clips(root, "train", validation_fraction=1.5)


# the pipeline (real clips) ------------------------------------------------------------------
@pytest.fixture
def video_root(tmp_path):
    """Three classes, five 20-frame clips each in all four containers (grey = frame index)."""
    root = tmp_path / "videos"
    for c, name in enumerate(CLASSES):
        for k, ext in enumerate((".mp4", ".mkv", ".webm", ".avi", ".mp4")):
            write_index_clip(root / name / f"{name}{k}{ext}", count=20 - c)
    return root


def test_clip_dataset_shapes_values_and_order(video_root):
    paths, labels, _ = find_clips(video_root, "train+validation", validation_fraction=0)
    data = clip_dataset(paths, labels, frames=4, size=16, parallel=3)
    assert data.element_spec[0].shape == (4, 16, 16, 3)
    assert data.element_spec[0].dtype.name == "uint8"
    assert data.element_spec[1].shape == () and data.element_spec[1].dtype.name == "int32"
    got = list(data.as_numpy_iterator())
    assert [int(y) for _, y in got] == labels  # order kept
    for (clip, label), path in zip(got, paths):
        count = 20 - label
        expected = np.floor((np.arange(4) + 0.5) * count / 4)
        np.testing.assert_allclose(indices_of(clip), expected, atol=0.3, err_msg=path)


def test_bad_files_are_skipped_and_reported(video_root, tmp_path, capsys):
    noise = video_root / "run" / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(3000))
    write_audio_only(video_root / "walk" / "speech.mp4")
    write_truncated(video_root / "jump" / "cut.mkv", video_root / "jump" / "jump0.mp4", 0.5)
    write_index_clip(video_root / "walk" / "short.mp4", count=3)
    paths, labels, _ = find_clips(video_root, "train+validation", validation_fraction=0)
    report = DecodeReport(len(paths))
    data = clip_dataset(paths, labels, frames=4, size=16, report=report)
    got = list(data.as_numpy_iterator())
    assert len(got) == len(paths) - 3
    assert set(report.skipped) == {str(noise), str(video_root / "walk" / "speech.mp4"),
                                   str(video_root / "jump" / "cut.mkv")}
    assert report.notes == {str(video_root / "walk" / "short.mp4"):
                            ["only 3 frames, 4 asked: repeated the last frame once"]}
    lines = capsys.readouterr().err.strip().splitlines()
    skipped = [line for line in lines if line.startswith("note: skipped ")]
    assert len(skipped) == 3 and any(f"{noise}: not a video file" in s for s in skipped)
    summary = [line for line in lines if line.startswith("note: decoded ")]
    assert summary == [f"note: decoded {len(paths) - 3} of {len(paths)} clips; skipped 3 bad: "
                       f"jump/cut.mkv ({report.skipped[str(video_root / 'jump' / 'cut.mkv')]}); "
                       f"run/noise.mp4 ({report.skipped[str(noise)]}); walk/speech.mp4 "
                       f"({report.skipped[str(video_root / 'walk' / 'speech.mp4')]}); 1 with "
                       "notes: walk/short.mp4 (only 3 frames, 4 asked: repeated the last frame "
                       "once)"]
    # a second pass reports nothing new
    assert len(list(data.as_numpy_iterator())) == len(paths) - 3
    assert capsys.readouterr().err == ""


def test_a_file_gone_before_decoding_is_skipped(video_root, tmp_path, capsys):
    gone = tmp_path / "gone.mp4"
    report = DecodeReport(2)
    data = clip_dataset([video_root / "run" / "run0.mp4", gone], [1, 2], frames=4, size=16,
                        report=report)
    assert [int(y) for _, y in data.as_numpy_iterator()] == [1]
    assert report.skipped == {str(gone): "no such file"}
    assert f"note: skipped {gone}: no such video file" in capsys.readouterr().err


def test_strict_raises_the_first_bad_file(video_root):
    bad = video_root / "jump" / "a-bad.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    write_audio_only(video_root / "walk" / "speech.mp4")
    paths, labels, _ = find_clips(video_root, "train+validation", validation_fraction=0)
    with pytest.raises(VideoError, match=rf"^{bad}: not a video file"):
        clip_dataset(paths, labels, frames=4, size=16, strict=True)
    with pytest.raises(VideoError, match=rf"^{bad}: not a video file"):
        load(video_root, "train+validation", frames=4, size=16, strict=True,
             validation_fraction=0)
    good = [i for i, p in enumerate(paths) if "bad" not in p and "speech" not in p]
    data = clip_dataset([paths[i] for i in good], [labels[i] for i in good], frames=4, size=16,
                        strict=True)
    assert int(data.cardinality()) == len(good) == len(list(data))


def test_load_folder_splits_and_keras(video_root):
    import keras

    test = load(video_root, "test", frames=6, size=24, stride=2)
    train = load(video_root, "train", frames=6, size=24, stride=2, shuffle=True,
                 shuffle_seed=1, strict=True)
    assert test.element_spec[0].shape == (6, 24, 24, 3)
    clips = list(test.as_numpy_iterator())
    assert len(clips) == 3  # one of five clips per class
    np.testing.assert_allclose(indices_of(clips[0][0]), [0, 2, 4, 6, 8, 10], atol=0.3)
    assert class_names(video_root) == list(CLASSES)
    model = keras.Sequential([keras.Input((6, 24, 24, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train.batch(4), epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


# TFDS ucf101 --------------------------------------------------------------------------------
def _tfds_video(count: int, height=24, width=32) -> np.ndarray:
    return np.stack([np.full((height, width, 3), 10 + 12 * k, np.uint8) for k in range(count)])


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A prepared TFDS ``ucf101/ucf101_1`` (8 train, 3 test examples of 3-9 frames) written
    by the real builder class with its download replaced by in-memory videos."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.video import ucf101

    def examples(start, n):
        for i in range(start, start + n):
            yield f"v_{i}.avi", {"video": _tfds_video(3 + i % 7), "label": i % 4}

    with tfds.core.registered.skip_registration():
        class LocalUcf101(ucf101.Ucf101):
            name = "ucf101"

            def _split_generators(self, dl_manager):
                return {"train": examples(0, 8), "test": examples(100, 3)}

    data_dir = tmp_path_factory.mktemp("tfds")
    LocalUcf101(data_dir=str(data_dir), config="ucf101_1").download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return data_dir


def test_tfds_ucf101_from_a_local_data_dir(tfds_dir, capsys):
    name = "tfds:ucf101/ucf101_1"
    names = class_names(name, tfds_data_dir=tfds_dir)
    assert len(names) == 101 and names[:2] == ["ApplyEyeMakeup", "ApplyLipstick"]
    sizes = {}
    for split in ("train", "validation", "test", "train+validation"):
        data = load(name, split, frames=5, size=16, tfds_data_dir=tfds_dir,
                    validation_fraction=0.25)
        assert data.element_spec[0].shape == (5, 16, 16, 3)
        got = list(data.as_numpy_iterator())
        sizes[split] = len(got)
        for clip, label in got:
            assert clip.dtype == np.uint8 and 0 <= label < 4
            found = indices_of(clip)
            count = int(round(found.max())) + 1
            expected = sample_like_read_clip(count, 5)
            np.testing.assert_allclose(found, expected, atol=0.3)
    assert sizes == {"train": 6, "validation": 2, "test": 3, "train+validation": 8}
    assert "repeated the last frame" in capsys.readouterr().err


def sample_like_read_clip(count: int, frames: int) -> np.ndarray:
    if count < frames:
        return np.concatenate([np.arange(count), np.full(frames - count, count - 1)])
    return np.floor((np.arange(frames) + 0.5) * count / frames)


def test_tfds_not_prepared(tmp_path):
    if shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is installed: an unprepared builder would start its download")
    with pytest.raises(LayoutError, match=r"tfds:ucf101: not prepared in .*needs the ffmpeg "
                                          "program"):
        load("tfds:ucf101", "train", tfds_data_dir=tmp_path)


def test_tfds_clip_conversion_matches_files(tmp_path):
    import tensorflow as tf

    video = _tfds_video(20)
    encoded = [tf.io.encode_jpeg(frame, quality=95).numpy() for frame in video]
    clip, notes = tfds_clip(encoded, frames=8, size=16)
    assert clip.shape == (8, 16, 16, 3) and notes == []
    np.testing.assert_allclose(indices_of(clip), [1, 3, 6, 8, 11, 13, 16, 18], atol=0.3)
    clip, notes = tfds_clip(encoded[:3], frames=4, size=16, stride=2)
    np.testing.assert_allclose(indices_of(clip), [0, 2, 2, 2], atol=0.3)
    assert notes == ["only 3 frames: 2 of 4 samples at stride 2; repeated the last frame "
                     "2 times"]
    png = [tf.io.encode_png(frame).numpy() for frame in video[:2]]
    assert tfds_clip(png, frames=2, size=16)[0].shape == (2, 16, 16, 3)
    with pytest.raises(VideoError, match=r"^ex: frame 1 does not decode"):
        tfds_clip([encoded[0], b"\xff\xd8garbage"], frames=2, size=16, name="ex")
    with pytest.raises(VideoError, match="^ex: zero frames"):
        tfds_clip([], name="ex")


def test_tfds_split_strings():
    assert tfds_split("train", 100, 0.15) == "train[:85]"
    assert tfds_split("validation", 100, 0.15) == "train[85:]"
    assert tfds_split("test", 100, 0.15) == "test"
    assert tfds_split("train+validation", 100, 0.15) == "train"
    with pytest.raises(ValueError, match="no validation examples"):
        tfds_split("validation", 100, 0)
