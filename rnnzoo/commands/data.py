"""``rnnzoo data NAME --out DIR``: write a procedural dataset in the layout of user data.

``rnnzoo data`` alone lists the datasets it can write. Each dataset names its own options in
`DATASETS`; they are added to the parser when the command line names the dataset, as task
options are for ``rnnzoo train TASK``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnzoo.commands.common import add_json_option
from rnnzoo.runtime import print_json


@dataclass(frozen=True)
class Dataset:
    """A dataset ``rnnzoo data`` writes: a one-line summary, its options and its writer
    (parsed arguments -> summary dict with at least ``out``)."""

    summary: str
    add_options: Callable[[argparse.ArgumentParser], None]
    write: Callable[[argparse.Namespace], dict[str, Any]]
    unit: str = "clips"  # what the summary's splits count (``splits[name][unit]``)


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _lengths(text: str) -> tuple[int, int]:
    """``N`` or ``LOW-HIGH`` frames."""
    try:
        low, _, high = text.partition("-")
        low_value, high_value = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a frame count N or a range LOW-HIGH, got {text!r}") from None
    if low_value < 2 or high_value < low_value:
        raise argparse.ArgumentTypeError(
            f"clips need at least 2 frames, shortest first; got {text!r}")
    return low_value, high_value


def _even_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an even number of pixels, got {text!r}") \
            from None
    if value < 16 or value % 2:
        raise argparse.ArgumentTypeError(
            f"expected an even number of pixels, at least 16 (H.264), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _video_actions_options(parser: argparse.ArgumentParser) -> None:
    from tasks.video import synthetic

    low, high = synthetic.FRAMES
    group = parser.add_argument_group(
        "video-actions",
        f"Stick figures doing {len(synthetic.ACTIONS)} actions ({', '.join(synthetic.ACTIONS)})"
        f"; written as DIR/<action>/<clip>.mp4 with classInd.txt, trainlist01.txt and "
        f"testlist01.txt (UCF101's layout), clips.csv, metadata.json and README.txt. Training "
        f"clips come from --seed, test clips from --test-seed.")
    group.add_argument("--clips-per-class", type=_positive_int, default=1000, metavar="N",
                       help="training clips per action (default: 1000, as rnnzoo train "
                            "video-actions writes)")
    group.add_argument("--test-clips-per-class", type=_non_negative_int, metavar="M",
                       help="test clips per action (default: a third of N, at least 1)")
    group.add_argument("--test-seed", type=_non_negative_int, metavar="S",
                       help=f"seed of the test clips; must differ from --seed (default: --seed "
                            f"+ {synthetic.TEST_SEED_OFFSET})")
    group.add_argument("--frames", type=_lengths, default=synthetic.FRAMES, metavar="F",
                       help=f"clip length in frames: N, or LOW-HIGH drawn uniformly per clip "
                            f"(default: {low}-{high})")
    group.add_argument("--size", type=_even_size, default=synthetic.SIZE, metavar="P",
                       help=f"frame width and height in pixels, even (default: {synthetic.SIZE})")
    group.add_argument("--fps", type=_positive_float, default=synthetic.FPS,
                       help=f"frames per second (default: {synthetic.FPS:g})")


def _size_32_to_512(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 32 <= value <= 512:
        raise argparse.ArgumentTypeError(f"expected a size from 32 to 512 pixels, got {text!r}")
    return value


def _captioning_shapes_options(parser: argparse.ArgumentParser) -> None:
    from tasks.captioning import shapes

    group = parser.add_argument_group(
        "captioning-shapes",
        f"Coloured shapes ({', '.join(shapes.SHAPES)}; {', '.join(shapes.COLOURS)}) with "
        "captions that name shapes, colours, counts and spatial relations; written in the "
        "COCO captions format: DIR/annotations/captions_<split>.json and DIR/<split>/*.png "
        "for train and val (from --seed) and test (from --test-seed), metadata.json and "
        "README.txt.")
    group.add_argument("--images", type=_positive_int, default=10000, metavar="N",
                       help="training images (default: 10000)")
    group.add_argument("--validation-images", type=_non_negative_int, metavar="V",
                       help="validation images, from --seed (default: a tenth of N, at least "
                            "1)")
    group.add_argument("--test-images", type=_non_negative_int, metavar="M",
                       help="test images, from --test-seed (default: a tenth of N, at least "
                            "1)")
    group.add_argument("--test-seed", type=_non_negative_int, metavar="S",
                       help=f"seed of the test images; must differ from --seed (default: "
                            f"--seed + {shapes.TEST_SEED_OFFSET})")
    group.add_argument("--size", type=_size_32_to_512, default=shapes.SIZE, metavar="P",
                       help=f"image width and height in pixels, 32-512 (default: "
                            f"{shapes.SIZE})")


def _write_captioning_shapes(args: argparse.Namespace) -> dict[str, Any]:
    from tasks.captioning.shapes import write_dataset

    return write_dataset(args.out, images=args.images, seed=args.seed,
                         validation_images=args.validation_images,
                         test_images=args.test_images, test_seed=args.test_seed,
                         size=args.size, overwrite=args.overwrite, progress=not args.quiet)


def _write_video_actions(args: argparse.Namespace) -> dict[str, Any]:
    from tasks.video.synthetic import write_dataset

    return write_dataset(args.out, clips_per_class=args.clips_per_class, seed=args.seed,
                         test_clips_per_class=args.test_clips_per_class,
                         test_seed=args.test_seed, frames=args.frames, size=args.size,
                         fps=args.fps, overwrite=args.overwrite, progress=not args.quiet)


DATASETS: dict[str, Dataset] = {
    "video-actions": Dataset(
        summary="procedural human actions: stick figures doing 8 actions (walk, run, jump, "
                "jumping jack, wave one or two hands, bend down, sit down) as mp4 clips",
        add_options=_video_actions_options,
        write=_write_video_actions),
    "captioning-shapes": Dataset(
        summary="procedural image captioning: coloured shapes with captions naming shapes, "
                "colours, counts and spatial relations, in the COCO captions format",
        add_options=_captioning_shapes_options,
        write=_write_captioning_shapes,
        unit="images"),
}


def _named_dataset(argv: list[str]) -> str | None:
    """The dataset named on a ``rnnzoo data`` command line, if any."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] != "data":
        return None
    return next((a for a in argv[argv.index("data") + 1:] if a in DATASETS), None)


def add_parser(sub: argparse._SubParsersAction, argv: list[str]) -> None:
    listing = "; ".join(f"{name}: {d.summary}" for name, d in DATASETS.items())
    parser = sub.add_parser(
        "data", help="write a procedural dataset in a user-data layout",
        description=f"Write a procedural dataset to DIR in the layout user data has, so that "
                    f"training reads it through the same loader. Without NAME, list the "
                    f"datasets. Known: {listing}.",
        epilog="Options of one dataset: rnnzoo data NAME --help (e.g. rnnzoo data "
               "video-actions --help).")
    parser.add_argument("name", metavar="NAME", nargs="?", choices=list(DATASETS),
                        help=f"dataset to write, one of: {', '.join(DATASETS)}; leave it out "
                             "to list them")
    parser.add_argument("--out", metavar="DIR",
                        help="folder to write; an existing non-empty folder is refused unless "
                             "--overwrite")
    parser.add_argument("--seed", type=_non_negative_int, default=0,
                        help="random seed; the same seed writes the same data (default: 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace DIR if it holds a dataset rnnzoo data wrote")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_json_option(parser)
    name = _named_dataset(argv)
    if name:
        DATASETS[name].add_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.name is None:
        rows = [{"name": name, "summary": d.summary} for name, d in DATASETS.items()]
        if args.json:
            print_json(rows)
        else:
            width = max(len(row["name"]) for row in rows)
            for row in rows:
                print(f"{row['name']:<{width}}  {row['summary']}")
        return 0
    if not args.out:
        raise ValueError(f"--out DIR is required to write {args.name}")
    summary = DATASETS[args.name].write(args)
    if args.json:
        print_json(summary)
    else:
        splits, unit = summary.get("splits", {}), DATASETS[args.name].unit
        counts = ", ".join(f"{info[unit]} {split}" for split, info in splits.items())
        print(f"wrote {args.name} ({counts} {unit}) to {summary['out']} in "
              f"{summary.get('seconds', 0):.1f} s")
    return 0
