"""Entry point of the ``lightxfer`` console command.

Each module in :mod:`lightxfer.cli.commands` is one subcommand: it defines ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. A command module imports
only :mod:`lightxfer.cli.arguments` at its top and its work (scikit-learn, pandas,
gensim) inside ``run``: ``--help`` and argument errors answer before anything heavy loads.
"""

import argparse
import importlib
import os
import pkgutil
import sys

from lightxfer.cli import commands
from lightxfer.cli.arguments import cli_message
from lightxfer.exceptions import MissingExtraError, VectorsUnavailableError

EXPECTED_ERRORS = (
    ValueError,
    TypeError,
    OSError,
    KeyError,
    MissingExtraError,
    VectorsUnavailableError,
)


def build_parser():
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="lightxfer",
        description="Transfer learning for text with frozen word vectors and scikit-learn heads.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except BrokenPipeError:
        # The reader (e.g. ``| head``) has closed the pipe: it has all it wanted.
        # Point stdout at /dev/null so the interpreter's final flush stays silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except EXPECTED_ERRORS as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = cli_message(message)
        print(f"lightxfer {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lightxfer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
