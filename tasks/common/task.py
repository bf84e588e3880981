"""The `Task` record that every task package exposes as ``TASK``."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ModelFn = Callable[[Any], np.ndarray]
# (args, data, training split, data options) -> (training dataset, card record or None)
TrainingSet = Callable[[argparse.Namespace, Any, Any, dict], tuple[Any, dict | None]]


def given_options(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    """The options among ``names`` that were given on the command line, for ``Task.load``.

    An option counts as given unless it is None, False or empty (a flag left off, a list
    option left at ``[]``); 0 is a value the user gave, so ``--length 0`` reaches the loader
    and its error instead of being dropped for the default.
    """
    options = {}
    for name in names:
        value = getattr(args, name, None)
        if value is None or value is False:
            continue
        if isinstance(value, (str, list, tuple, dict)) and not value:
            continue
        options[name] = value
    return options


def _no_options(parser: argparse.ArgumentParser) -> None:
    """Default for tasks without options of their own."""


@dataclass(frozen=True)
class Task:
    """What the CLI, training runner and export need to know about one task.

    A task's *data options* are the keyword options of its loader that a user can set (the
    adding problem's ``length``, FSDD's ``holdout_speaker``): ``rnnzoo train`` reads the ones
    named in ``data_option_names`` from its parsed options (`data_options`), stores them in
    the preset card's ``data_options``, and every later command passes them back as
    ``**data_options`` to ``load`` and ``representative`` alike.

    Attributes:
        name: task name as on the command line (``adding``, ``speech-digits``).
        summary: one line for ``rnnzoo list --tasks``.
        builders: registry names usable for this task; the first is the default.
        load: ``load(path, split, **data_options)`` -> unbatched ``tf.data.Dataset`` of
            ``(inputs, targets)``; ``path`` may be None for synthetic tasks.
        metric: ``metric(model_fn, dataset)`` -> dict of named figures; ``model_fn`` maps a
            numpy batch of inputs to numpy outputs, ``dataset`` is what ``load`` returns.
        representative: ``representative(path, n, **data_options)`` -> up to ``n`` input
            samples (each with a batch axis of 1) of the *training* split of ``path``, for int8
            calibration. It takes every keyword option ``load`` takes (using those that choose
            the data, ignoring augmentation) and raises ``ValueError`` naming ``path`` when it
            holds no training data; it never falls back to another split.
        loss: Keras loss for training.
        primary_metric: the key of ``metric``'s dict that cards and benchmarks lead with.
        lower_is_better: direction of ``primary_metric``.
        add_options: adds the task's own options to an argparse parser.
        data_option_names: the options added by ``add_options`` (argparse ``dest`` names) that
            are data options, i.e. keywords of ``load`` and ``representative``.
        builder_config: maps parsed options to ``(builder name, builder config)``.
        needs_data: whether ``--data`` is required (False for synthetic tasks).
        data_license: licence of the training data, for the preset card.
        dataset_name: dataset named in cards.
        train_defaults: defaults of ``rnnzoo train`` for this task (epochs, batch_size,
            learning_rate, patience).
        add_predict_options: adds the options of ``rnnzoo predict`` for this task's presets.
        config_data_options: ``config_data_options(builder, builder_config)`` -> the data
            options that follow from a model's builder and config (a captioner's vocabulary:
            the data must be encoded with the model's own; an autoregressive piano-roll model
            takes the modelled frame as an input too); ``rnnzoo train`` adds them to the
            card's ``data_options`` so that every later command reads the data the same way.
        builder_config_from: ``builder_config_from(args, source)`` -> ``(builder name, builder
            config)`` of a new model of this task that starts from ``source``, a loaded preset
            of *another* task (``rnnzoo train TASK --from PRESET``); the layers whose names and
            weight shapes match take the source's weights (`tasks.common.transfer`). None: such
            a ``--from`` is refused.
        predict: ``predict(preset, args)`` runs ``rnnzoo predict`` (``args.inputs`` holds the
            INPUT paths) and returns a JSON-able result; it prints its own human output unless
            ``args.json``. None when the task has nothing to predict from files.
        metric_option_names: data options that ``metric`` also takes as keywords (a
            translation metric decodes ids to text with the model's subword model); callers
            get the metric with them bound from `metric_with`.
        preset_assets: ``preset_assets(builder, builder_config)`` -> ``{file name: text or
            bytes}`` that ``rnnzoo train`` writes into the preset's ``assets/`` (and export
            copies beside the exported files): what an app needs besides the graph (a
            tokenizer, a vocabulary). None when the task has none.
        training_set: ``training_set(args, data, train, data_options)`` -> ``(dataset,
            record)``: the training data ``rnnzoo train`` fits on, made from the loaded
            training split ``train`` of ``data`` (e.g. extended with teacher-labelled text),
            and what the card records of it (None: nothing). None: the split as loaded.
        refit_options: data options that, when true, put the validation split into the
            training data (the refit of a recipe validation has chosen: NER's
            ``with_validation``); see `trained_on`.
        test_option: a data option without which the data has no test part (textgen's
            ``test`` fraction, 0 unless given: tinyshakespeare is split train/validation
            only); None: the task's data always has one. See `has_test_split`.
    """

    name: str
    summary: str
    builders: tuple[str, ...]
    load: Callable[..., Any]
    metric: Callable[[ModelFn, Any], dict[str, float]]
    representative: Callable[..., list]
    loss: Any
    primary_metric: str
    lower_is_better: bool = True
    add_options: Callable[[argparse.ArgumentParser], None] = _no_options
    data_option_names: tuple[str, ...] = ()
    builder_config: Callable[[argparse.Namespace], tuple[str, dict]] | None = None
    needs_data: bool = True
    data_license: str = "see the dataset's terms"
    dataset_name: str = ""
    train_defaults: dict = field(default_factory=dict)
    add_predict_options: Callable[[argparse.ArgumentParser], None] = _no_options
    predict: Callable[[Any, argparse.Namespace], Any] | None = None
    config_data_options: Callable[[str, dict], dict] | None = None
    builder_config_from: Callable[[argparse.Namespace, Any], tuple[str, dict]] | None = None
    metric_option_names: tuple[str, ...] = ()
    preset_assets: Callable[[str, dict], dict] | None = None
    training_set: TrainingSet | None = None
    refit_options: tuple[str, ...] = ()
    test_option: str | None = None

    def metric_with(self, data_options: dict | None = None) -> Callable[[ModelFn, Any], dict]:
        """``metric`` with the data options it takes (``metric_option_names``) bound."""
        bound = {k: v for k, v in (data_options or {}).items() if k in self.metric_option_names}
        return functools.partial(self.metric, **bound) if bound else self.metric

    def trained_on(self, split: str, data_options: dict | None = None) -> bool:
        """Whether a model trained with ``data_options`` has seen ``split`` in training: the
        training split (and ``train+validation``) always, the validation split when a
        `refit_options` entry is set."""
        if split in ("train", "train+validation"):
            return True
        return split == "validation" and any((data_options or {}).get(name)
                                             for name in self.refit_options)

    def has_test_split(self, data_options: dict | None = None) -> bool:
        """Whether the data a model was trained with ``data_options`` has a test part."""
        return self.test_option is None or bool((data_options or {}).get(self.test_option))

    def data_options(self, args: argparse.Namespace) -> dict:
        """The data options given in parsed ``args`` (see `given_options`)."""
        return given_options(args, self.data_option_names)
