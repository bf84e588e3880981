"""Tasks: data pipelines, training and evaluation for each application of the zoo."""

from __future__ import annotations

import importlib

from tasks.common.task import Task
from zoo.errors import UnknownNameError

_TASK_MODULES = {
    "adding": "tasks.adding",
    "music-jsb": "tasks.music.jsb",
    "music-melody": "tasks.music.melody",
    "music-piano": "tasks.music.piano",
    "speech-digits": "tasks.speech.digits",
    "speech-connected-digits": "tasks.speech.connected",
    "speech-yesno": "tasks.speech.yesno",
    "speech-chars": "tasks.speech.chars",
}


def list_tasks() -> list[str]:
    """Names of the tasks this rnnzoo knows, sorted."""
    return sorted(_TASK_MODULES)


def get_task(name: str) -> Task:
    """The `Task` called ``name``; raises `UnknownNameError` naming close matches."""
    if name not in _TASK_MODULES:
        raise UnknownNameError("task", name, _TASK_MODULES)
    return importlib.import_module(_TASK_MODULES[name]).TASK


__all__ = ["Task", "get_task", "list_tasks"]
