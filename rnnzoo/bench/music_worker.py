"""Child process timing Keras generation on one thread: ``python -m rnnzoo.bench.music_worker
JOB.json``.

TensorFlow's thread pools can only be sized before its runtime starts, which in the bench has
long happened, hence a fresh process (as `export.latency_worker` does for latencies). The job
names a piano-roll preset (name or folder), the frames to generate and the threads; the result
(``frames_per_second``) goes to ``<output>.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def generation_speed(preset: str, frames: int) -> float:
    """Frames per second of `generate_frames` with the Keras stepper, after a warm-up."""
    import zoo
    from tasks.music.sampling import KerasStepper, generate_frames

    stepper = KerasStepper(zoo.load(preset).model)
    generate_frames(stepper, length=4, seed=1)  # warm-up: tracing, allocation
    start = time.perf_counter()
    generate_frames(stepper, length=frames, seed=0)
    return frames / (time.perf_counter() - start)


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(job.get("threads", 1))
    tf.config.threading.set_inter_op_parallelism_threads(job.get("threads", 1))
    try:
        result = {"ok": True,
                  "frames_per_second": generation_speed(job["preset"], job["frames"])}
    except Exception as error:  # noqa: BLE001 - reported to the parent
        result = {"ok": False, "message": f"{type(error).__name__}: {error}"}
    Path(job["output"] + ".json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
