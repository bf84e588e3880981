"""The `Task` contract every task follows: data options read one way, and a representative
(int8 calibration) that takes the same data options as the loader."""

from __future__ import annotations

import argparse
import inspect

import pytest

import tasks
from tasks.common.task import given_options


def _keywords(function) -> tuple[set[str], bool]:
    """Keyword parameter names of ``function`` after ``(path, split_or_n)``, and **kwargs."""
    parameters = list(inspect.signature(function).parameters.values())[2:]
    names = {p.name for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


@pytest.mark.parametrize("name", tasks.list_tasks())
def test_representative_takes_the_data_options_of_load(name):
    task = tasks.get_task(name)
    load_options, _ = _keywords(task.load)
    representative_options, catch_all = _keywords(task.representative)
    assert not catch_all, "representative names its options (a misspelt one is an error)"
    assert load_options <= representative_options, load_options - representative_options
    assert set(task.data_option_names) <= load_options


@pytest.mark.parametrize("name", tasks.list_tasks())
def test_data_option_names_are_options_of_the_task(name):
    task = tasks.get_task(name)
    parser = argparse.ArgumentParser()
    task.add_options(parser)
    args = parser.parse_args([])
    missing = [n for n in task.data_option_names if not hasattr(args, n)]
    assert not missing, f"data options without a command-line option: {missing}"
    assert set(task.data_options(args)) <= set(task.data_option_names)


def test_given_options_skip_what_was_not_given_and_keep_zero():
    args = argparse.Namespace(a=None, b=False, c=[], d="", e=0, f=[0.9], g=True, h="x")
    assert given_options(args, ("a", "b", "c", "d", "e", "f", "g", "h", "missing")) == {
        "e": 0, "f": [0.9], "g": True, "h": "x"}


def test_adding_reads_its_options_like_every_task():
    task = tasks.get_task("adding")
    parser = argparse.ArgumentParser()
    task.add_options(parser)
    assert task.data_options(parser.parse_args([])) == {}
    assert task.data_options(parser.parse_args(["--length", "8", "--train-size", "0"])) == {
        "length": 8, "train_size": 0}


def test_speech_model_options_have_their_own_module():
    from tasks.speech import model_options

    parser = argparse.ArgumentParser()
    model_options.add_model_options(parser, units="64", conv="32", bidirectional=False)
    args = parser.parse_args(["--units", "8,16", "--speeds", "0.9,1.1"])
    assert args.units == [8, 16] and args.speeds == [0.9, 1.1]
    assert model_options.augment_settings(args, max_shift=10)["wave_augment"]["max_shift"] == 10
