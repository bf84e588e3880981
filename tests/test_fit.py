"""Tests of the training runner (tasks/common/fit.py) and strategies (tasks/common/strategy.py).

Tiny adding problem (T=10, 8 LSTM units, a few hundred examples). Subprocess tests run
tests/fit_worker.py: one is SIGKILLed mid-epoch and resumed, two form a multi-worker cluster
on 127.0.0.1; each child has a timeout and is killed if the test fails.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tasks.adding.data import load
from tasks.common.fit import FitResult, fit, make_schedule
from tasks.common.optimizer import GlobalClipAdam
from tasks.common.strategy import get_strategy, parse_tf_config
from zoo.adding import adding_lstm
from zoo.errors import RnnzooError

WORKER = Path(__file__).with_name("fit_worker.py")
LENGTH, UNITS = 10, 8


def build():
    return adding_lstm(length=LENGTH, units=UNITS)


def data(train_size=256, validation_size=64):
    return (load(split="train", length=LENGTH, size=train_size),
            load(split="validation", length=LENGTH, size=validation_size))


def weights_equal(a, b, atol=0.0):
    return len(a) == len(b) and all(np.allclose(x, y, rtol=0, atol=atol) for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------
# subprocess helpers


def _env(**extra) -> dict[str, str]:
    root = str(WORKER.parent.parent)  # import this checkout's packages even if not installed
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", PYTHONPATH=path)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def _children():
    """Track Popen children; kill whatever still runs when the block exits."""
    procs: list[subprocess.Popen] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _start(procs, log: Path, *args, env=None) -> subprocess.Popen:
    handle = log.open("w")
    proc = subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stdout=handle,
                            stderr=subprocess.STDOUT, env=env or _env(), cwd=WORKER.parent.parent)
    handle.close()
    procs.append(proc)
    return proc


def _finish(proc: subprocess.Popen, log: Path, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
        pytest.fail(f"{log.name} did not finish in {timeout} s:\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert proc.returncode == 0, f"{log.name} exited {proc.returncode}:\n{output[-3000:]}"
    return output


def _committed_epoch(out: Path) -> int:
    try:
        return json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# ---------------------------------------------------------------------------------------------
# (1) resume after SIGKILL


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    """Kill a run mid-epoch 2 of 4, resume it, and compare with an uninterrupted run.

    Each epoch's data order depends on (seed, epoch) only and the backup holds the optimizer
    state, so the resumed run repeats the uninterrupted one step for step: its step count is
    equal, and losses and weights agree to 1e-6 (on CPU they are in fact bit-identical).
    """
    epochs, steps_per_epoch = 4, 640 // 16
    common = ["--epochs", epochs, "--train-size", 640, "--batch-size", 16, "--seed", 7]
    with _children() as procs:
        reference = _start(procs, tmp_path / "reference.log", "--out", tmp_path / "reference",
                           "--weights-out", tmp_path / "reference.npz", *common)
        run = tmp_path / "run"
        victim = _start(procs, tmp_path / "killed.log", "--out", run,
                        "--weights-out", tmp_path / "killed.npz", "--sleep", 0.05, *common)
        deadline = time.monotonic() + 120
        while _committed_epoch(run) < 1:
            assert victim.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "epoch 1 was never committed"
            time.sleep(0.05)
        time.sleep(0.5)  # an epoch takes > 2 s with the per-batch sleep: kill mid-epoch 2
        assert victim.poll() is None, "the run finished before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = _committed_epoch(run)
        assert 1 <= killed_at < epochs
        assert not (tmp_path / "killed.npz").exists()

        resumed_log = tmp_path / "resumed.log"
        resumed = _start(procs, resumed_log, "--out", run, "--weights-out",
                         tmp_path / "resumed.npz", "--resume", *common)
        resumed_output = _finish(resumed, resumed_log, timeout=180)
        _finish(reference, tmp_path / "reference.log", timeout=180)

    assert f"resuming the run in {run} after epoch {killed_at}" in resumed_output
    assert "Epoch 1/4" not in resumed_output and f"Epoch {killed_at + 1}/4" in resumed_output
    ref_summary = json.loads((tmp_path / "reference" / "summary.json").read_text())
    run_summary = json.loads((run / "summary.json").read_text())
    assert (
        run_summary["optimizer_steps"] == ref_summary["optimizer_steps"] == epochs * steps_per_epoch
    )
    assert run_summary["epochs_completed"] == epochs
    np.testing.assert_allclose(run_summary["history"]["loss"], ref_summary["history"]["loss"],
                               rtol=1e-6)
    np.testing.assert_allclose(run_summary["history"]["val_loss"],
                               ref_summary["history"]["val_loss"], rtol=1e-6)
    ref_weights, run_weights = (
        np.load(tmp_path / "reference.npz"),
        np.load(tmp_path / "resumed.npz"),
    )
    for name in ref_weights.files:
        np.testing.assert_allclose(run_weights[name], ref_weights[name], rtol=0, atol=1e-6)
    with (run / "history.csv").open() as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == list(range(epochs))


# ---------------------------------------------------------------------------------------------
# (2) multi-worker


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_workers_finish_with_equal_weights(tmp_path):
    """Two MultiWorkerMirrored workers on 127.0.0.1 agree to 1e-6, and match (to 1e-5) one
    process training on the same global batches, gradient clipping included."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    args = ["--out", tmp_path / "run", "--strategy", "multiworker", "--epochs", 2,
            "--train-size", 320, "--batch-size", 8]
    with _children() as procs:
        workers = []
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            log = tmp_path / f"worker-{index}.log"
            workers.append((_start(procs, log, *args, "--weights-out", tmp_path / f"w{index}.npz",
                                   env=_env(TF_CONFIG=tf_config)), log))
        for proc, log in workers:
            _finish(proc, log, timeout=200)

    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert w0.files == w1.files and w0.files
    for name in w0.files:
        np.testing.assert_allclose(w0[name], w1[name], rtol=0, atol=1e-6)
    chief = json.loads((tmp_path / "run" / "summary.json").read_text())
    other = json.loads((tmp_path / "run" / "worker-1" / "summary.json").read_text())
    assert chief["optimizer_steps"] == other["optimizer_steps"] == 2 * (320 // 16)
    assert chief["history"] == other["history"]
    assert (tmp_path / "run" / "backup" / "training_metadata.json").exists()

    # The same global batches (2 x 8) in one process: same result.
    train, validation = data(320, 64)
    single = fit(build, train, validation, out_dir=tmp_path / "single", loss="mse", epochs=2,
                 batch_size=16, learning_rate=1e-2, seed=0, early_stopping_patience=None,
                 verbose=0, tensorboard=False)
    for name, value in zip(w0.files, single.model.get_weights()):
        np.testing.assert_allclose(w0[name], value, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# (3) early stopping


class _SpoilAfterFirstEpoch(keras.callbacks.Callback):
    """Records the initial weights and makes every prediction 100 from epoch 2 on."""

    def on_train_begin(self, logs=None):
        self.initial = self.model.get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= 1:
            bias = self.model.get_layer("sum").bias
            bias.assign(np.full(bias.shape, 100.0, np.float32))


def test_early_stopping_stops_and_restores_best_weights(tmp_path, capsys):
    train, validation = data(128, 32)
    spoil = _SpoilAfterFirstEpoch()
    result = fit(build, train, validation, out_dir=tmp_path, loss="mse", epochs=6,
                 batch_size=32, learning_rate=0.0, early_stopping_patience=1, verbose=0,
                 tensorboard=False, callbacks=[spoil])
    assert result.stopped_early
    assert result.epochs_completed == 2 < 6
    assert result.optimizer_steps == 2 * 4
    val = result.history["val_loss"]
    assert val[1] > 100 * val[0]
    assert result.best_val_loss == pytest.approx(val[0])
    assert weights_equal(result.model.get_weights(), spoil.initial)  # epoch 1's weights
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == result.summary_line() and line.endswith("(epoch 1); early stop: yes")

    # Resuming a finished run trains nothing and gives back the same model.
    again = fit(build, train, validation, out_dir=tmp_path, loss="mse", epochs=6,
                batch_size=32, learning_rate=0.0, early_stopping_patience=1, verbose=0,
                tensorboard=False, resume=True)
    assert again.stopped_early and again.epochs_completed == 2
    assert again.optimizer_steps == result.optimizer_steps
    assert again.history == result.history
    assert weights_equal(again.model.get_weights(), spoil.initial)


def test_early_stopping_patience_survives_a_resume(tmp_path):
    """Patience 1, constant validation loss: the first run's epoch is the best; after resuming
    the next epoch exhausts the patience (a fresh EarlyStopping would train two more)."""
    train, validation = data(128, 32)
    kwargs = dict(loss="mse", batch_size=32, learning_rate=0.0, early_stopping_patience=1,
                  verbose=0, tensorboard=False)
    fit(build, train, validation, out_dir=tmp_path, epochs=1, **kwargs)
    resumed = fit(build, train, validation, out_dir=tmp_path, epochs=5, resume=True, **kwargs)
    assert resumed.stopped_early and resumed.epochs_completed == 2


def test_selection_on_a_validation_figure_picks_checkpoints_and_stops(tmp_path, capsys):
    """A scripted figure (higher is better) peaks at epoch 2 while val_loss keeps falling:
    the run stops after two epochs without a new best, and the kept weights, best.weights.h5
    and the summary are epoch 2's."""
    from tasks.common.selection import Selection

    train, validation = data(128, 32)
    scores, seen = iter([0.5, 0.9, 0.7, 0.6, 0.99]), []

    def score(model):
        seen.append([w.copy() for w in model.get_weights()])
        return next(scores)

    result = fit(build, train, validation, out_dir=tmp_path, loss="mse", epochs=8,
                 batch_size=32, learning_rate=1e-2, early_stopping_patience=2, verbose=0,
                 tensorboard=False, selection=Selection("score", score, True))
    assert result.stopped_early and result.epochs_completed == 4
    assert result.history["val_score"] == [0.5, 0.9, 0.7, 0.6]
    assert not weights_equal(seen[1], seen[3])
    assert weights_equal(result.model.get_weights(), seen[1])
    best = build()
    best.load_weights(tmp_path / "best.weights.h5")
    assert weights_equal(best.get_weights(), seen[1])
    with open(tmp_path / "history.csv") as f:
        assert [float(r["val_score"]) for r in csv.DictReader(f)] == [0.5, 0.9, 0.7, 0.6]
    out = capsys.readouterr().out
    assert "epoch 2: val_score 0.9" in out
    assert result.summary_line().endswith("best val_score 0.9 (epoch 2); early stop: yes")
    assert json.loads((tmp_path / "summary.json").read_text())["selected_on"] == "val_score"
    with pytest.raises(ValueError, match="needs validation data"):
        fit(build, train, None, out_dir=tmp_path / "b", loss="mse", epochs=1, batch_size=32,
            verbose=0, tensorboard=False, selection=Selection("score", score, True))


# ---------------------------------------------------------------------------------------------
# (4) gradient clipping


def _first_moment_norm(clipnorm, tmp_path) -> tuple[float, keras.optimizers.Optimizer]:
    """One Adam step on a batch with huge targets; Adam's first moment after one step is
    (1 - beta_1) times the gradient it applied."""
    train, _ = data(32, 8)
    huge = train.map(lambda x, y: (x, y * 1e4))
    kwargs = {} if clipnorm == "default" else {"clipnorm": clipnorm}
    result = fit(build, huge, None, out_dir=tmp_path, loss="mse", epochs=1, batch_size=32,
                 early_stopping_patience=None, verbose=0, tensorboard=False, **kwargs)
    optimizer = result.model.optimizer
    assert result.optimizer_steps == 1
    moments = [np.asarray(m) for m in optimizer._momentums]
    return float(np.sqrt(sum(np.sum(m**2) for m in moments))), optimizer


def test_gradient_clipping_is_on_by_default_and_bounds_the_update(tmp_path):
    norm, optimizer = _first_moment_norm("default", tmp_path / "clipped")
    assert isinstance(optimizer, GlobalClipAdam) and isinstance(optimizer, keras.optimizers.Adam)
    assert optimizer.global_clipnorm == 1.0
    assert norm <= (1 - optimizer.beta_1) * 1.0 + 1e-6
    unclipped, optimizer = _first_moment_norm(None, tmp_path / "unclipped")
    assert optimizer.global_clipnorm is None
    assert unclipped > 100 * norm  # the batch really has a huge gradient


# ---------------------------------------------------------------------------------------------
# (5) run folder: logs, summary, refusal, resume rules


def test_run_folder_logs_summary_and_refusal(tmp_path, capsys):
    train, validation = data()
    out = tmp_path / "run"
    result = fit(build, train, validation, out_dir=out, loss="mse", epochs=2, batch_size=32,
                 warmup_steps=3, early_stopping_patience=None, verbose=0)
    assert isinstance(result, FitResult)
    assert result.epochs_completed == 2 and result.optimizer_steps == 2 * (256 // 32)
    assert not result.stopped_early and result.out_dir == out

    with (out / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    np.testing.assert_allclose([float(row["val_loss"]) for row in rows], result.history["val_loss"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(result.to_json()))
    assert set(summary) == {"history", "epochs_completed", "optimizer_steps", "seconds",
                            "best_val_loss", "stopped_early", "out_dir", "selected_on"}
    assert summary["best_val_loss"] == pytest.approx(min(result.history["val_loss"]))
    assert (out / "best.weights.h5").is_file()
    state = json.loads((out / "backup" / "training_metadata.json").read_text())
    assert state["epoch"] == 2 and state["optimizer_steps"] == result.optimizer_steps
    assert state["finished"] and (out / "backup" / state["weights"]).is_file()
    output = capsys.readouterr()
    assert re.fullmatch(r"trained 2 epochs \(16 steps\) in \d+\.\d s; best val_loss \S+ "
                        r"\(epoch \d\); early stop: no", output.out.strip().splitlines()[-1])
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert "tensorboard package is not installed" in output.err
    else:
        events = list((out / "logs").rglob("events.out.tfevents.*"))
        assert {path.parent.name for path in events} == {"train", "validation"}

    with pytest.raises(RnnzooError, match="run folder exists.*--resume"):
        fit(build, train, validation, out_dir=out, loss="mse", epochs=2, batch_size=32)
    with pytest.raises(RnnzooError, match="steps per epoch"):
        fit(build, train, validation, out_dir=out, loss="mse", epochs=3, batch_size=64,
            resume=True, verbose=0)

    # --resume where there is nothing to resume starts a new run, with a note.
    fresh = fit(build, train, None, out_dir=tmp_path / "fresh", loss="mse", epochs=1,
                batch_size=64, resume=True, verbose=0, tensorboard=False)
    assert fresh.optimizer_steps == 4 and fresh.best_val_loss is None
    assert "no backup" in capsys.readouterr().err


def test_resume_extends_a_finished_run(tmp_path):
    train, validation = data()
    first = fit(build, train, validation, out_dir=tmp_path, loss="mse", epochs=1,
                batch_size=64, early_stopping_patience=None, verbose=0, tensorboard=False)
    more = fit(build, train, validation, out_dir=tmp_path, loss="mse", epochs=3,
               batch_size=64, early_stopping_patience=None, verbose=0, tensorboard=False,
               resume=True)
    assert more.epochs_completed == 3 and more.optimizer_steps == 3 * 4
    assert more.history["loss"][0] == first.history["loss"][0]
    with (tmp_path / "history.csv").open() as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# (6) determinism, schedules, strategies, summary line


def test_same_seed_gives_identical_weights(tmp_path):
    train, validation = data(128, 32)

    def run(name, seed):
        return fit(build, train, validation, out_dir=tmp_path / name, loss="mse", epochs=2,
                   batch_size=32, seed=seed, verbose=0, tensorboard=False).model.get_weights()

    first, second, other = run("a", 3), run("b", 3), run("c", 4)
    assert weights_equal(first, second)
    assert not weights_equal(first, other, atol=1e-4)


def test_schedules():
    cosine = make_schedule("cosine", 1e-2, total_steps=100, warmup_steps=10)
    assert float(cosine(0)) == pytest.approx(0.0)
    assert float(cosine(10)) == pytest.approx(1e-2)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-8)
    assert 0 < float(cosine(55)) < 1e-2
    assert float(make_schedule("cosine", 1e-2, 100)(0)) == pytest.approx(1e-2)
    assert make_schedule("constant", 1e-3, 100) == 1e-3
    constant = make_schedule("constant", 1e-3, 100, warmup_steps=4)
    assert float(constant(2)) == pytest.approx(5e-4) and float(constant(90)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="schedule"):
        make_schedule("step", 1e-3, 100)


def test_mirrored_strategy_trains(tmp_path):
    train, _ = data(128, 32)
    result = fit(build, train, None, out_dir=tmp_path, loss="mse", epochs=1, batch_size=32,
                 strategy="mirrored", verbose=0, tensorboard=False)
    replicas = get_strategy("mirrored").num_replicas_in_sync
    assert result.optimizer_steps == 128 // (32 * replicas)


@pytest.mark.parametrize("value, message", [
    (None, "needs the TF_CONFIG"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no 'cluster'"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', "TF_CONFIG has no 'task'"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}',
     "not in the cluster"),
])
def test_multiworker_needs_a_valid_tf_config(monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(RnnzooError, match=re.escape(message)):
        get_strategy("multiworker")


def test_strategy_names():
    assert get_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(RnnzooError, match="unknown strategy"):
        get_strategy("tpu")
    config = parse_tf_config('{"cluster": {"worker": ["a:1", "b:2"]}, '
                             '"task": {"type": "worker", "index": 1}}')
    assert config["task"]["index"] == 1


def test_summary_line_format(tmp_path):
    history = {"loss": [0.1] * 12, "val_loss": [0.01] * 10 + [0.0042, 0.005]}
    result = FitResult(model=None, history=history, epochs_completed=12, optimizer_steps=1872,
                       seconds=93.12, best_val_loss=0.0042, stopped_early=False, out_dir=tmp_path)
    assert result.summary_line() == ("trained 12 epochs (1,872 steps) in 93.1 s; "
                                     "best val_loss 0.0042 (epoch 11); early stop: no")
    no_validation = FitResult(model=None, history={"loss": [0.5]}, epochs_completed=1,
                              optimizer_steps=3, seconds=1.0, best_val_loss=None,
                              stopped_early=True, out_dir=tmp_path)
    assert no_validation.summary_line() == ("trained 1 epoch (3 steps) in 1.0 s; "
                                            "final loss 0.5; early stop: yes")


def test_bad_arguments_are_refused(tmp_path):
    train, _ = data(64, 8)
    for kwargs, message in [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
                            ({"clipnorm": 0.0}, "clipnorm"), ({"schedule": "step"}, "schedule"),
                            ({"learning_rate": float("nan")}, "learning_rate")]:
        with pytest.raises(ValueError, match=message):
            fit(build, train, None, out_dir=tmp_path, loss="mse", **kwargs)
    with pytest.raises(RnnzooError, match="fewer than one batch"):
        fit(build, train, None, out_dir=tmp_path, loss="mse", batch_size=128, verbose=0)
