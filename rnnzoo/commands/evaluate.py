"""``rnnzoo evaluate MODEL``: score a preset, or an exported ``.tflite`` file or export
folder, with its task's metric.

An exported file names its task, data options, dataset and source preset in the metadata
written by ``rnnzoo export`` (inside the ``.tflite``, and ``metadata.json`` in the folder); it
runs in the ai-edge-litert interpreter (`export.TFLiteRunner`), step models step by step. The
dataset is found as a preset's is (`tasks.common.data_paths.resolve_data`); ``--record``
finds the source preset by name, URL, or its folder relative to the export folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnzoo.commands.common import (
    add_json_option,
    load_preset,
    preset_dataset,
    scoring_split,
    task_of,
)
from rnnzoo.runtime import format_value, print_json


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "evaluate", help="score a model with its task's metric",
        description="Evaluate a preset (name, folder, run folder or URL), or an exported "
                    ".tflite file or export folder (rnnzoo export), on a split of its task's "
                    "data with the task's metric.")
    parser.add_argument("model", metavar="MODEL",
                        help="preset name, folder, run folder or URL; or a .tflite file or "
                             "export folder")
    parser.add_argument("--data", metavar="PATH",
                        help="dataset (default: the one the card or export records, under "
                             "$RNNZOO_DATA, else ../shared/data)")
    parser.add_argument("--split", help="split to score (default: test; validation for data "
                                        "without a test part, such as tinyshakespeare's "
                                        "train/validation split)")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into the preset's card (metrics 'keras', or "
                             "'tflite-<file>' for exported files, and the split)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def _exported_files(model: str) -> list[Path] | None:
    """The .tflite files MODEL names (a file, or an export folder's), or None for a preset."""
    path = Path(model).expanduser()
    if path.suffix == ".tflite":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        return [path]
    metadata = path / "metadata.json"
    if path.is_dir() and metadata.is_file():
        try:
            files = json.loads(metadata.read_text(encoding="utf-8")).get("files", {})
        except json.JSONDecodeError as error:
            raise ValueError(f"{metadata}: not valid JSON ({error})") from None
        found = [path / name for name in files if (path / name).is_file()]
        if not found:
            raise ValueError(f"{path}: export folder without .tflite files")
        return found
    return None


def _run_exported(args: argparse.Namespace, files: list[Path]) -> int:
    from rnnzoo.runtime import start_tensorflow

    start_tensorflow()
    import tasks
    from export import TFLiteRunner
    from tasks.common.data_paths import resolve_data

    results, failed, noted = [], [], set()
    datasets: dict[tuple, object] = {}  # files of one export read their data once (one note)
    for path in files:
        runner = TFLiteRunner(path, num_threads=1)
        info = runner.metadata or _metadata_beside(path)
        if not info.get("task"):
            raise ValueError(f"{path}: no rnnzoo metadata naming its task (export it with "
                             "'rnnzoo export')")
        kind = info.get("file", {}).get("kind")
        if kind == "encoder":
            continue  # scored with its decoder
        predict = runner.predict
        if kind == "decoder":  # a model exported in parts: the pair runs together
            from export.parts_bundle import runner_for_files

            encoder = path.with_name(path.name.replace("decoder.", "encoder.", 1))
            if not encoder.is_file():
                raise ValueError(f"{path}: a decoder step file without its encoder "
                                 f"({encoder.name}) beside it")
            predict = runner_for_files(encoder, path)
            path = path.with_name(f"{encoder.name}+{path.name}")
        task = tasks.get_task(info["task"])
        options = info.get("data_options", {})
        split = _split(args.split, path, task, options, noted)
        _note_training_split(path, task, options, split, noted)
        data = resolve_data(args.data, info, task)
        key = (task.name, str(data), split, json.dumps(options, sort_keys=True, default=str))
        if key not in datasets:
            datasets[key] = task.load(data, split, **options)
        dataset = datasets[key]
        try:
            figures = task.metric_with(options)(predict, dataset)
        except RuntimeError as error:  # the interpreter refused this file: score the others
            failed.append(f"{path}: the TFLite interpreter could not run it ({error})")
            continue
        if runner.note:
            print(f"rnnzoo evaluate: note: {path}: {runner.note}", file=sys.stderr)
        results.append((path, task, info, split, figures))
    for line in failed:
        print(f"rnnzoo evaluate: {line}", file=sys.stderr)
    if args.record:
        _record(results)
    if args.json:
        print_json([{"model": str(path), "task": task.name, "split": split,
                     "format": "tflite", "kind": info.get("file", {}).get("kind"),
                     "quantize": info.get("file", {}).get("quantize"), "metrics": figures}
                    for path, task, info, split, figures in results])
        return 1 if failed else 0
    for path, task, _, split, figures in results:
        text = ", ".join(f"{k} {format_value(v)}" for k, v in figures.items())
        print(f"{path} [{task.name}, {split}] {text}")
    return 1 if failed else 0


def _split(split: str | None, model, task, data_options: dict | None,
           noted: set[str] | None = None) -> str:
    """``split``, or when None the default: ``test``, or ``validation`` (with a note on
    stderr, once for the files of one task) where the model's data has no test part."""
    if split is not None:
        return split
    if task.has_test_split(data_options):
        return "test"
    if noted is None or f"no-test:{task.name}" not in noted:
        print(f"rnnzoo evaluate: note: {model}: its data has no test part (task {task.name}), "
              "so it is scored on the validation split", file=sys.stderr)
        if noted is not None:
            noted.add(f"no-test:{task.name}")
    return "validation"


def _note_training_split(model, task, data_options: dict | None, split: str,
                         noted: set[str] | None = None) -> None:
    """Say on stderr when ``split`` is part of the model's training data; once for the files
    of one export, whose notes ``noted`` collects."""
    note = scoring_split(task, data_options, split)[1]
    if note and note not in (noted or ()):
        print(f"rnnzoo evaluate: note: {model}: {note}", file=sys.stderr)
        if noted is not None:
            noted.add(note)


def _metadata_beside(path: Path) -> dict:
    """The export folder's metadata.json for ``path`` (files without embedded metadata)."""
    beside = path.parent / "metadata.json"
    if not beside.is_file():
        return {}
    try:
        document = json.loads(beside.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{beside}: not valid JSON ({error})") from None
    return {**document, "file": document.get("files", {}).get(path.name, {})}


def _record(results: list) -> None:
    """Write each file's figures into the card of the preset it was exported from."""
    import zoo

    for path, _, info, split, figures in results:
        source = _source_preset(path, info)
        card = zoo.load(source).card
        metrics = dict(card.get("metrics", {}))
        name = path.name.removesuffix(".tflite")
        if "+" in name:  # an encoder and decoder pair: "parts.<quantize>"
            name = "parts." + name.split("+")[-1].removeprefix("decoder.")
        metrics[f"tflite-{name}"] = figures
        zoo.update_card(source, {"metrics": metrics, "split": split})


def _source_preset(path: Path, info: dict) -> Path:
    """The folder of the preset ``path`` was exported from, from its ``preset_source``: a
    ``folder`` relative to the export folder, or the preset ``name`` or ``url`` that ``rnnzoo
    export`` was given (files exported before that was recorded: ``preset_path``)."""
    import zoo

    source = info.get("preset_source") or {}
    if source.get("folder"):
        found = path.parent / source["folder"]
        if not found.is_dir():
            raise ValueError(f"--record: {path} was exported from the preset folder "
                             f"{source['folder']} (relative to the export folder), which is "
                             "not there")
        return found
    if source.get("name") or source.get("url"):
        return zoo.load(source.get("name") or source["url"]).path
    legacy = info.get("preset_path")
    if legacy and Path(legacy).is_dir():
        return Path(legacy)
    raise ValueError(f"--record: {path} was exported from {legacy or 'an unknown preset'}, "
                     "which is not a local preset folder")


def run(args: argparse.Namespace) -> int:
    files = _exported_files(args.model)
    if files is not None:
        return _run_exported(args, files)
    preset = load_preset(args.model)
    task = task_of(preset)
    options = preset.card.get("data_options")
    split = _split(args.split, preset.name, task, options)
    _note_training_split(preset.name, task, options, split)
    dataset = preset_dataset(preset, task, args.data, split)
    figures = task.metric_with(options)(preset.model.predict_on_batch, dataset)
    if args.record:
        import zoo

        metrics = dict(preset.card.get("metrics", {}))
        metrics["keras"] = figures
        zoo.update_card(preset.path, {"metrics": metrics, "split": split})
    if args.json:
        print_json({"model": args.model, "task": task.name, "split": split,
                    "format": "keras", "metrics": figures})
        return 0
    text = ", ".join(f"{k} {format_value(v)}" for k, v in figures.items())
    print(f"{preset.name} [{task.name}, {split}] {text}")
    return 0
