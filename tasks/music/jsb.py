"""Task ``music-jsb``: polyphonic piano-roll modelling of the JSB chorales."""

from __future__ import annotations

import argparse

import keras

from tasks.common.task import Task
from tasks.music.model_options import add_model_options, builder_config
from tasks.music.pianoroll import load_jsb, metric, representative_jsb

KINDS = ("gru", "lstm", "simple")
KEY_MODELS = ("independent", "triangular", "nade", "rnn-nade")
AR_KINDS = ("gru", "lstm")  # kinds with an autoregressive builder (music-pianoroll-<kind>-ar)


def _add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("music-jsb (piano roll)")
    add_model_options(group, kinds=KINDS, default_units=100, output="the output",
                      inputs="the input frames")
    group.add_argument("--keys", choices=KEY_MODELS, default="independent",
                       help="how the keys of a frame are modelled: independent Bernoullis, or "
                            "in order, each given the lower keys, through a strictly "
                            "triangular dense (triangular), a NADE hidden layer (nade), or a "
                            "NADE hidden layer whose bias also reads the recurrent state "
                            "(rnn-nade, Boulanger-Lewandowski et al. 2012) "
                            "(default: independent)")
    group.add_argument("--nade-units", type=int, default=100,
                       help="hidden units of the NADE key model (--keys nade or rnn-nade; "
                            "default: 100)")
    group.add_argument("--resolution", choices=("quarter", "8th", "16th"), default=None,
                       help="JSB time resolution (default: quarter, the published split)")
    group.add_argument("--transpose", type=int, default=None, metavar="SEMITONES",
                       help="augment the training chorales with copies transposed by up to "
                            "this many semitones down and up (copies that would leave the "
                            "88 keys are skipped; validation and test are never transposed; "
                            "default: none)")
    group.add_argument("--limit", type=int, default=None,
                       help="use only the first N chorales of each split (quick runs)")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    builder, config = builder_config(args, "music-pianoroll")
    keys = getattr(args, "keys", "independent")
    if keys == "independent":
        return builder, config
    if args.kind not in AR_KINDS:
        raise ValueError(f"--keys {keys} needs --kind {' or '.join(AR_KINDS)}, not {args.kind}")
    config["form"] = keys
    if keys in ("nade", "rnn-nade"):
        config["nade_units"] = args.nade_units
    return f"{builder}-ar", config


def _config_data_options(builder: str, config: dict) -> dict:
    """Autoregressive models take the frame they model as an input too."""
    return {"frame_input": True} if builder.endswith("-ar") else {}


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.music.predict import add_pianoroll_options

    add_pianoroll_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.music.predict import predict_pianoroll

    return predict_pianoroll(preset, args)


TASK = Task(
    name="music-jsb",
    summary="JSB chorales piano roll (88 keys, quarter notes): frame-level NLL in nats per step",
    builders=("music-pianoroll-gru", "music-pianoroll-lstm", "music-pianoroll-simple",
              "music-pianoroll-gru-ar", "music-pianoroll-lstm-ar"),
    load=load_jsb,
    metric=metric,
    representative=representative_jsb,
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    primary_metric="nll",
    lower_is_better=True,
    add_options=_add_options,
    data_option_names=("resolution", "limit", "transpose"),
    builder_config=_builder_config,
    needs_data=True,
    data_license="public domain music (J. S. Bach); research copy of the Boulanger-Lewandowski "
                 "et al. 2012 split",
    dataset_name="JSB chorales, quarter-note piano rolls, split of Boulanger-Lewandowski et al. "
                 "2012 (229/76/77 chorales)",
    train_defaults={"epochs": 200, "batch_size": 16, "learning_rate": 3e-3, "patience": 25},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
)
