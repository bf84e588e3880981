"""One module per command; each has ``add_parser(subparsers, argv)`` and sets ``run``."""

from rnnzoo.commands import bench, diagnose, evaluate, listing, predict, train

COMMANDS = (listing.ListCommand, listing.InfoCommand, train, evaluate, predict, diagnose, bench)
