"""The `Task` of a note-sequence model (``music-melody``, ``music-piano``)."""

from __future__ import annotations

import argparse
from functools import partial

from tasks.common.task import Task
from tasks.music.model_options import add_model_options, builder_config
from tasks.music.notes import load_notes, metric, note_loss, representative_notes

KINDS = ("lstm", "gru")


def _add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("note-sequence model")
    add_model_options(group, kinds=KINDS, default_units=128, output="the heads",
                      inputs="the input notes")
    group.add_argument("--window", type=int, default=None,
                       help="training window in notes (default: 64)")
    group.add_argument("--limit", type=int, default=None,
                       help="use only the first N files of each split (quick runs)")
    group.add_argument("--strict", action="store_true",
                       help="fail on the first bad MIDI file instead of skipping it")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    return builder_config(args, "music-notes")


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.music.predict import add_note_options

    add_note_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.music.predict import predict_notes

    return predict_notes(preset, args)


def make_task(name: str, *, mode: str, summary: str, dataset_name: str, data_license: str,
              train_defaults: dict) -> Task:
    """A note-sequence task reading MIDI folders with ``mode`` ("melody" or "all")."""
    return Task(
        name=name,
        summary=summary,
        builders=("music-notes-lstm", "music-notes-gru"),
        load=partial(load_notes, mode=mode),
        metric=metric,
        representative=partial(representative_notes, mode=mode),
        loss=note_loss(),
        primary_metric="pitch_nll",
        lower_is_better=True,
        add_options=_add_options,
        data_option_names=("window", "limit", "strict"),
        builder_config=_builder_config,
        needs_data=True,
        data_license=data_license,
        dataset_name=dataset_name,
        train_defaults=train_defaults,
        add_predict_options=_add_predict_options,
        predict=_predict,
    )
