"""Pieces shared by several commands: error classification, model resolution, options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnzoo.runtime import start_tensorflow


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` comes from bad input (exit 2) rather than a bug (exit 1)."""
    from zoo.errors import RnnzooError

    return isinstance(error, (RnnzooError, FileNotFoundError, FileExistsError,
                              NotADirectoryError, IsADirectoryError, PermissionError, ValueError))


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def load_preset(model: str):
    """Load a preset by name, folder (or run folder) or URL, with TensorFlow started quietly."""
    start_tensorflow()
    import zoo

    return zoo.load(model)


def task_of(preset) -> Any:
    """The `Task` a preset was trained for, from its card."""
    import tasks
    from zoo.errors import PresetError

    name = preset.card.get("task")
    if not name:
        raise PresetError(Path(preset.path) / "card.json", "names no task")
    return tasks.get_task(name)


def preset_data(preset, task, data: str | None) -> str | None:
    """The dataset a preset is scored on: ``data`` (``--data``) when given, else the one its
    card records, under the data root (`tasks.common.data_paths.resolve_data`)."""
    from tasks.common.data_paths import resolve_data

    return resolve_data(data, preset.card, task)


def preset_dataset(preset, task, data: str | None, split: str):
    """The unbatched ``split`` of the data a preset is scored on (`preset_data`), read with
    the data options of its card."""
    return task.load(preset_data(preset, task, data), split,
                     **preset.card.get("data_options", {}))


def scoring_split(task, data_options: dict | None, split: str | None) -> tuple[str, str | None]:
    """The split to score a model on and a note for the user, or None.

    ``split`` None picks ``validation``, or ``test`` for a model that trained on its
    validation split too (`Task.trained_on`: a refit such as ner-conll2003), whose figures
    on validation would be on training data. A split the model trained on, named
    explicitly, is kept with a note saying so."""
    if split is None:
        if not task.trained_on("validation", data_options):
            return "validation", None
        return "test", ("the model was trained on the validation split too (a refit), so it "
                        "is scored on the test split instead")
    if task.trained_on(split, data_options):
        return split, (f"the model was trained on the {split} split: figures on it are on "
                       "training data, not held-out data")
    return split, None


def task_in_argv(argv: list[str], command: str) -> str | None:
    """The task named right after ``command`` in ``argv``, if it is a known task."""
    if command not in argv:
        return None
    start_tensorflow()
    import tasks

    index = argv.index(command)
    if index + 1 < len(argv) and argv[index + 1] in tasks.list_tasks():
        return argv[index + 1]
    return None
