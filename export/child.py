"""Running converter and measurement jobs in a child process.

A fresh ``python -m <worker> JOB.json`` per batch of jobs (`subprocess`, not ``fork``: forking a
process that has started TensorFlow's thread pools is unsafe). The child writes one result file
per job as it finishes it; a job without a result after the child ends is the one that was
running when it died, and the error names it, with the signal (e.g. SIGSEGV) or the exit code
and the last lines the child wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from zoo.errors import RnnzooError


class ConversionError(RnnzooError, RuntimeError):
    """A conversion failed or crashed the converter process (the message names the model
    and the variant)."""


def worker_command(module: str, job_file: Path) -> list[str]:
    """The command line that runs ``module`` on ``job_file`` (tests replace it to simulate a
    crash)."""
    return [sys.executable, "-m", module, str(job_file)]


def _how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"crashed with {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    useful = [line for line in text if line.strip() and "cuda" not in line.lower()]
    return " | ".join(useful[-lines:])


def run_jobs(module: str, spec: dict, jobs: list[dict], folder: Path, *, labels: list[str],
             timeout: float | None = None) -> list[dict]:
    """Run ``jobs`` (each with an ``output`` path) in one child of ``module``; return their
    results (from ``<output>.json``).

    ``labels`` name each job in errors. Raises `ConversionError` for the first job that has no
    result because the child died (crash, exit, timeout).
    """
    folder.mkdir(parents=True, exist_ok=True)
    job_file = folder / "jobs.json"
    job_file.write_text(json.dumps({**spec, "jobs": jobs}), encoding="utf-8")
    log = folder / "child.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(log, "wb") as out:
        try:
            process = subprocess.run(worker_command(module, job_file), stdout=out,
                                     stderr=subprocess.STDOUT, env=env, timeout=timeout,
                                     check=False)
            code = process.returncode
        except subprocess.TimeoutExpired:
            code = None
    results = []
    for job, label in zip(jobs, labels):
        result_file = Path(job["output"] + ".json")
        if not result_file.is_file():
            ended = f"timed out after {timeout:.0f} s" if code is None else _how_it_ended(code)
            tail = _tail(log)
            raise ConversionError(f"{label}: the converter process {ended}"
                                  + (f" ({tail})" if tail and code != -signal.SIGSEGV else ""))
        results.append(json.loads(result_file.read_text(encoding="utf-8")))
    return results
