"""`tf.distribute` strategies for training: ``default``, ``mirrored``, ``multiworker``.

Batch sizes: ``fit(batch_size=B)`` is the batch *per replica*; the global batch that one
optimizer step sees is ``B * strategy.num_replicas_in_sync`` (1 replica on a CPU-only
machine, one per GPU under ``mirrored``, the sum over workers under ``multiworker``).

``multiworker`` builds a `tf.distribute.MultiWorkerMirroredStrategy` from the ``TF_CONFIG``
environment variable, e.g. for the first of two workers::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

Every worker runs the same command; worker 0 (or the task of type ``chief``) is the chief.
TensorFlow only accepts this strategy *before any other TensorFlow op has run* ("Collective
ops must be configured at program startup"), so a program that loads data before calling
``fit`` must call `get_strategy` first; the instance is cached, and ``fit(strategy=
"multiworker")`` then reuses it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf

from zoo.errors import RnnzooError

STRATEGIES = ("default", "mirrored", "multiworker")

_cache: dict[str, tf.distribute.Strategy] = {}


def parse_tf_config(raw: str | None = None) -> dict[str, Any]:
    """Validate ``TF_CONFIG`` (the environment variable unless ``raw`` is given).

    Returns the parsed dict; raises `RnnzooError` naming TF_CONFIG when it is absent or does
    not describe a cluster with this task in it.
    """
    raw = os.environ.get("TF_CONFIG") if raw is None else raw
    if not raw or not raw.strip():
        raise RnnzooError(
            "--strategy multiworker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise RnnzooError(f"TF_CONFIG is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise RnnzooError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise RnnzooError("TF_CONFIG has no 'cluster' (a map from task type to host:port list)")
    for kind, hosts in cluster.items():
        if not isinstance(hosts, list) or not all(isinstance(h, str) and ":" in h for h in hosts):
            raise RnnzooError(f"TF_CONFIG cluster[{kind!r}] must be a list of 'host:port' strings")
    if not cluster.get("worker") and not cluster.get("chief"):
        raise RnnzooError("TF_CONFIG cluster lists no 'worker' (or 'chief') tasks")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise RnnzooError("TF_CONFIG has no 'task' with 'type' and 'index' (this process's place)")
    kind, index = task["type"], task["index"]
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise RnnzooError(f"TF_CONFIG task {kind}:{index} is not in the cluster")
    return config


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Return the strategy called ``name`` (one of `STRATEGIES`); cached per name.

    ``default``: `tf.distribute.get_strategy()` (no distribution); ``mirrored``:
    `tf.distribute.MirroredStrategy` over the local GPUs (one CPU replica without GPUs);
    ``multiworker``: `tf.distribute.MultiWorkerMirroredStrategy` from ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise RnnzooError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name in _cache:
        return _cache[name]
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    else:
        parse_tf_config()
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            if "program startup" not in str(error):
                raise
            raise RnnzooError(
                "the multiworker strategy must be created before TensorFlow runs any op: call "
                "tasks.common.strategy.get_strategy('multiworker') before loading data") from None
    _cache[name] = strategy
    return strategy


def worker_info(strategy: tf.distribute.Strategy) -> tuple[str | None, int, bool]:
    """``(task_type, task_index, is_chief)`` of this process; ``(None, 0, True)`` outside a
    multi-worker cluster. The chief is the ``chief`` task, or worker 0 when there is none."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None, 0, True
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    spec = resolver.cluster_spec().as_dict()
    if task_type == "chief":
        return task_type, task_id, True
    is_chief = task_type == "worker" and task_id == 0 and "chief" not in spec
    return task_type, task_id, is_chief
