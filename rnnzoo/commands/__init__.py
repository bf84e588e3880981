"""One module per command; each has ``add_parser(subparsers, argv)`` and sets ``run``."""

from rnnzoo.commands import bench, data, diagnose, evaluate, export, listing, predict, train

COMMANDS = (
    listing.ListCommand,
    listing.InfoCommand,
    train,
    evaluate,
    export,
    predict,
    diagnose,
    bench,
    data,
)
