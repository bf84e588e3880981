"""Keras callbacks of the training runner that make a run resumable after a kill."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tasks.common.atomic_files import save_weights_atomic, savez_atomic, write_json_atomic
from zoo.errors import RnnzooError

METADATA = "training_metadata.json"


def _to_numpy(value) -> np.ndarray:
    return keras.ops.convert_to_numpy(value)



class RunBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that commits atomically and keeps the whole run's state.

    Every epoch end writes ``epoch-<k>.weights.h5`` (model and optimizer variables, Keras 3's
    ``save_weights``), EarlyStopping's best weights when they changed (``es-best-<k>.npz``),
    then ``training_metadata.json`` by an atomic rename; files the metadata no longer names are
    removed afterwards. A kill at any moment leaves a consistent pair. Restoring is done by
    `fit` through `read_state` and `restore` before training starts.
    """

    def __init__(self, backup_dir: str | Path, *, state: dict[str, Any],
                 early_stopping: ResumableEarlyStopping | None = None,
                 checkpoint: keras.callbacks.ModelCheckpoint | None = None):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=False)
        self.state = state
        self.early_stopping = early_stopping
        self.checkpoint = checkpoint
        self._session_start = time.perf_counter()
        self._seconds_before = float(state.get("seconds", 0.0))

    @staticmethod
    def read_state(backup_dir: str | Path) -> dict[str, Any] | None:
        """The committed state in ``backup_dir``, or None when there is none."""
        path = Path(backup_dir) / METADATA
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise RnnzooError(f"{path}: cannot read the resume state ({error})") from None
        if "weights" not in state or not (Path(backup_dir) / state["weights"]).exists():
            raise RnnzooError(f"{path}: not a backup written by rnnzoo (or its weights are gone)")
        return state

    @staticmethod
    def restore(model: keras.Model, backup_dir: str | Path, state: dict[str, Any],
                final: bool = False) -> None:
        """Load the weights of ``state`` (the end-of-run weights when ``final``) into
        ``model``; its optimizer must be built so that its variables load too."""
        name = state.get("final_weights") if final else state["weights"]
        model.load_weights(str(Path(backup_dir) / name))

    def on_train_begin(self, logs=None):
        self._session_start = time.perf_counter()  # restoring happened before model.fit

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        history = self.state.setdefault("history", {})
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        self._save_model()

    def _elapsed(self) -> float:
        return self._seconds_before + time.perf_counter() - self._session_start

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        epoch = self._current_epoch
        weights = f"epoch-{epoch:04d}.weights.h5"
        save_weights_atomic(self.model, backup / weights)
        state = self.state
        state.update(epoch=epoch, batch=0, weights=weights, seconds=self._elapsed(),
                     optimizer_steps=int(_to_numpy(self.model.optimizer.iterations)),
                     finished=False)
        state.pop("final_weights", None)
        if self.checkpoint is not None and self.checkpoint.best is not None:
            state["checkpoint_best"] = float(self.checkpoint.best)
        es = self.early_stopping
        if es is not None:
            es_state = es.resumable_state()
            previous = state.get("early_stopping") or {}
            es_state["weights"] = previous.get("weights")
            if es.best_weights is not None and (
                    es_state["weights"] is None or previous.get("best_epoch") != es.best_epoch):
                es_state["weights"] = f"es-best-{es.best_epoch:04d}.npz"
                savez_atomic(backup / es_state["weights"], es.best_weights)
            state["early_stopping"] = es_state
        write_json_atomic(backup / METADATA, state)
        self._remove_stale(backup)

    def save_final(self, model: keras.Model, *, stopped_early: bool) -> None:
        """Record the end-of-run weights (best ones after early stopping) and mark the run
        finished, so that resuming a finished run returns it without training."""
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        save_weights_atomic(model, backup / "final.weights.h5")
        self.state.update(final_weights="final.weights.h5", finished=True,
                          stopped_early=stopped_early, seconds=self._elapsed())
        write_json_atomic(backup / METADATA, self.state)
        self._remove_stale(backup)

    def _remove_stale(self, backup: Path) -> None:
        keep = {METADATA, self.state.get("weights"), self.state.get("final_weights"),
                (self.state.get("early_stopping") or {}).get("weights")}
        for path in backup.iterdir():
            if path.name not in keep and (path.name.startswith(("epoch-", "es-best-", "."))
                                          or path.name == "final.weights.h5"):
                path.unlink(missing_ok=True)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose patience count, best value and best weights survive a resume."""

    def __init__(self, *args, restored: dict[str, Any] | None = None,
                 restored_weights: list[np.ndarray] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._restored = restored
        self._restored_weights = restored_weights

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._restored:
            self.wait = int(self._restored["wait"])
            self.best = self._restored["best"]
            self.best_epoch = int(self._restored["best_epoch"])
            self.stopped_epoch = int(self._restored.get("stopped_epoch", 0))
            self.best_weights = self._restored_weights

    def resumable_state(self) -> dict[str, Any]:
        """The counters to store in the backup."""
        return {"wait": int(self.wait), "best": None if self.best is None else float(self.best),
                "best_epoch": int(self.best_epoch), "stopped_epoch": int(self.stopped_epoch)}


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes to a temporary file and renames it into place, so a kill
    during the write never leaves a truncated ``best.weights.h5``."""

    def _save_model(self, epoch, batch, logs):
        final = self.filepath
        temporary = str(Path(final).with_name(".partial-" + Path(final).name))
        self.filepath = temporary
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = final
        if os.path.exists(temporary):
            os.replace(temporary, final)
