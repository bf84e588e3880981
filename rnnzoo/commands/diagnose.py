"""``rnnzoo diagnose MODEL``: gradient flow through time (vanishing / exploding gradients)."""

from __future__ import annotations

import argparse

import numpy as np

from rnnzoo.commands.common import add_json_option, load_preset, preset_dataset, task_of
from rnnzoo.runtime import print_json


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    parser = sub.add_parser(
        "diagnose", help="show how gradients flow back through time",
        description="Print the norm of dLoss/dh_t at every time step t of a recurrent layer's "
                    "output (the first recurrent layer unless --layer), averaged over a batch. "
                    "Norms that fall by orders of magnitude going back in time are vanishing "
                    "gradients; norms that grow are exploding ones.")
    parser.add_argument("model", metavar="MODEL", help="preset name, folder, run folder or URL")
    parser.add_argument("--data", metavar="PATH", help="dataset (default: the one in the card)")
    parser.add_argument(
        "--split", default="validation", help="split to draw the batch from (default: validation)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="examples in the batch (default: 32)"
    )
    parser.add_argument("--layer", help="name of the recurrent layer to inspect")
    parser.add_argument("--plot", metavar="FILE", help="also write a PNG plot of the norms")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    preset = load_preset(args.model)
    task = task_of(preset)
    from zoo.diagnostics import gradient_norms, plot_gradient_norms

    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    dataset = preset_dataset(preset, task, args.data, args.split)
    batch = next(dataset.batch(args.batch_size).as_numpy_iterator(), None)
    if batch is None:
        raise ValueError(f"the {args.split} split is empty")
    norms = np.asarray(gradient_norms(preset.model, batch, layer=args.layer, loss=task.loss))
    if args.plot:
        plot_gradient_norms(norms, args.plot, title=f"{preset.name}: |dLoss/dh_t|")
    ratio = float(norms[0] / norms[-1]) if norms[-1] > 0 else float("inf")
    if args.json:
        print_json({"model": args.model, "norms": norms.tolist(), "first_over_last": ratio,
                    "plot": args.plot})
        return 0
    print(f"{preset.name}: |dLoss/dh_t| over {len(norms)} steps (batch of {len(batch[1])})")
    for t in _sample_steps(len(norms)):
        bar = "#" * max(0, int(round(np.log10(max(norms[t], 1e-30)) + 12)))
        print(f"  t={t + 1:>5}  {norms[t]:.3e}  {bar}")
    print(f"first/last ratio {ratio:.3e}"
          + ("  (vanishing)" if ratio < 1e-3 else "  (exploding)" if ratio > 1e3 else ""))
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0


def _sample_steps(length: int, count: int = 11) -> list[int]:
    """About ``count`` evenly spaced step indices, always the first and the last."""
    return sorted(set(np.linspace(0, length - 1, min(count, length)).round().astype(int).tolist()))
