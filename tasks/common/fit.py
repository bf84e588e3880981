"""The one training path every task uses: `fit`.

A run folder (``out_dir``) holds::

    backup/              resume state, committed at the end of every epoch (model + optimizer
                         weights, epoch, history, early-stopping state, elapsed time)
    best.weights.h5      the best epoch so far (val_loss, or loss without validation data)
    history.csv          one row per epoch (Keras CSVLogger)
    logs/                TensorBoard
    summary.json         the `FitResult` fields (without the model), written at the end

Resume (``resume=True``) continues from the last completed epoch: the optimizer state (and so
its step count and the learning-rate schedule position) comes back with the weights, and the
input pipeline restarts at that epoch with the same shuffle order an uninterrupted run has
(each epoch's order is a function of ``seed`` and the epoch number only). With the same seed a
resumed run therefore takes the same optimizer steps on the same batches as an uninterrupted
one (on CPU the result is bit for bit the same; ``deterministic=True`` adds TF's op
determinism for GPUs).

Batch size is per replica: a step sees ``batch_size * strategy.num_replicas_in_sync``
examples, and the learning-rate schedule counts those global steps.

Keras 3 caveats handled here (keras 3.15, TF 2.21):

* ``keras.callbacks.BackupAndRestore`` writes the weights and then ``training_metadata.json``
  in place, so a SIGKILL between the two leaves weights of epoch k+1 with metadata of epoch k
  (a resumed run then takes one epoch of extra steps); and it does not keep the state of the
  other callbacks (EarlyStopping's patience count and best weights, ModelCheckpoint's best
  value) or the history of earlier sessions. `RunBackup` subclasses it: each epoch's weights go
  to a new file, and the metadata, renamed into place atomically, is the commit point.
  The state is restored by `fit` *before* ``model.fit`` (not in ``on_train_begin``), because
  the input pipeline must already know the epoch to start from.
* ``global_clipnorm`` is applied per replica, before the gradients are summed over replicas;
  `GlobalClipAdam` clips the summed gradient instead.
* ``model.fit`` under ``MultiWorkerMirroredStrategy`` fails in two places (see
  `_multiworker_keras_fixes`); both are worked around for the duration of the call.
* Keras 3 callbacks have no notion of a chief, and writing ``.weights.h5`` files involves no
  collective op, so every worker runs the same callbacks (they must: validation and the
  epoch's metrics are collectives) but only the chief writes into ``out_dir``; worker *i*
  writes to ``out_dir/worker-<i>/`` (the TF multi-worker guide's rule that other workers write
  to temporary places). On resume a worker reads the chief's ``backup/`` when it can see it
  (shared file system) and its own otherwise. The strategy has to exist before any
  TensorFlow op runs, see `tasks.common.strategy`.
* TensorBoard logs need the ``tensorboard`` package, which TF 2.21 no longer installs; without
  it the logs are skipped with a note (Keras' callback would fail at the first epoch end).
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tasks.common.adversarial import AdversarialEmbeddings
from tasks.common.atomic_files import write_json_atomic
from tasks.common.callbacks import (
    METADATA,
    AtomicModelCheckpoint,
    ResumableEarlyStopping,
    RunBackup,
    _to_numpy,
)
from tasks.common.finetune import LayerSchedule
from tasks.common.optimizer import GlobalClipAdam
from tasks.common.seeding import seed_everything
from tasks.common.selection import Selection, SelectionCallback
from tasks.common.strategy import get_strategy, worker_info
from tasks.common.weight_average import average_callbacks, check_momentum
from zoo.errors import RnnzooError

SCHEDULES = ("cosine", "constant")
_RUN_FILES = ("backup", "best.weights.h5", "history.csv", "summary.json")


@dataclass
class FitResult:
    """What a training run produced. ``history`` covers every epoch, resumed ones included;
    ``seconds`` is the training time summed over all sessions of the run."""

    model: keras.Model
    history: dict[str, list[float]]
    epochs_completed: int
    optimizer_steps: int
    seconds: float
    best_val_loss: float | None
    stopped_early: bool
    out_dir: Path
    selection_key: str | None = None  # the figure the best epoch was chosen on (None: loss)
    higher_is_better: bool = False

    def summary_line(self) -> str:
        """One line, e.g. ``trained 12 epochs (1,872 steps) in 93.1 s; best val_loss 0.0042
        (epoch 11); early stop: no``."""
        epochs = f"{self.epochs_completed} epoch{'s' if self.epochs_completed != 1 else ''}"
        line = f"trained {epochs} ({self.optimizer_steps:,} steps) in {self.seconds:.1f} s"
        chosen = self.history.get(self.selection_key or "") or []
        if chosen:
            pick = np.nanargmax if self.higher_is_better else np.nanargmin
            best_epoch = 1 + int(pick(chosen))
            line += (f"; best {self.selection_key} {chosen[best_epoch - 1]:.4g} "
                     f"(epoch {best_epoch})")
        elif self.best_val_loss is not None:
            best_epoch = 1 + int(np.nanargmin(self.history["val_loss"]))
            line += f"; best val_loss {self.best_val_loss:.4g} (epoch {best_epoch})"
        elif self.history.get("loss"):
            line += f"; final loss {self.history['loss'][-1]:.4g}"
        return line + f"; early stop: {'yes' if self.stopped_early else 'no'}"

    def to_json(self) -> dict[str, Any]:
        """The fields except ``model``, JSON-ready (what ``summary.json`` holds)."""
        return {"history": self.history, "epochs_completed": self.epochs_completed,
                "optimizer_steps": self.optimizer_steps, "seconds": round(self.seconds, 3),
                "best_val_loss": self.best_val_loss, "stopped_early": self.stopped_early,
                "out_dir": str(self.out_dir), "selected_on": self.selection_key or "val_loss"}


def make_schedule(schedule: str, learning_rate: float, total_steps: int,
                  warmup_steps: int = 0) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate for Adam: ``cosine`` decays to 0 over ``total_steps`` (after a linear
    warmup from 0 over ``warmup_steps``); ``constant`` stays at ``learning_rate`` (after the
    same warmup)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    if schedule == "constant" and not warmup_steps:
        return float(learning_rate)
    decay_steps = max(1, total_steps - warmup_steps)
    alpha = 1.0 if schedule == "constant" else 0.0  # alpha=1: the "decay" keeps the rate
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps, alpha=alpha, warmup_target=float(learning_rate),
            warmup_steps=warmup_steps)
    return keras.optimizers.schedules.CosineDecay(float(learning_rate), decay_steps, alpha=alpha)


def fit(build_model: Callable[[], keras.Model], train: tf.data.Dataset,
        validation: tf.data.Dataset | None, *, out_dir: str | Path, loss: Any,
        metrics: Sequence = (), epochs: int = 10, batch_size: int = 64,
        learning_rate: float = 1e-3, schedule: str = "cosine", warmup_steps: int = 0,
        clipnorm: float | None = 1.0, early_stopping_patience: int | None = 5,
        resume: bool = False, seed: int = 0,
        strategy: str | tf.distribute.Strategy = "default", shuffle_buffer: int = 10_000,
        verbose: int | str = "auto", tensorboard: bool = True, deterministic: bool = False,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        selection: Selection | None = None,
        layer_schedule: LayerSchedule | None = None,
        adversarial: float = 0.0, ema: float | None = None) -> FitResult:
    """Train the model that ``build_model()`` returns and write a run folder in ``out_dir``.

    Args:
        build_model: returns a new (or preset-loaded, for fine-tuning) ``keras.Model``; called
            inside the strategy scope, and compiled here.
        train, validation: *unbatched* ``(inputs, targets)`` datasets. Training data is
            cached, shuffled per epoch (seeded), batched with ``drop_remainder`` so every epoch
            has the same number of steps, and prefetched.
        out_dir: the run folder. One that already holds a run is refused unless ``resume``.
        loss, metrics: passed to ``model.compile``.
        epochs: total epochs of the run (a resumed run trains the missing ones).
        batch_size: per replica; a step sees ``batch_size * num_replicas_in_sync`` examples.
        learning_rate, schedule, warmup_steps: Adam's rate; see `make_schedule`.
        clipnorm: clip the global norm of all gradients to this value (None: no clipping).
        early_stopping_patience: epochs without improvement of val_loss (loss without
            validation data) before stopping; the best epoch's weights are restored. None
            disables early stopping.
        resume: continue the run in ``out_dir`` from its last completed epoch; a finished run
            is returned without training, unless ``epochs`` is larger than before (then it is
            extended, with the schedule stretched over the new total); with no backup a new
            run starts. Data and batch size must give the same steps per epoch as before.
        seed: seeds weights, shuffling and dropout. ``deterministic`` also turns on
            TensorFlow's op determinism (process-wide, see `seed_everything`).
        strategy: ``default``, ``mirrored``, ``multiworker`` or a `tf.distribute.Strategy`.
        shuffle_buffer: size of the shuffle buffer (examples).
        verbose: Keras progress output (``"auto"``, 0, 1, 2).
        tensorboard: write TensorBoard logs to ``out_dir/logs``.
        callbacks: extra Keras callbacks, run before the run's own ones.
        selection: choose the best epoch (checkpoint, early stopping, restored weights) on
            this validation figure, computed at every epoch end, instead of val_loss.
        layer_schedule: gradual unfreezing and discriminative learning rates of pretrained
            layers (`tasks.common.finetune`); None: every layer at the same rate throughout.
        adversarial: > 0: also train on adversarially perturbed word embeddings, within this
            fraction of their norm (`tasks.common.adversarial`; models with one token-id
            input and a layer named ``embedding``); the returned model is the plain one.
        ema: keep an exponential moving average of the weights with this momentum (e.g.
            0.999); the average is validated, checkpointed, chosen by early stopping and
            returned (`tasks.common.weight_average`). None: the raw weights.

    Returns:
        a `FitResult`; its `FitResult.summary_line` is also printed on stdout.
    """
    _check_arguments(epochs, batch_size, learning_rate, schedule, warmup_steps, clipnorm,
                     early_stopping_patience, shuffle_buffer)
    check_momentum(ema)
    if isinstance(strategy, str):
        strategy = get_strategy(strategy)
    run = _open_run(Path(out_dir), strategy, resume)
    seed_everything(seed, deterministic=deterministic)
    cached_train = train.cache()
    run_config = _run_config(cached_train, batch_size, strategy.num_replicas_in_sync, seed,
                             epochs)
    run_config["ema"] = ema
    if run.state is not None:
        _check_resumable(run.state, run_config, run.backup_dir)
    finished = run.finished(epochs)
    total_steps = max(epochs * run_config["steps_per_epoch"], 1)
    monitor = "val_loss" if validation is not None else "loss"
    mode = "min"
    if selection is not None:
        if validation is None:
            raise ValueError("selection on a validation figure needs validation data")
        monitor, mode = selection.key, selection.mode
        callbacks = [*callbacks, SelectionCallback(selection)]

    with strategy.scope():
        model = build_model()
        if adversarial:
            model = AdversarialEmbeddings(model, adversarial)
        optimizer = _compile(
            model, train, loss=loss, metrics=metrics, clipnorm=clipnorm,
            learning_rate=make_schedule(schedule, learning_rate, total_steps, warmup_steps),
            ema=ema)
        if layer_schedule is not None and layer_schedule.active:
            optimizer.set_layer_rates(
                layer_schedule.rates(model, run_config["steps_per_epoch"]))
            _note(f"pretrained layers: {layer_schedule.describe(model)}")
        es_weights = None
        if run.state is not None:
            es_weights = _restore(model, optimizer, run, finished)

    early_stopping, checkpoint, backup = _run_callbacks(
        run, run_config, monitor, mode, early_stopping_patience, es_weights)
    if not finished:
        run_callbacks = _callback_list(run, callbacks, early_stopping, checkpoint, backup,
                                       tensorboard, average=ema is not None)
        train_data, validation_data = _input_pipelines(
            cached_train, validation, run.start_epoch, epochs, run_config["global_batch"], seed,
            shuffle_buffer)
        with _multiworker_keras_fixes(model, strategy, train_data.element_spec):
            model.fit(train_data, validation_data=validation_data, epochs=epochs,
                      initial_epoch=run.start_epoch,
                      steps_per_epoch=run_config["steps_per_epoch"], callbacks=run_callbacks,
                      verbose=verbose, shuffle=False)
        stopped_early = bool(early_stopping is not None and early_stopping.stopped_epoch > 0)
        backup.save_final(model, stopped_early=stopped_early)
    else:
        stopped_early = bool(run.state.get("stopped_early", run.es_state.get("stopped_epoch")))
        if not run.state.get("finished"):
            backup.save_final(model, stopped_early=stopped_early)
    result = _result(model, backup.state, stopped_early, run.work_dir, selection)
    if isinstance(model, AdversarialEmbeddings):
        result.model = model.inner
    return result


# ---------------------------------------------------------------------------------------------
# the stages of fit: run state, restore, callbacks, input pipelines, result


@dataclass
class _Run:
    """The run folder this process writes to and the committed state found there (None for a
    new run)."""

    work_dir: Path  # out_dir for the chief, out_dir/worker-<i> for other workers
    backup_dir: Path  # work_dir/backup: where this process commits its epochs
    restore_dir: Path  # where the state was read: backup_dir, or the chief's backup/
    state: dict[str, Any] | None

    @property
    def start_epoch(self) -> int:
        """Epochs completed before this session."""
        return int(self.state["epoch"]) if self.state else 0

    @property
    def es_state(self) -> dict[str, Any]:
        """The early-stopping state of the backup ({} for none)."""
        return (self.state or {}).get("early_stopping") or {}

    def finished(self, epochs: int) -> bool:
        """Whether the backup holds a run of ``epochs`` epochs that has ended (all epochs
        done, or stopped early)."""
        return self.state is not None and (
            self.start_epoch >= epochs or bool(self.es_state.get("stopped_epoch")))


def _open_run(out_dir: Path, strategy: tf.distribute.Strategy, resume: bool) -> _Run:
    """Find this process's run folder and its backup; refuse an existing run unless
    ``resume``; create the folder."""
    _, worker_index, is_chief = worker_info(strategy)
    work_dir = out_dir if is_chief else out_dir / f"worker-{worker_index}"
    backup_dir = work_dir / "backup"

    state = RunBackup.read_state(backup_dir)
    restore_dir = backup_dir
    if not is_chief and resume and (out_dir / "backup" / METADATA).exists():
        restore_dir = out_dir / "backup"  # shared file system: follow the chief's state
        state = RunBackup.read_state(restore_dir)
    if not resume:
        # A worker also looks at the chief's folder (shared file system), so that it stops
        # too instead of waiting for a chief that refused to start.
        for folder in dict.fromkeys([work_dir, out_dir]):
            existing = [name for name in _RUN_FILES if (folder / name).exists()]
            if existing:
                raise RnnzooError(
                    f"{folder}: a run folder exists here ({', '.join(existing)}); pass "
                    "--resume to continue it or choose another --out")
    elif state is None:
        _note(f"no backup in {backup_dir}; starting a new run")
    work_dir.mkdir(parents=True, exist_ok=True)
    return _Run(work_dir=work_dir, backup_dir=backup_dir, restore_dir=restore_dir, state=state)


def _run_config(cached_train: tf.data.Dataset, batch_size: int, replicas: int, seed: int,
                epochs: int) -> dict[str, int]:
    """The sizes of the run (kept in its state, so that a resume can check them)."""
    global_batch = batch_size * replicas
    examples = _count(cached_train)
    steps_per_epoch = examples // global_batch
    if steps_per_epoch < 1:
        raise RnnzooError(
            f"the training data has {examples} examples, fewer than one batch of {global_batch}"
            f" ({batch_size} per replica x {replicas}); use a smaller batch size")
    return {"steps_per_epoch": steps_per_epoch, "global_batch": global_batch,
            "train_examples": examples, "seed": seed, "epochs": epochs}


def _compile(model: keras.Model, train: tf.data.Dataset, *, loss: Any, metrics: Sequence,
             learning_rate: Any, clipnorm: float | None,
             ema: float | None = None) -> GlobalClipAdam:
    """Compile ``model`` with a new `GlobalClipAdam` and create the model's and the
    optimizer's variables (a restore loads into them); returns the optimizer. Called in the
    strategy scope."""
    optimizer = GlobalClipAdam(learning_rate=learning_rate, global_clipnorm=clipnorm,
                               **({} if ema is None else {"use_ema": True, "ema_momentum": ema}))
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics) or None)
    if not model.built:
        inputs = next(iter(train.batch(1)))[0]
        model(inputs)
    optimizer.build(model.trainable_variables)
    return optimizer


def _restore(model: keras.Model, optimizer: keras.optimizers.Optimizer, run: _Run,
             finished: bool) -> list[np.ndarray] | None:
    """Load the backup into ``model`` (weights and optimizer state; a finished run's final
    weights) and return the early-stopping best weights it holds, if any. Called in the
    strategy scope."""
    state, es_state = run.state, run.es_state
    es_weights = None
    if es_state.get("weights"):
        with np.load(run.restore_dir / es_state["weights"]) as stored:
            es_weights = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    use_final = finished and bool(state.get("final_weights"))
    RunBackup.restore(model, run.restore_dir, state, final=use_final)
    if finished and not use_final and es_weights is not None:
        model.set_weights(es_weights)  # killed between early stop and the final save
    steps = int(_to_numpy(optimizer.iterations))
    if finished:
        _note(f"the run in {run.work_dir} has finished ({run.start_epoch} epochs, {steps} "
              "optimizer steps); returning it without training")
    else:
        _note(f"resuming the run in {run.work_dir} after epoch {run.start_epoch} "
              f"({steps} optimizer steps)")
    return es_weights


def _run_callbacks(run: _Run, run_config: dict[str, int], monitor: str, mode: str,
                   patience: int | None, es_weights: list[np.ndarray] | None,
                   ) -> tuple[ResumableEarlyStopping | None, AtomicModelCheckpoint, RunBackup]:
    """The run's stateful callbacks, carrying on from the backup's state: early stopping
    (None without a patience), the best-weights checkpoint and the backup, whose ``state``
    (the backup's, with ``run_config``) collects the history of the run."""
    run_state = dict(run.state or {})
    run_state["config"] = run_config
    early_stopping = None
    if patience is not None:
        early_stopping = ResumableEarlyStopping(
            monitor=monitor, mode=mode, patience=patience, restore_best_weights=True,
            verbose=0, restored=run.es_state or None, restored_weights=es_weights)
    checkpoint = AtomicModelCheckpoint(
        str(run.work_dir / "best.weights.h5"), monitor=monitor, mode=mode, save_best_only=True,
        save_weights_only=True, initial_value_threshold=run_state.get("checkpoint_best"))
    backup = RunBackup(run.backup_dir, state=run_state, early_stopping=early_stopping,
                       checkpoint=checkpoint)
    return early_stopping, checkpoint, backup


def _callback_list(run: _Run, extra: Sequence[keras.callbacks.Callback],
                   early_stopping: ResumableEarlyStopping | None,
                   checkpoint: AtomicModelCheckpoint, backup: RunBackup,
                   tensorboard: bool, average: bool = False) -> list[keras.callbacks.Callback]:
    """The callbacks of ``model.fit``: ``extra`` first, the backup last; with ``average``
    the weight average is in the model from validation to just before the backup. A resumed
    run's history.csv loses the rows of epochs that were not committed."""
    csv_path = run.work_dir / "history.csv"
    if run.state is not None:
        _truncate_csv(csv_path, run.start_epoch)  # rows of an epoch that was not committed
    use_average, use_training = average_callbacks() if average else (None, None)
    run_callbacks = [*([use_average] if average else []), *extra, checkpoint]
    if early_stopping is not None:
        run_callbacks.append(early_stopping)
    run_callbacks.append(keras.callbacks.CSVLogger(str(csv_path), append=run.state is not None))
    if tensorboard and _tensorboard_installed():
        run_callbacks.append(keras.callbacks.TensorBoard(str(run.work_dir / "logs")))
    elif tensorboard:
        _note("no TensorBoard logs: the tensorboard package is not installed "
              "(pip install tensorboard)")
    if average:
        run_callbacks.append(use_training)
    run_callbacks.append(backup)  # last: commits after the others have seen the epoch
    return run_callbacks


def _input_pipelines(cached_train: tf.data.Dataset, validation: tf.data.Dataset | None,
                     start_epoch: int, epochs: int, global_batch: int, seed: int,
                     shuffle_buffer: int) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    """The batched training data from ``start_epoch`` on (see `_epochs_pipeline`) and the
    batched validation data (None without it), deterministic and sharded by elements."""
    options = tf.data.Options()
    options.deterministic = True
    # from_tensor_slices / generated data has no files to shard by: shard by elements.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    train_data = _epochs_pipeline(cached_train, start_epoch, epochs, global_batch, seed,
                                  shuffle_buffer).with_options(options)
    validation_data = None
    if validation is not None:
        cached = validation.cache()
        if int(cached.cardinality()) < 0:  # e.g. a loader that skips bad files as it reads
            cached = cached.apply(tf.data.experimental.assert_cardinality(_count(cached)))
        validation_data = (cached.batch(global_batch)
                           .prefetch(tf.data.AUTOTUNE).with_options(options))
    return train_data, validation_data


def _result(model: keras.Model, run_state: dict[str, Any], stopped_early: bool,
            work_dir: Path, selection: Selection | None = None) -> FitResult:
    """The `FitResult` of the run in ``run_state``; writes summary.json and prints the
    summary line."""
    history = {key: list(values) for key, values in run_state.get("history", {}).items()}
    best_val_loss = None
    if history.get("val_loss"):
        best_val_loss = float(np.nanmin(history["val_loss"]))
    result = FitResult(
        model=model, history=history, epochs_completed=len(history.get("loss", [])),
        optimizer_steps=int(_to_numpy(model.optimizer.iterations)),
        seconds=float(run_state.get("seconds", 0.0)), best_val_loss=best_val_loss,
        stopped_early=stopped_early, out_dir=work_dir,
        selection_key=selection.key if selection else None,
        higher_is_better=bool(selection and selection.higher_is_better))
    write_json_atomic(work_dir / "summary.json", result.to_json())
    print(result.summary_line(), flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# helpers


def _check_arguments(epochs, batch_size, learning_rate, schedule, warmup_steps, clipnorm,
                     patience, shuffle_buffer) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
            and learning_rate >= 0):
        raise ValueError(f"learning_rate must be a finite number >= 0, got {learning_rate!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}")
    if clipnorm is not None and not clipnorm > 0:
        raise ValueError(f"clipnorm must be positive or None, got {clipnorm!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 0):
        raise ValueError(
            f"early_stopping_patience must be an integer >= 0 or None, got {patience!r}")
    if not isinstance(shuffle_buffer, int) or shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")


def _check_resumable(state: dict, config: dict, backup_dir: Path) -> None:
    """Refuse to resume a run whose steps per epoch differ (the step count would not add up)
    or whose weight average differs (the optimizer's variables would not match)."""
    previous = state.get("config") or {}
    if previous.get("steps_per_epoch") not in (None, config["steps_per_epoch"]):
        raise RnnzooError(
            f"{backup_dir}: cannot resume: the run took {previous['steps_per_epoch']} steps per "
            f"epoch ({previous.get('train_examples')} examples, global batch "
            f"{previous.get('global_batch')}) and this call gives {config['steps_per_epoch']} "
            f"({config['train_examples']} examples, global batch {config['global_batch']}); "
            "resume with the same data and batch size")
    if previous.get("ema") != config["ema"]:
        raise RnnzooError(
            f"{backup_dir}: cannot resume: the run started with a weight average of momentum "
            f"{previous.get('ema')} and this call asks for {config['ema']}; resume with the "
            "same --ema")
    if previous.get("seed") not in (None, config["seed"]):
        _note(f"resuming with seed {config['seed']} (the run started with {previous['seed']}):"
              " the remaining epochs see a different data order")


def _epochs_pipeline(cached: tf.data.Dataset, start_epoch: int, epochs: int, global_batch: int,
                     seed: int, shuffle_buffer: int) -> tf.data.Dataset:
    """Batches of epochs ``start_epoch..epochs-1``; epoch e's order depends on (seed, e) only,
    so a resumed run sees the batches an uninterrupted run sees."""

    def one_epoch(epoch):
        # While this function is traced, set_seed sets the seed of its graph only. The pair
        # (graph seed, op seed = epoch) seeds the shuffle; the graph seed is never 0, because
        # TF compares the pair with (0, 0) in Python, which fails for a tensor op seed.
        tf.random.set_seed(seed % (2**31 - 1) + 1)
        return (cached.shuffle(shuffle_buffer, seed=epoch, reshuffle_each_iteration=False)
                .batch(global_batch, drop_remainder=True))

    epochs_ds = tf.data.Dataset.range(start_epoch, epochs)
    return epochs_ds.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def _multiworker_keras_fixes(model: keras.Model, strategy: tf.distribute.Strategy,
                             element_spec: Any) -> Iterator[None]:
    """Work around two Keras 3.15 bugs under MultiWorkerMirroredStrategy, for one ``fit``.

    1. Before training (and before each validation pass) Keras' TF trainer takes a batch from
       the distributed iterator and calls ``strategy.reduce("MEAN", (inputs, targets))`` to
       build the loss and metric state from its shapes; the strategy only reduces single
       values ("Attempt to convert a value (PerReplica...) to a Tensor"). The state is built
       here from the dataset's element spec instead (only shapes are used) and that step is
       skipped.
    2. Every step's logs are reduced with ``strategy.reduce("MEAN", value, axis=0)``, which
       fails for the scalar loss and metrics ("Invalid reduction dimension 0 for input with 0
       dimensions", tensorflow/tensorflow#72388). The steps are wrapped to give scalars a
       leading axis of 1, so the reduction returns the mean over replicas. (Epoch logs come
       from the metric variables, which are summed over all workers, so every worker sees the
       same loss and makes the same early-stopping decision.)
    The instance attributes are removed again afterwards.
    """
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode())  # the condition Keras' reduction tests
    if not multi_worker:
        yield
        return
    with strategy.scope():
        model._symbolic_build(data_batch=element_spec)

    def with_axis(step):
        def wrapped(data):
            return tf.nest.map_structure(
                lambda v: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v,
                step(data))
        return wrapped

    patches = {"_maybe_symbolic_build": lambda iterator=None, data_batch=None: None,
               "train_step": with_axis(model.train_step), "test_step": with_axis(model.test_step)}
    for name, value in patches.items():
        object.__setattr__(model, name, value)
    try:
        yield
    finally:
        for name in patches:
            object.__delattr__(model, name)
        # the compiled step functions close over the wrappers: drop them too
        model.train_function = model.test_function = None


def _count(dataset: tf.data.Dataset) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise RnnzooError("the training dataset is infinite; fit needs a finite dataset")
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def _truncate_csv(path: Path, epochs: int) -> None:
    """Keep the header and the rows of the first ``epochs`` epochs of a CSVLogger file."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    column = header.index("epoch") if "epoch" in header else None
    kept = [row for row in body if column is None or (row and int(row[column]) < epochs)]
    temporary = path.with_name(".partial-" + path.name)
    with temporary.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *kept])
    os.replace(temporary, path)


def _tensorboard_installed() -> bool:
    # tf.summary writes scalars only with the tensorboard package, which TF 2.21 no longer
    # depends on; without it Keras' TensorBoard callback fails at the first epoch end.
    return importlib.util.find_spec("tensorboard") is not None


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)
