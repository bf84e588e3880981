"""The video-actions task end to end on a tiny generated dataset: train, predict, export,
evaluate the exported files, as a user would from the command line."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import tasks
from rnnzoo.cli import main
from tasks.video.synthetic import ACTIONS, write_dataset

SIZE, FRAMES = 32, 8
TINY = ["--frames", str(FRAMES), "--size", str(SIZE), "--filters", "4", "8", "--units", "8",
        "--epochs", "1", "--batch-size", "4", "--quiet"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("video") / "actions"
    write_dataset(root, clips_per_class=4, seed=3, test_clips_per_class=1, size=SIZE,
                  frames=(10, 14), progress=False)
    return root


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_task_is_registered_and_loads_the_folder(dataset):
    task = tasks.get_task("video-actions")
    data = task.load(str(dataset), "train", frames=FRAMES, size=SIZE)
    clips = list(data.as_numpy_iterator())
    assert clips and all(x.shape == (FRAMES, SIZE, SIZE, 3) and x.dtype == np.uint8
                         for x, _ in clips)
    test = list(task.load(str(dataset), "test", frames=FRAMES, size=SIZE).as_numpy_iterator())
    assert sorted(int(y) for _, y in test) == list(range(len(ACTIONS)))
    samples = task.representative(str(dataset), 5, frames=FRAMES, size=SIZE)
    assert len(samples) == 5 and samples[0].shape == (1, FRAMES, SIZE, SIZE, 3)


@pytest.mark.slow
def test_train_predict_export_evaluate_from_the_command_line(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "video-actions", "--data", str(dataset),
                           "--out", str(run), *TINY)
    assert code == 0, err
    card = json.loads((run / "preset" / "card.json").read_text())
    assert card["task"] == "video-actions"
    assert json.loads((run / "preset" / "config.json").read_text())["config"]["labels"] == \
        list(ACTIONS)

    clip = next((dataset / "walk").glob("*.mp4"))
    strip = tmp_path / "strip.png"
    code, out, err = run_cli(capsys, "predict", str(run), str(clip), "--plot", str(strip),
                             "--stream")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith(f"{clip}: ") and first.count(",") == 2  # the top 3 actions
    assert sum(bool(re.match(r"\s+frame +\d+: ", line)) for line in out.splitlines()) == FRAMES
    assert strip.stat().st_size > 1000

    out_dir = tmp_path / "export"
    code, _, err = run_cli(capsys, "export", str(run), "--out", str(out_dir), "--data",
                           str(dataset), "--format", "tflite", "--quantize", "fp32,int8")
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    kinds = {(e["kind"], e["quantize"]) for e in report["artifacts"]}
    assert kinds == {("sequence", "fp32"), ("sequence", "int8"), ("step", "fp32"),
                     ("step", "int8")}
    for entry in report["artifacts"]:
        assert entry["metric"] is not None, entry["notes"]
        if entry["quantize"] == "fp32":
            assert entry["max_abs_diff"] < 1e-4
    code, out, err = run_cli(capsys, "evaluate", str(out_dir), "--data", str(dataset),
                             "--split", "test", "--json")
    assert code == 0, err
    assert {r["quantize"] for r in json.loads(out)} == {"fp32", "int8"}


def test_predict_names_a_file_that_is_not_a_video(dataset, tmp_path, capsys):
    from zoo import build, save

    model = build("video-lrcn", labels=list(ACTIONS), frames=FRAMES, size=SIZE, filters=[4],
                  units=4)
    preset = save(model, tmp_path / "preset", card={"task": "video-actions", "metrics": {}})
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    code, _, err = run_cli(capsys, "predict", str(preset), str(bad))
    assert code == 2 and err.count("\n") == 1 and "notes.mp4" in err
