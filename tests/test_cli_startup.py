"""The command line answers ``--help`` and argument errors before importing anything heavy."""

import subprocess
import sys
from pathlib import Path

import pytest

from lightxfer.classifier import HEADS
from lightxfer.cli import arguments
from lightxfer.datasets import DATASETS
from lightxfer.persistence import PICKLE_SUFFIXES
from lightxfer.transferring import FREEZE
from lightxfer.vectors.loading import DEFAULT_VECTORS

PACKAGE = Path(__file__).parents[1] / "lightxfer"
HEAVY = ("sklearn", "scipy", "pandas", "gensim", "numpy", "torch", "tqdm", "matplotlib")

# ``lightxfer/__init__.py`` re-exports the whole API; whether it does so lazily is its own
# concern. Here the root package is an empty one, so that what is measured is the CLI's.
CHILD = f"""
import sys, types
root = types.ModuleType("lightxfer")
root.__path__ = [{str(PACKAGE)!r}]
sys.modules["lightxfer"] = root
from lightxfer.cli.entrypoint import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    print("exit", exit.code, file=sys.stderr)
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["transfer", "--help"],
        ["vectors", "info", "--help"],
        ["train", "--train", "x.csv"],  # --out missing
        ["predict", "--no-such-option"],
        ["tarin"],
    ],
)
def test_help_and_argument_errors_import_nothing_heavy(argv):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=60
    )
    assert "exit" in done.stderr, done.stderr
    assert done.stdout.splitlines()[-1] == "", f"imported {done.stdout.splitlines()[-1]}"


def test_the_parsers_choices_are_the_packages():
    assert tuple(sorted(HEADS)) == arguments.HEADS
    assert arguments.FREEZE == FREEZE
    assert arguments.DEFAULT_VECTORS == DEFAULT_VECTORS
    assert tuple(DATASETS) == arguments.DATASETS
    assert arguments.PICKLE_SUFFIXES == PICKLE_SUFFIXES
