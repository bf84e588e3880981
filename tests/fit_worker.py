"""Train the adding problem through `tasks.common.fit.fit`; tests/test_fit.py runs this script
in subprocesses (to kill and resume a run, and to start multi-worker clusters).

Writes the final weights to ``--weights-out`` (.npz) and prints the fit summary line.
``--sleep S`` sleeps S seconds after every batch so that a test can kill it mid-epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights-out", required=True)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, default=640)
    parser.add_argument("--validation-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--clipnorm", type=float, default=1.0, help="0: no clipping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="default")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep per batch")
    args = parser.parse_args(argv)

    from tasks.common.strategy import get_strategy

    # MultiWorkerMirroredStrategy must exist before any TensorFlow op (data loading) runs.
    strategy = get_strategy(args.strategy)

    import keras
    import numpy as np

    from tasks.adding.data import load
    from tasks.common.fit import fit
    from zoo.adding import adding_lstm

    class Sleep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(args.sleep)

    train = load(split="train", length=args.length, size=args.train_size, seed=args.seed)
    validation = load(split="validation", length=args.length, size=args.validation_size,
                      seed=args.seed)
    result = fit(
        lambda: adding_lstm(length=args.length, units=args.units),
        train,
        validation,
        out_dir=args.out,
        loss="mse",
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        clipnorm=args.clipnorm or None,
        resume=args.resume,
        seed=args.seed,
        strategy=strategy,
        verbose=2,
        deterministic=args.deterministic,
        early_stopping_patience=None,
        callbacks=[Sleep()] if args.sleep else (),
    )
    np.savez(args.weights_out, *result.model.get_weights())
    return 0


if __name__ == "__main__":
    sys.exit(main())
