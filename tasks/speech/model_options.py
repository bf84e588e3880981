"""Model options shared by the speech tasks (the digit classifier and the CTC tasks)."""

from __future__ import annotations

import argparse


def floats(text: str) -> list[float]:
    """argparse type: comma-separated numbers (``0.9,1.1``)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None


def ints(text: str) -> list[int]:
    """argparse type: comma-separated whole numbers (``64,64``)."""
    return [int(v) for v in floats(text)]


def add_model_options(group, *, units: str, conv: str, bidirectional: bool,
                      dropout: float = 0.2, spec_augment: bool = True) -> None:
    """Options shared by the speech tasks' models (the keywords are each task's defaults)."""
    group.add_argument("--kind", choices=("gru", "lstm", "simple"), default="gru",
                       help="recurrent layer kind (default: gru)")
    group.add_argument("--units", type=ints, default=ints(units),
                       help=f"recurrent layer widths, comma-separated (default: {units})")
    group.add_argument("--conv-filters", type=ints, default=ints(conv),
                       help=f"conv layer widths, comma-separated (default: {conv})")
    group.add_argument("--bidirectional", action=argparse.BooleanOptionalAction,
                       default=bidirectional,
                       help=f"bidirectional recurrent layers (default: {bidirectional})")
    group.add_argument("--n-mels", type=int, default=40, help="mel bands (default: 40)")
    group.add_argument("--dropout", type=float, default=dropout,
                       help=f"dropout (default: {dropout})")
    group.add_argument("--spec-augment", action=argparse.BooleanOptionalAction,
                       default=spec_augment, help="SpecAugment time and frequency masks in "
                       f"training (default: {'on' if spec_augment else 'off'})")
    group.add_argument("--wave-augment", action=argparse.BooleanOptionalAction, default=True,
                       help="random gain, noise and shift in training (default: on)")
    group.add_argument("--speeds", type=floats, default=[],
                       help="speed-perturbed training copies, e.g. 0.9,1.1 (default: none)")
    group.add_argument("--pitches", type=floats, default=[],
                       help="pitch-shifted training copies in semitones, e.g. -2,2 "
                            "(default: none)")
    group.add_argument("--strict", action="store_true",
                       help="fail on the first bad audio file instead of skipping it")


def augment_settings(args: argparse.Namespace, *, max_shift: int) -> dict:
    """The ``wave_augment`` and ``spec_augment`` builder settings the options ask for."""
    return {
        "wave_augment": {"gain_db": 6.0, "snr_min": 10.0, "snr_max": 40.0, "max_shift": max_shift}
        if args.wave_augment else None,
        "spec_augment": {"time_masks": 2, "max_time": 8, "freq_masks": 2, "max_freq": 6}
        if args.spec_augment else None,
    }
