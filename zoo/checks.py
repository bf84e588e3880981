"""Argument checks shared by the builders and tasks, so that one rule gives one message."""

from __future__ import annotations


def check_fraction(value: float, name: str) -> None:
    """Refuse a rate or fraction outside [0, 1) (dropout, a momentum, a split's share): a
    ValueError that names it, e.g. ``dropout must be in [0, 1), got 1.0``."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
