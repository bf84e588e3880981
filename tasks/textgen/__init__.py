"""Task ``textgen``: character-level language models that generate text (one-to-many).

Data: `tasks.textgen.data` (a UTF-8 text file, contiguous 90/10 train/validation split,
character windows); metric: `tasks.textgen.metrics` (nats and bits per character); models:
`zoo.textgen`; sampling: `tasks.textgen.sampling` (Keras) and `tasks.textgen.tflite_sampler`
(exported step file); ``rnnzoo predict``: `tasks.textgen.predict`.
"""

from __future__ import annotations

import argparse

import keras

from tasks.common.task import Task
from tasks.textgen.data import DEFAULTS, load, representative, training_vocabulary
from tasks.textgen.metrics import metric

KINDS = ("lstm", "gru")
DATA_OPTIONS = ("length", "stride", "validation", "test")
VOCABULARY_ASSET = "characters.json"


def _add_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("textgen data (--data FILE.txt)")
    data.add_argument("--length", type=int,
                      help=f"characters per training sequence (default: {DEFAULTS['length']})")
    data.add_argument("--stride", type=int,
                      help="characters between the starts of training sequences (default: the "
                           "length; smaller overlaps them)")
    data.add_argument("--validation-fraction", dest="validation", type=float,
                      help=f"fraction at the end of the text (before any test part) for "
                           f"validation (default: {DEFAULTS['validation']})")
    data.add_argument("--test-fraction", dest="test", type=float,
                      help="fraction at the very end of the text for test (default: 0, no "
                           "test part, as char-rnn and nanoGPT split tinyshakespeare)")
    model = parser.add_argument_group("textgen model")
    model.add_argument("--kind", choices=KINDS, default="lstm",
                       help="recurrent kind (default: lstm)")
    model.add_argument("--units", type=int, nargs="+", default=[256],
                       help="units of each stacked recurrent layer (default: 256)")
    model.add_argument("--embedding", type=int, default=64,
                       help="character embedding width (default: 64)")
    model.add_argument("--dropout", type=float, default=0.0,
                       help="dropout after each recurrent layer (default: 0)")


def _builder_config(args: argparse.Namespace) -> tuple[str, dict]:
    options = TASK.data_options(args)
    vocabulary = training_vocabulary(args.data, validation=options.get(
        "validation", DEFAULTS["validation"]), test=options.get("test", DEFAULTS["test"]))
    units = list(args.units)
    return f"textgen-char-{args.kind}", {
        "characters": list(vocabulary.tokens), "units": units[0] if len(units) == 1 else units,
        "embedding": args.embedding, "dropout": args.dropout}


def _config_data_options(builder: str, config: dict) -> dict:
    return {"characters": list(config["characters"])}


def _preset_assets(builder: str, config: dict) -> dict[str, str]:
    import tempfile
    from pathlib import Path

    from tasks.common.characters import CharVocabulary

    with tempfile.TemporaryDirectory() as folder:
        path = CharVocabulary(config["characters"]).save(Path(folder) / VOCABULARY_ASSET)
        return {VOCABULARY_ASSET: path.read_text(encoding="utf-8")}


def _add_predict_options(parser: argparse.ArgumentParser) -> None:
    from tasks.textgen.predict import add_predict_options

    add_predict_options(parser)


def _predict(preset, args: argparse.Namespace):
    from tasks.textgen.predict import predict

    return predict(preset, args)


TASK = Task(
    name="textgen",
    summary="Character-level text generation (a UTF-8 text file): validation nats and bits "
            "per character; sampling with temperature, top-k and a seed",
    builders=("textgen-char-lstm", "textgen-char-gru"),
    load=load,
    metric=metric,
    representative=representative,
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    primary_metric="nats_per_char",
    lower_is_better=True,
    add_options=_add_options,
    data_option_names=DATA_OPTIONS,
    test_option="test",
    builder_config=_builder_config,
    needs_data=True,
    data_license="public domain text (tinyshakespeare: Shakespeare's plays, as collected by "
                 "A. Karpathy for char-rnn); for another text, its own terms",
    dataset_name="UTF-8 text, contiguous split: first 90 % train, last 10 % validation "
                 "(char-rnn / nanoGPT)",
    train_defaults={"epochs": 30, "batch_size": 64, "learning_rate": 2e-3, "patience": 5},
    add_predict_options=_add_predict_options,
    predict=_predict,
    config_data_options=_config_data_options,
    preset_assets=_preset_assets,
)
