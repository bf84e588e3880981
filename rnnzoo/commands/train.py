"""``rnnzoo train TASK --out DIR``: train a zoo model on a task and save it as a preset."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rnnzoo.commands.common import add_json_option, task_in_argv
from rnnzoo.runtime import format_value, print_json, start_tensorflow

PRESET_SUBFOLDER = "preset"


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "train", help="train a model on a task and save it as a preset",
        description="Train a zoo model on a task. DIR receives checkpoints every epoch "
                    "(resume with --resume), TensorBoard and CSV logs, summary.json, and the "
                    "trained preset in DIR/preset. The card's metrics are on the validation "
                    "split; 'rnnzoo evaluate DIR --split test --record' adds the test figures.",
        epilog="Task options: rnnzoo train TASK --help (e.g. rnnzoo train adding --help).")
    parser.add_argument("task", metavar="TASK", help="task name (rnnzoo list --tasks)")
    parser.add_argument("--data", metavar="PATH",
                        help="dataset folder or file (synthetic tasks need none; with --from: "
                             "default the source preset's); recorded in the card relative to "
                             "the data root ($RNNZOO_DATA, else ../shared/data) when under it")
    parser.add_argument("--out", metavar="DIR", required=True, help="run folder to create")
    parser.add_argument("--from", dest="from_preset", metavar="PRESET",
                        help="fine-tune this preset (name, folder or URL) instead of a new model")
    parser.add_argument("--freeze-epochs", type=int, default=0, metavar="N",
                        help="with --from a preset of another task: the layers taken from it "
                             "stay frozen for N epochs (only the new layers learn), then thaw "
                             "one per epoch from the top (ULMFiT's gradual unfreezing) "
                             "(default: 0, all layers learn from the start)")
    parser.add_argument("--layer-rate-decay", type=float, default=1.0, metavar="D",
                        help="with --from a preset of another task: the k-th layer taken from "
                             "it, counted from the top, learns at D**k times the learning rate "
                             "(ULMFiT's discriminative rates: 0.38) (default: 1)")
    parser.add_argument("--adversarial", type=float, default=0.0, metavar="EPS",
                        help="text models: also train on word embeddings pushed the way that "
                             "raises the loss most, by EPS times their norm (Miyato et al. "
                             "2017's adversarial training; doubles the cost of a step) "
                             "(default: 0, off)")
    parser.add_argument("--ema", type=float, metavar="MOMENTUM",
                        help="validate, select and keep the exponential moving average of the "
                             "weights over the training steps with this momentum (e.g. 0.999: "
                             "about the last 1,000 steps) instead of the last step's weights "
                             "(default: off)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default: the task's)")
    parser.add_argument("--batch-size", type=int,
                        help="examples per replica and step (default: the task's)")
    parser.add_argument("--learning-rate", type=float,
                        help="peak learning rate (default: the task's; a tenth of it with --from)")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                        help="learning-rate schedule (default: cosine decay)")
    parser.add_argument("--clipnorm", type=float, default=1.0,
                        help="clip the global gradient norm to this value; 0 turns clipping "
                             "off (default: 1.0)")
    parser.add_argument("--patience", type=int,
                        help="early-stopping patience in epochs; 0 turns it off (default: the "
                             "task's)")
    parser.add_argument("--select-on", choices=("loss", "metric"), default="loss",
                        help="choose the best epoch (checkpoint, early stopping, the weights "
                             "kept) on the validation loss, or on the task's metric computed "
                             "on the validation split at every epoch end (e.g. entity F1; "
                             "slower) (default: loss)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"),
                        default="default",
                        help="tf.distribute strategy; multiworker reads TF_CONFIG "
                             "(default: default)")
    parser.add_argument("--name", help="preset name written in its card (default: the name of DIR)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress output")
    add_json_option(parser)
    task_name = task_in_argv(argv, "train")
    if task_name:
        import tasks

        tasks.get_task(task_name).add_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    start_tensorflow()
    import tasks
    import zoo
    from tasks.common.data_paths import data_record, resolve_data
    from tasks.common.fit import fit
    from tasks.common.strategy import get_strategy
    from tasks.common.weight_average import check_momentum

    task = tasks.get_task(args.task)
    check_momentum(args.ema, "--ema")  # before the data is read
    if task.needs_data and not args.data and not args.from_preset:
        raise ValueError(f"task {task.name} needs --data PATH")
    strategy = get_strategy(args.strategy)  # before any other TensorFlow op (multi-worker)
    defaults = {"epochs": 10, "batch_size": 64, "learning_rate": 1e-3, "patience": 5,
                **task.train_defaults}
    out_dir = Path(args.out)
    layer_schedule = _layer_schedule(args)

    source = zoo.load(args.from_preset) if args.from_preset else None
    if source is not None and source.card.get("task") != task.name:
        if task.builder_config_from is None:
            raise ValueError(f"preset {args.from_preset} was trained for task "
                             f"{source.card.get('task')!r}, not {task.name!r}")
        from tasks.common.transfer import transfer_weights

        if not args.data:
            raise ValueError(f"task {task.name} needs --data PATH (the preset {args.from_preset}"
                             f" is of task {source.card.get('task')!r})")
        data = resolve_data(args.data, None, task)
        data_options = task.data_options(args)
        builder, builder_config = task.builder_config_from(args, source)
        build_model = lambda: transfer_weights(  # noqa: E731 (built in scope)
            zoo.build(builder, **builder_config), source.model, args.from_preset)
    elif layer_schedule is not None:
        raise ValueError("--freeze-epochs and --layer-rate-decay apply to the layers taken from "
                         "--from a preset of another task")
    elif source is not None:
        data = resolve_data(args.data, source.card, task)
        data_options = {**source.card.get("data_options", {}), **task.data_options(args)}
        builder, builder_config = source.model.rnnzoo_builder, source.model.rnnzoo_config
        build_model = lambda: zoo.load(args.from_preset).model  # noqa: E731 (built in scope)
        defaults["learning_rate"] /= 10
    else:
        data = resolve_data(args.data, None, task)
        data_options = task.data_options(args)
        builder, builder_config = task.builder_config(args)
        build_model = lambda: zoo.build(builder, **builder_config)  # noqa: E731

    if task.config_data_options is not None:
        data_options.update(task.config_data_options(builder, builder_config))
    train = task.load(data, "train", **data_options)
    training_record = None
    if task.training_set is not None:
        train, training_record = task.training_set(args, data, train, data_options)
    validation = task.load(data, "validation", **data_options)
    if task.trained_on("validation", data_options):
        print("rnnzoo train: note: the validation split is part of the training data here (a "
              "refit): early stopping, --select-on and the card's validation figures read "
              "training data; score the preset with 'rnnzoo evaluate RUN --split test'",
              file=sys.stderr)
    patience = defaults["patience"] if args.patience is None else args.patience
    selection = None
    if args.select_on == "metric":
        selection = _metric_selection(task, data_options, validation)
    result = fit(
        build_model, train, validation, out_dir=out_dir, loss=task.loss,
        epochs=args.epochs or defaults["epochs"],
        batch_size=args.batch_size or defaults["batch_size"],
        learning_rate=args.learning_rate or defaults["learning_rate"],
        schedule=args.schedule, clipnorm=args.clipnorm or None,
        early_stopping_patience=patience or None, resume=args.resume, seed=args.seed,
        strategy=strategy, verbose=_verbosity(args), selection=selection,
        layer_schedule=layer_schedule, adversarial=args.adversarial, ema=args.ema)

    model = result.model
    model.rnnzoo_builder, model.rnnzoo_config = builder, builder_config
    figures = task.metric_with(data_options)(model.predict_on_batch, validation)
    record = data_record(data)  # relative to the data root when under it
    card = {
        "task": task.name,
        "dataset": task.dataset_name,
        **({"data": record} if record else {}),
        "data_options": data_options,
        "split": "validation",
        "metrics": {"keras": figures},
        "training": {"epochs": result.epochs_completed, "optimizer_steps": result.optimizer_steps,
                     "seconds": round(result.seconds, 1), "seed": args.seed,
                     "fine_tuned_from": args.from_preset,
                     **({"adversarial": args.adversarial} if args.adversarial else {}),
                     **({"ema": args.ema} if args.ema is not None else {}),
                     **(training_record or {})},
        "training_command": _training_command(
            sys.argv[1:] if sys.argv[1:2] == ["train"] else [
                "train", args.task, "--out", str(out_dir)], record),
        "license": {"data": task.data_license, "weights": _weights_license(task)},
    }
    assets = (task.preset_assets(builder, builder_config)
              if task.preset_assets is not None else None)
    preset_dir = zoo.save(model, out_dir / PRESET_SUBFOLDER, card=card, overwrite=True,
                          name=args.name or out_dir.resolve().name, assets=assets)
    if args.json:
        print_json({"preset": str(preset_dir), "metrics": figures, "split": "validation",
                    "summary": result.summary_line()})
        return 0
    text = ", ".join(f"{k} {format_value(v)}" for k, v in figures.items())
    print(f"validation: {text}")
    print(f"preset saved to {preset_dir}")
    return 0


def _layer_schedule(args: argparse.Namespace):
    """The `LayerSchedule` of ``--freeze-epochs`` and ``--layer-rate-decay`` (None when
    neither is given)."""
    from tasks.common.finetune import LayerSchedule

    if args.freeze_epochs < 0:
        raise ValueError(f"--freeze-epochs must be 0 or more, got {args.freeze_epochs}")
    if not 0 < args.layer_rate_decay <= 1:
        raise ValueError(f"--layer-rate-decay must be in (0, 1], got {args.layer_rate_decay}")
    schedule = LayerSchedule(freeze_epochs=args.freeze_epochs,
                             rate_decay=args.layer_rate_decay)
    return schedule if schedule.active else None


def _metric_selection(task, data_options: dict, validation):
    """A `Selection` on the task's primary metric over the validation split."""
    from tasks.common.selection import Selection

    metric = task.metric_with(data_options)
    return Selection(
        name=task.primary_metric,
        compute=lambda model: metric(model.predict_on_batch, validation)[task.primary_metric],
        higher_is_better=not task.lower_is_better)


def _training_command(argv: list[str], record: dict | None) -> str:
    """The command line as typed, with ``--data`` written relative to the default data root
    (``../shared/data/<path>``) when the data lies under the data root, so that the card
    names no folder of this machine."""
    from tasks.common.data_paths import DEFAULT_ROOT

    if record and record.get("path"):
        value = (DEFAULT_ROOT / record["path"]).as_posix()
        argv = [f"--data={value}" if arg.startswith("--data=") else arg for arg in argv]
        argv = [value if i and argv[i - 1] == "--data" else arg for i, arg in enumerate(argv)]
    return "rnnzoo " + shlex.join(argv)


def _verbosity(args: argparse.Namespace) -> int | str:
    """Keras verbosity: a progress bar on a terminal, one line per epoch in a log file."""
    if args.quiet or args.json:
        return 0
    return "auto" if sys.stdout.isatty() else 2


def _weights_license(task) -> str:
    """Terms of trained weights: Apache-2.0 code, plus whatever the training data's terms impose."""
    if "no licence" in task.data_license:
        return "Apache-2.0"
    return f"Apache-2.0, subject to the training data's terms ({task.data_license})"
