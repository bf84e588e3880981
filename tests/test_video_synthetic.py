"""The procedural video actions (tasks.video.synthetic) and ``rnnzoo data``: tiny sizes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.cli import main
from tasks.video import figure, synthetic
from tasks.video.synthetic import ACTIONS, MOTION_PAIRS, clip_rng, render_clip, write_dataset

TINY = {"frames": (6, 9), "size": 32}


def decode(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("va") / "video-actions"
    summary = write_dataset(out, clips_per_class=2, seed=3, test_clips_per_class=1,
                            progress=False, **TINY)
    return out, summary


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_renders_uint8_frames_that_move(action):
    frames, motion = render_clip(action, 0, length=7, size=32, return_motion=True)
    assert frames.shape == (7, 32, 32, 3) and frames.dtype == np.uint8
    assert motion.joints.shape == (7, len(figure.JOINTS), 3) and motion.cadence > 0
    assert frames.std() > 5  # not a blank frame
    # the figure stands on the ground and never sinks below it
    assert motion.joints[..., 1].min() > -1e-6


def test_same_seed_same_frames_other_seed_other_frames():
    a = render_clip("walk", clip_rng(5, "walk", 0), length=8, size=32)
    b = render_clip("walk", clip_rng(5, "walk", 0), length=8, size=32)
    assert np.array_equal(a, b)
    for other in (clip_rng(6, "walk", 0), clip_rng(5, "walk", 1), clip_rng(5, "run", 0)):
        assert not np.array_equal(a, render_clip("walk", other, length=8, size=32))


def test_bad_render_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown action 'swim'"):
        render_clip("swim", 0)
    with pytest.raises(ValueError, match="even"):
        render_clip("walk", 0, size=33)
    with pytest.raises(ValueError, match="at least 2 frames"):
        render_clip("walk", 0, length=1)


def test_dataset_files_decode_to_the_listed_lengths_and_size(tiny_dataset):
    out, summary = tiny_dataset
    with (out / "clips.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(ACTIONS) * 3
    for row in rows[:: len(rows) // 6]:  # a few, to stay fast
        frames = decode(out / row["file"])
        assert frames.shape == (int(row["frames"]), 32, 32, 3)
        assert TINY["frames"][0] <= len(frames) <= TINY["frames"][1]
    assert summary["splits"]["train"]["clips"] == 2 * len(ACTIONS)


def test_split_lists_and_class_index_match_the_files(tiny_dataset):
    out, _ = tiny_dataset
    classes = [line.split() for line in (out / "classInd.txt").read_text().splitlines()]
    assert classes == [[str(i), a] for i, a in enumerate(ACTIONS, start=1)]
    train = [line.split() for line in (out / "trainlist01.txt").read_text().splitlines()]
    test = (out / "testlist01.txt").read_text().splitlines()
    assert len(train) == 2 * len(ACTIONS) and len(test) == len(ACTIONS)
    for path, label in train:
        action = path.split("/")[0]
        assert ACTIONS[int(label) - 1] == action
        assert Path(path).name.startswith(f"{action}_s3_")
    assert all(Path(p).name.split("_s")[1].startswith("1003_") for p in test)
    assert all(" " not in p for p in test)  # UCF101's test lists carry no labels
    listed = {p for p, _ in train} | set(test)
    on_disk = {str(p.relative_to(out)) for p in out.glob("*/*.mp4")}
    assert listed == on_disk and not {p for p, _ in train} & set(test)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["splits"]["train"]["seed"] == 3
    assert metadata["splits"]["test"]["seed"] == 1003
    assert "licence" in metadata and "no licence" in (out / "README.txt").read_text()


def test_test_seed_must_differ_and_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="test seed must differ"):
        write_dataset(tmp_path / "a", clips_per_class=1, seed=4, test_seed=4, progress=False)
    with pytest.raises(ValueError, match="clips_per_class"):
        write_dataset(tmp_path / "a", clips_per_class=0, progress=False)
    with pytest.raises(ValueError, match="even"):
        write_dataset(tmp_path / "a", clips_per_class=1, size=30 + 1, progress=False)
    assert not (tmp_path / "a").exists()


def test_a_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import tasks.video.encode as encode

    calls = []

    def failing(path, frames, fps=12.0):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return Path(path)

    monkeypatch.setattr(encode, "write_video", failing)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(tmp_path / "out", clips_per_class=2, progress=False, **TINY)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- motion pairs

def _frames(action: str, seed: int, clips: int = 16) -> np.ndarray:
    """Single-frame joint angles ``[frames, angles]`` of ``clips`` clips."""
    names = figure.angle_names()
    poses = []
    for i in range(clips):
        motion = synthetic.sample_motion(action, clip_rng(seed, action, i), length=30)
        poses.append(np.stack([motion.pose[n] for n in names], axis=1))
    return np.concatenate(poses)


def _single_frame_accuracy(a: str, b: str) -> float:
    """Nearest-neighbour accuracy of single frames' joint angles, trained on one seed's
    clips and scored on another's."""
    train = [_frames(a, 1), _frames(b, 1)]
    test = [_frames(a, 2), _frames(b, 2)]
    x = np.concatenate(train)
    y = np.r_[np.zeros(len(train[0])), np.ones(len(train[1]))]
    right = 0
    for label, frames in enumerate(test):
        distances = ((frames[:, None, :] - x[None]) ** 2).sum(-1)
        right += int((y[distances.argmin(axis=1)] == label).sum())
    return right / sum(len(f) for f in test)


def test_single_frames_barely_tell_the_motion_pairs_apart():
    """The same single-frame classifier that separates other actions (control) is near
    chance on walk/run and well below it on the other pairs."""
    ceilings = {("walk", "run"): 0.6, ("wave-one-hand", "wave-two-hands"): 0.8,
                ("bend-down", "sit-down"): 0.82}
    assert set(ceilings) == set(MOTION_PAIRS)
    for pair, ceiling in ceilings.items():
        assert _single_frame_accuracy(*pair) < ceiling, pair
    for control in (("walk", "jumping-jack"), ("run", "jump-in-place"),
                    ("bend-down", "wave-one-hand")):
        assert _single_frame_accuracy(*control) > 0.95, control


def _motions(action: str, clips: int = 24, length: int = 30) -> list[synthetic.Motion]:
    return [synthetic.sample_motion(action, clip_rng(9, action, i), length=length)
            for i in range(clips)]


def _stride_hz(motion: synthetic.Motion) -> float:
    """The main frequency of the legs' swing (from the joint angles, not the parameters)."""
    swing = motion.pose["l_thigh_flex"] - motion.pose["r_thigh_flex"]
    spectrum = np.abs(np.fft.rfft((swing - swing.mean()) * np.hanning(swing.size), 4096))
    return float(np.fft.rfftfreq(4096, 1 / motion.fps)[spectrum.argmax()])


def test_walk_and_run_share_poses_but_not_cadence():
    walk, run = _motions("walk"), _motions("run")
    bins = np.linspace(-100, 160, 27)
    for angle in ("l_thigh_flex", "l_shin_flex", "l_upper_flex", "l_fore_flex"):
        h_walk = np.histogram(np.concatenate([m.pose[angle] for m in walk]), bins)[0]
        h_run = np.histogram(np.concatenate([m.pose[angle] for m in run]), bins)[0]
        overlap = np.minimum(h_walk / h_walk.sum(), h_run / h_run.sum()).sum()
        assert overlap > 0.75, (angle, overlap)
    assert max(map(_stride_hz, walk)) + 0.1 < min(map(_stride_hz, run))
    speed = {a: [m.params["speed"] for m in ms] for a, ms in (("walk", walk), ("run", run))}
    assert np.median(speed["run"]) > 1.5 * np.median(speed["walk"])


def test_only_the_second_arm_s_motion_tells_one_hand_from_two():
    def still_arm(motion):  # how much the stiller forearm moves
        return min(motion.pose["l_fore_abd"].std(), motion.pose["r_fore_abd"].std())

    def raised(motion):
        return min(motion.pose["l_upper_abd"].mean(), motion.pose["r_upper_abd"].mean()) > 90

    one, two = _motions("wave-one-hand"), _motions("wave-two-hands")
    assert max(map(still_arm, one)) < 4 < min(map(still_arm, two))
    assert all(map(raised, two))
    assert 0.3 < np.mean([raised(m) for m in one]) < 0.9  # both arms up in many clips


def test_bend_comes_back_up_and_sit_stays_down():
    def left_at_the_end(motion):  # after the first time near the bottom, how far up again
        depth = motion.pose["lean"] + sum(motion.pose[f"{s}_thigh_flex"]
                                          - motion.pose[f"{s}_shin_flex"] for s in "lr") / 2
        bottom = np.argmax(depth >= 0.9 * depth.max())
        return depth[bottom:].min() / depth.max()

    for length in synthetic.FRAMES:
        bend, sit = _motions("bend-down", length=length), _motions("sit-down", length=length)
        assert max(map(left_at_the_end, bend)) < 0.2 < 0.6 < min(map(left_at_the_end, sit))
        assert all(m.progress[0] < 0.05 and m.progress[-1] > 0.99 for m in sit)


def test_cadences_survive_sampling_16_frames_from_the_longest_clip():
    """Run's fastest step rate folded about the Nyquist rate of 16 frames spread over the
    longest default clip stays above walk's fastest."""
    sampled_fps = 16 * synthetic.FPS / synthetic.FRAMES[1]
    assert synthetic.GAIT_STEPS["run"][1] + synthetic.GAIT_STEPS["walk"][1] < sampled_fps


def test_uniform_sampling_keeps_walk_and_run_apart():
    """Sampling a fixed number of frames over a clip scales its duration away, so the strides
    a whole clip shows must differ: walk in the longest clip against run in the shortest (this
    failed with clips of 24-40 frames)."""
    shortest, longest = synthetic.FRAMES
    walk = [_stride_hz(m) * longest / m.fps for m in _motions("walk", length=longest)]
    run = [_stride_hz(m) * shortest / m.fps for m in _motions("run", length=shortest)]
    assert max(walk) < min(run), (max(walk), min(run))


# ----------------------------------------------------------------------------- command line

def test_data_command_lists_writes_and_refuses_an_existing_folder(tmp_path, capsys):
    assert main(["data"]) == 0
    assert "video-actions" in capsys.readouterr().out
    out = tmp_path / "va"
    argv = ["data", "video-actions", "--out", str(out), "--clips-per-class", "1", "--seed", "2",
            "--test-clips-per-class", "1", "--frames", "4-5", "--size", "16"]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["splits"]["test"]["seed"] == 1002 and "walk" in captured.err
    assert len(list(out.glob("*/*.mp4"))) == 2 * len(ACTIONS)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert main([*argv, "--overwrite", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main([*argv[:2], "--out", str(foreign), "--overwrite", *argv[4:]]) == 2
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("argv, message", [
    (["data", "bogus"], "invalid choice"),
    (["data", "video-actions"], "--out"),
    (["data", "video-actions", "--out", "x", "--clips-per-class", "0"], "positive integer"),
    (["data", "video-actions", "--out", "x", "--frames", "9-3"], "shortest first"),
    (["data", "video-actions", "--out", "x", "--size", "31"], "even"),
    (["data", "video-actions", "--out", "x", "--test-seed", "0"], "must differ"),
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
