"""The shared [0, 1) check, and builders that rely on it."""

import math

import pytest

from zoo.checks import check_fraction
from zoo.layers import conv_recurrent, recurrent
from zoo.word_dropout import WordDropout


@pytest.mark.parametrize("value", [0.0, 0.5, 0.999])
def test_check_fraction_accepts_zero_to_below_one(value):
    check_fraction(value, "dropout")


@pytest.mark.parametrize("value", [1.0, -0.1, 2.0, math.nan])
def test_check_fraction_refuses_and_names_the_value(value):
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 1\), got "):
        check_fraction(value, "dropout")


@pytest.mark.parametrize("build", [
    lambda: recurrent("lstm", 4, dropout=1.0),
    lambda: conv_recurrent(4, dropout=-0.5),
])
def test_layer_factories_refuse_a_dropout_outside_zero_one(build):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        build()


def test_word_dropout_refuses_a_rate_of_one():
    with pytest.raises(ValueError, match=r"WordDropout rate must be in \[0, 1\), got 1.0"):
        WordDropout(1.0, unknown_id=1)
