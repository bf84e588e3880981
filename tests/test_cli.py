"""The command line: every command end to end on a tiny adding-problem run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnnzoo.cli import main

TINY = ["--kind", "lstm", "--length", "8", "--units", "4", "--train-size", "256",
        "--epochs", "2", "--batch-size", "32", "--quiet"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One tiny training run shared by the tests that need a preset."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "adding", *TINY, "--out", str(out)]) == 0
    return out


def test_version_is_printed_quickly():
    result = subprocess.run([sys.executable, "-m", "rnnzoo", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("rnnzoo ")


def test_help_of_every_command(capsys):
    for command in ("list", "info", "train", "evaluate", "export", "predict", "diagnose", "bench",
                    "data"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: rnnzoo " + command in capsys.readouterr().out


def test_train_help_shows_the_task_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "adding", "--help"])
    out = capsys.readouterr().out
    assert "--kind" in out and "--length" in out


@pytest.mark.parametrize("argv, message", [
    (["bogus"], "invalid choice"),
    (["train", "adding"], "--out"),
    (["train", "adding", "--out", "x", "--epochs", "many"], "invalid int"),
    (["list", "--tasks", "--presets"], "not allowed"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["train", "no-such-task", "--out", "x"], "unknown task 'no-such-task'"),
    (["info", "adding-lsmt-nope"], "unknown preset"),
    (["evaluate", "/nonexistent/preset"], "nonexistent"),
    (["bench", "nope"], "unknown benchmark 'nope'"),
    (["predict", "adding-lstm", "x.wav"], "has no predict"),
    (["train", "adding", "--out", "x", "--ema", "1"], "--ema must be in [0, 1), got 1.0"),
])
def test_bad_input_exits_2_with_one_line_and_no_traceback(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_list_json(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    assert code == 0
    names = [row["name"] for row in json.loads(out)]
    assert {"adding-lstm", "adding-gru", "adding-simple"} <= set(names)
    code, out, _ = run_cli(capsys, "list", "--tasks", "--json")
    assert "adding" in [row["name"] for row in json.loads(out)]


def test_train_writes_run_folder_and_preset(trained_run):
    for name in ("preset/config.json", "preset/model.weights.h5", "preset/card.json",
                 "preset/card.md", "history.csv", "summary.json", "backup"):
        assert (trained_run / name).exists(), name
    card = json.loads((trained_run / "preset" / "card.json").read_text())
    assert card["name"] == "run"  # the run folder's name
    assert card["task"] == "adding" and card["data_options"]["length"] == 8
    assert card["split"] == "validation" and "mse" in card["metrics"]["keras"]
    assert card["training_command"].startswith("rnnzoo train adding")


def test_train_refuses_an_existing_run_folder_without_resume(capsys, trained_run):
    code, _, err = run_cli(capsys, "train", "adding", *TINY, "--out", str(trained_run))
    assert code == 2 and "--resume" in err


def test_evaluate_and_record_into_the_card(capsys, trained_run):
    code, out, _ = run_cli(capsys, "evaluate", str(trained_run), "--split", "test", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["split"] == "test" and 0.0 <= result["metrics"]["mse"] < 10.0
    code, _, _ = run_cli(capsys, "evaluate", str(trained_run), "--split", "test", "--record")
    assert code == 0
    card = json.loads((trained_run / "preset" / "card.json").read_text())
    assert card["split"] == "test"
    assert card["metrics"]["keras"]["mse"] == pytest.approx(result["metrics"]["mse"])
    code, out, _ = run_cli(capsys, "info", str(trained_run))  # hashes still verify
    assert code == 0 and "adding" in out


def test_diagnose_prints_norms_and_writes_plot(capsys, trained_run, tmp_path):
    plot = tmp_path / "grads.png"
    code, out, _ = run_cli(capsys, "diagnose", str(trained_run), "--plot", str(plot), "--json")
    assert code == 0
    result = json.loads(out)
    assert len(result["norms"]) == 8 and all(n >= 0 for n in result["norms"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fine_tune_from_a_preset(capsys, trained_run, tmp_path):
    code, out, _ = run_cli(
        capsys,
        "train",
        "adding",
        "--from",
        str(trained_run),
        "--epochs",
        "1",
        "--train-size",
        "128",
        "--quiet",
        "--out",
        str(tmp_path / "ft"),
        "--json",
    )
    assert code == 0
    card = json.loads((tmp_path / "ft" / "preset" / "card.json").read_text())
    assert card["training"]["fine_tuned_from"] == str(trained_run)
    assert card["data_options"]["length"] == 8  # taken from the source preset's card


@pytest.mark.parametrize("name", ["layers", "train-throughput"])
def test_bench_quick_writes_json(capsys, tmp_path, name):
    out = tmp_path / f"{name}.json"
    code, printed, _ = run_cli(capsys, "bench", name, "--quick", "--out", str(out))
    assert code == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == name and result["machine"]["tensorflow"]
    if name == "layers":
        assert {(r["kind"], r["units"]) for r in result["results"]} == {
            (k, u) for k in ("simple", "lstm", "gru") for u in (128, 256)}
        assert all(r["ms_per_batch"] > 0 for r in result["results"])
    else:
        assert result["results"]["tf_data"]["steps_per_second"] > 0
        assert result["pipeline_over_in_memory"] > 0


def test_train_can_select_epochs_on_the_task_metric(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "train", "adding", *TINY, "--out", str(out),
                              "--select-on", "metric")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["selected_on"] == "val_mse"  # the adding task's metric, lower is better
    chosen = summary["history"]["val_mse"]
    assert len(chosen) == 2 and f"best val_mse {min(chosen):.4g}" in stdout


def test_train_with_a_weight_average_records_it_in_the_card(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "adding", *TINY, "--ema", "0.9", "--out", str(out)]) == 0
    card = json.loads((out / "preset" / "card.json").read_text())
    assert card["training"]["ema"] == 0.9


def test_info_abridges_long_config_lists(capsys):
    """sentiment-sst2's config holds a 10,000-word vocabulary: one short line, not 100 KB."""
    code, out, _ = run_cli(capsys, "info", "sentiment-sst2")
    builder = next(line for line in out.splitlines() if line.lstrip().startswith("builder"))
    assert code == 0 and "... 10,000 items" in builder and len(builder) < 400
    assert "'max_length': 64" in builder  # the scalars stay


def test_abridged_cuts_nested_lists_only_beyond_the_limit():
    from rnnzoo.commands.listing import abridged

    assert abridged({"a": list(range(8)), "b": [1, 2], "c": {"d": "x" * 3}}, items=3) == {
        "a": [0, 1, 2, "... 8 items"], "b": [1, 2], "c": {"d": "xxx"}}
