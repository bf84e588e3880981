"""``rnnzoo export MODEL --out DIR``: SavedModel and TFLite files, verified, with a report.

This is where a preset's task is looked up: it supplies the representative data for int8
(``task.representative``: the training split of ``--calibration-data``, else of the dataset),
the evaluation data and the metric that `export.export_model` verifies every artifact with,
and the task name, data options and datasets stored next to every ``.tflite`` (so ``rnnzoo
evaluate`` can score an exported file on its own).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from export.artifact import (
    ARTIFACT_KINDS,
    CALIBRATED,
    DEFAULT_QUANTIZE,
    FORMATS,
    LSTM_OPS,
    QUANTIZE,
    QUANTIZE_ALIASES,
)
from rnnzoo.commands.common import (
    add_json_option,
    load_preset,
    preset_data,
    preset_dataset,
    scoring_split,
    task_of,
)
from rnnzoo.runtime import print_json


def _choices(text: str, allowed: tuple[str, ...], option: str,
             aliases: dict[str, str] | None = None) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    items = [(aliases or {}).get(item, item) for item in items]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise ValueError(f"{option}: unknown value {', '.join(unknown) or '(empty)'}; expected a "
                         f"comma-separated list of {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def _batch_size(text: str) -> int | None:
    if text == "dynamic":
        return None
    problem = f"expected a positive number or 'dynamic', got {text!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if value < 1:
        raise argparse.ArgumentTypeError(problem)
    return value


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "export", help="export a model to SavedModel and (quantized) TFLite, and verify it",
        description="Export a preset (name, folder, run folder or URL) to a SavedModel "
                    "(serving_default and step signatures) and TFLite files (sequence and "
                    "single-step models, float32/fp16/dynamic-range/int8/int16x8), verify each "
                    "against the Keras model with the task's metric, and write "
                    "DIR/report.json.",
        epilog="Dynamic batch: --batch-size dynamic exports TFLite files with a dynamic batch "
               "axis (call interpreter.resize_tensor_input, then allocate_tensors, before "
               "invoking); their sequence models loop over the step model.")
    parser.add_argument("model", metavar="MODEL", help="preset name, folder, run folder or URL")
    parser.add_argument("--out", metavar="DIR", required=True, help="export folder to create")
    parser.add_argument("--format", default=",".join(FORMATS),
                        help="comma-separated: savedmodel, tflite (default: both)")
    parser.add_argument("--quantize", default=",".join(DEFAULT_QUANTIZE),
                        help="TFLite variants, comma-separated: fp32 (float32; also 'none'), "
                             "fp16, dynamic (int8 weights), int8 (full integer), int16x8 "
                             "(16-bit activations, int8 weights: finer recurrent state than int8 "
                             "at about its size; not for models with float layers, or ops "
                             "without a 16-bit kernel); each file is named after it, e.g. "
                             "sequence.fp32.tflite (default: "
                             f"{','.join(DEFAULT_QUANTIZE)})")
    parser.add_argument("--kinds", default=",".join(ARTIFACT_KINDS),
                        help="TFLite models: sequence (whole sequence), step (one time step "
                             "with explicit states; unidirectional models) (default: both)")
    parser.add_argument("--int8-io", action="store_true",
                        help="int8 input and output tensors for the int8 files (default: float; "
                             "int16x8 files always take and give float)")
    parser.add_argument("--batch-size", type=_batch_size, default=1,
                        help="TFLite batch size, a number or 'dynamic' (default: 1)")
    parser.add_argument("--data", metavar="PATH",
                        help="dataset the files are verified on (default: the card's); its "
                             "training split calibrates int8 unless --calibration-data")
    parser.add_argument("--calibration-data", metavar="PATH",
                        help="dataset whose training split calibrates the int8 and int16x8 "
                             "files (min/max over the float model's activations and states on "
                             "whole sequences) (default: "
                             "that of --data, else of the card's dataset); keep it apart from "
                             "the data the files are verified on")
    parser.add_argument("--split",
                        help="split the artifacts are verified on (default: validation; test "
                             "for a preset trained on its validation split too, such as "
                             "ner-conll2003)")
    parser.add_argument("--eval-examples", type=int, default=1000,
                        help="examples of that split used for verification (default: 1000)")
    parser.add_argument("--representative", type=int, default=CALIBRATION_EXAMPLES,
                        help="representative sequences for int8 and int16x8 calibration "
                             f"(default: {CALIBRATION_EXAMPLES})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing export folder")
    parser.add_argument("--allow-flex", action="store_true",
                        help="let TensorFlow (Flex) ops into the TFLite files "
                             "(default: builtin only)")
    parser.add_argument("--per-channel", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="quantize int8 weights per output channel (a float32 scale and "
                             "an int64 zero point per channel: larger files) or per tensor "
                             "(default: the preset card's export_defaults, chosen on "
                             "validation data where per tensor lost the metric, else per "
                             "tensor; int16x8 weights are always per channel)")
    parser.add_argument("--float-cell-state", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="int8 files keep each LSTM's cell-state update (f*c + i*g and "
                             "its tanh) in float, the matmuls int8: the long-range memory is "
                             "not rounded to 8 bits at every step, at the same size and "
                             "about the same speed, but the file is no longer integer-only "
                             "(default: the preset card's export_defaults, chosen on "
                             "validation data where int8 lost the metric, else off; fused "
                             "LSTM files keep a 16-bit cell state either way)")
    parser.add_argument("--lstm-op", choices=LSTM_OPS, default="loop",
                        help="how LSTM layers appear in the TFLite sequence files: loop (Keras "
                             "3's WHILE loop; int8 as an int8 step model run by a WHILE loop) or "
                             "fused (TFLite's builtin UNIDIRECTIONAL_SEQUENCE_LSTM op, no WHILE "
                             "loop, as TensorFlow Lite Micro and NPU delegates want; int8 too, "
                             "with a 16-bit cell state; LSTM layers only (bidirectional and "
                             "stacked too), a fixed batch size; the file keeps its state in "
                             "TFLite variables: call interpreter.reset_all_variables() before "
                             "each sequence) (default: loop; step files are the same either "
                             "way)")
    parser.add_argument("--float-layers", metavar="NAMES",
                        help="comma-separated layers that int8 files keep in float, or 'none' "
                             "(default: the audio front end and the normalization after it)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def _float_layers(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [] if text.strip() == "none" else [n.strip() for n in text.split(",") if n.strip()]


def _preset_source(model: str, preset, out: str) -> dict:
    """How ``rnnzoo evaluate --record`` finds the preset again, without an absolute path: the
    preset name or URL as given, else its folder relative to the export folder ``out``."""
    import zoo
    from zoo.download import url_scheme

    if model in zoo.list_presets():
        return {"name": model}
    if url_scheme(model) in ("http", "https"):
        return {"url": model}
    try:
        folder = os.path.relpath(Path(preset.path).resolve(), Path(out).expanduser().resolve())
    except ValueError:  # another drive (Windows): nothing portable to record
        return {}
    return {"folder": Path(folder).as_posix()}


def export_defaults(card: dict) -> dict:
    """The export options a preset's card asks for (``export_defaults``, e.g. ``{"per_channel":
    true, "why": "..."}``: chosen on validation data when it was trained); an explicit option
    of ``rnnzoo export`` overrides them."""
    defaults = card.get("export_defaults") or {}
    if not isinstance(defaults, dict):
        raise ValueError(f"card export_defaults must be an object, got {defaults!r}")
    return defaults


FROM_CARD = " (the preset card's export_defaults)"
CALIBRATION_EXAMPLES = 200  # int8 calibration examples of `rnnzoo export` (--representative)
CARD_OPTIONS = ("per_channel", "float_cell_state")


def card_export_options(card: dict) -> dict[str, bool]:
    """The `export.export_model` options a card's ``export_defaults`` set (of `CARD_OPTIONS`),
    for code that exports a preset without `export_preset`, as the task benchmarks do."""
    defaults = export_defaults(card)
    return {key: bool(defaults[key]) for key in CARD_OPTIONS if key in defaults}


def card_options_lines(options: dict[str, bool] | None) -> list[str]:
    """A benchmark table's line naming the options `card_export_options` set (none: [])."""
    on = [key for key, value in (options or {}).items() if value]
    return [f"int8 export options from the preset card: {', '.join(on)}"] if on else []


def _option_or_card(value: bool | None, defaults: dict, key: str) -> tuple[bool, bool]:
    """An export option's value (``None``: the card's ``export_defaults[key]``, else False)
    and whether it came from the card."""
    if value is None:
        return bool(defaults.get(key, False)), True
    return value, False


def export_preset(model: str, out: str, *, formats: list[str], quantize: list[str],
                  kinds: list[str], int8_io: bool = False, batch_size: int | None = 1,
                  data: str | None = None, calibration_data: str | None = None,
                  split: str | None = None, eval_examples: int = 1000,
                  representative: int = CALIBRATION_EXAMPLES, overwrite: bool = False,
                  allow_flex: bool = False,
                  per_channel: bool | None = None, float_layers: list[str] | None = None,
                  lstm_op: str = "loop", float_cell_state: bool | None = None,
                  latency: bool = True) -> tuple[dict, dict | None, str | None]:
    """Export preset ``model`` (name, folder, run folder or URL) to ``out`` as ``rnnzoo
    export`` does: its task's calibration data, evaluation data and metric; ``per_channel``
    and ``float_cell_state`` None take the card's ``export_defaults`` (`export_defaults`).
    ``split`` None verifies on validation, or on test for a preset trained on its
    validation split too (`rnnzoo.commands.common.scoring_split`; the choice is printed).
    Returns the report, the calibration record (None without int8/int16x8) and its one-line
    description."""
    from tasks.common.data_paths import data_record

    preset = load_preset(model)
    defaults = export_defaults(preset.card)
    per_channel, from_card = _option_or_card(per_channel, defaults, "per_channel")
    float_cell_state, cell_from_card = _option_or_card(float_cell_state, defaults,
                                                       "float_cell_state")
    task = task_of(preset)
    data_path = preset_data(preset, task, data)
    options = dict(preset.card.get("data_options", {}))
    samples = calibration = calibration_line = None
    if "tflite" in formats and any(q in CALIBRATED for q in quantize):
        source = calibration_data or data_path
        samples = task.representative(source, representative, **options)
        calibration = {"data": data_record(source, keep_outside=False), "split": "train",
                       "examples": len(samples)}
        shown = source if source else f"generated {task.name} data"
        modes = " and ".join(q for q in quantize if q in CALIBRATED)
        calibration_line = (f"{modes} calibrated on {len(samples)} examples of the train "
                            f"split of {shown}")
        if "int8" in quantize:
            weights = "per channel" if per_channel else "per tensor"
            calibration["int8_weights"] = weights.replace(" ", "_")
            calibration_line += (f"; int8 weights {weights}"
                                 + (FROM_CARD if from_card and per_channel else ""))
            if float_cell_state:
                calibration["float_cell_state"] = True
                calibration_line += ("; LSTM cell states in float"
                                     + (FROM_CARD if cell_from_card else ""))
    split, note = scoring_split(task, options, split)
    if note:
        print(f"rnnzoo export: note: {preset.name}: {note}", file=sys.stderr)
    dataset = preset_dataset(preset, task, data, split).take(eval_examples)

    metadata = {
        "task": task.name, "data_options": options,
        "data": data_record(data_path, keep_outside=False), "split": split,
        "preset": preset.name, "preset_source": _preset_source(model, preset, out),
        "builder": preset.builder, "license": preset.card.get("license"),
        **({"calibration": calibration} if calibration else {}),
    }
    import export

    report = export.export_model(
        preset.model, out, formats=formats, quantize=quantize, kinds=kinds,
        io_dtype="int8" if int8_io else "float32", representative=samples,
        dataset=dataset, metric=task.metric_with(options), metric_name=task.primary_metric,
        metadata=metadata, assets=preset.assets, allow_flex=allow_flex,
        batch_size=batch_size, overwrite=overwrite, name=preset.name,
        per_channel=per_channel, float_layers=float_layers, lstm_op=lstm_op,
        float_cell_state=float_cell_state, latency=latency,
        # metadata.json only: a text model's config repeats its vocabulary, which the files
        # already carry in data_options and assets
        folder_metadata={"builder_config": preset.config.get("config", {})})
    return report, calibration, calibration_line


def run(args: argparse.Namespace) -> int:
    formats = _choices(args.format, FORMATS, "--format")
    quantize = _choices(args.quantize, QUANTIZE, "--quantize", QUANTIZE_ALIASES)
    kinds = _choices(args.kinds, ARTIFACT_KINDS, "--kinds")
    if args.eval_examples < 1 or args.representative < 1:
        raise ValueError("--eval-examples and --representative must be positive")
    from export.files import check_target

    check_target(args.out, overwrite=args.overwrite)  # refuse before any slow work
    report, calibration, calibration_line = export_preset(
        args.model, args.out, formats=formats, quantize=quantize, kinds=kinds,
        int8_io=args.int8_io, batch_size=args.batch_size, data=args.data,
        calibration_data=args.calibration_data, split=args.split,
        eval_examples=args.eval_examples, representative=args.representative,
        overwrite=args.overwrite, allow_flex=args.allow_flex, per_channel=args.per_channel,
        float_layers=_float_layers(args.float_layers), lstm_op=args.lstm_op,
        float_cell_state=args.float_cell_state)
    if args.json:
        print_json({"out": str(args.out), "report": report, "calibration": calibration})
        return 0
    import export

    print(export.format_table(report))
    if calibration:
        print(calibration_line)
    print(f"exported to {args.out} (report.json, metadata.json)")
    return 0
