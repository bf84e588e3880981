"""Tasks: data pipelines, training and evaluation for each application of the zoo."""

from __future__ import annotations

import importlib

from tasks.common.task import Task
from zoo.errors import UnknownNameError

_TASK_MODULES = {
    "adding": "tasks.adding",
    "captioning": "tasks.captioning.task",
    "forecasting": "tasks.forecasting",
    "music-jsb": "tasks.music.jsb",
    "music-melody": "tasks.music.melody",
    "music-piano": "tasks.music.piano",
    "ner": "tasks.ner",
    "sentiment": "tasks.sentiment",
    "speech-digits": "tasks.speech.digits",
    "speech-connected-digits": "tasks.speech.connected",
    "speech-yesno": "tasks.speech.yesno",
    "speech-chars": "tasks.speech.chars",
    "translation": "tasks.translation",
    "textgen": "tasks.textgen",
    "video-actions": "tasks.video.actions",
    "wordlm": "tasks.sentiment.lm",
}


def list_tasks() -> list[str]:
    """Names of the tasks this rnnzoo knows, sorted."""
    return sorted(_TASK_MODULES)


def get_task(name: str) -> Task:
    """The `Task` called ``name``, importing its package on first use.

    Args:
        name: a task name as on the command line, one of `list_tasks` (``adding``,
            ``speech-digits``, ...); a preset's card names its task under ``task``.

    Returns:
        The task's `Task` record: its data ``load``, ``metric``, ``loss``, option parsers
        and the defaults of ``rnnzoo train``.

    Raises:
        UnknownNameError: no task is called ``name`` (the message suggests close names).

    Example:
        >>> import tasks
        >>> import zoo
        >>> preset = zoo.load("adding-lstm")
        >>> task = tasks.get_task(preset.card["task"])
        >>> data = task.load(None, "test", size=100, **preset.card["data_options"])
        >>> figures = task.metric(preset.model.predict_on_batch, data)
        >>> task.primary_metric, figures["mse"] < 0.01
        ('mse', True)
    """
    if name not in _TASK_MODULES:
        raise UnknownNameError("task", name, _TASK_MODULES)
    return importlib.import_module(_TASK_MODULES[name]).TASK


__all__ = ["Task", "get_task", "list_tasks"]
