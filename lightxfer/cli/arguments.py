"""What the subcommands' parsers share, importing nothing heavy.

``lightxfer --help``, ``lightxfer COMMAND --help`` and a mistyped option are answered
from this module alone: scikit-learn, pandas and gensim are imported only by a
command's ``run``. The choices below mirror the package's own constants
(``tests/test_cli_startup.py`` checks that they agree).
"""

import sys
import time

#: :data:`lightxfer.classifier.HEADS`, by name.
HEADS = ("logreg", "mlp")
#: :data:`lightxfer.transferring.FREEZE`.
FREEZE = ("auto", "hidden", "embedding")
#: :data:`lightxfer.vectors.loading.DEFAULT_VECTORS`.
DEFAULT_VECTORS = "glove-wiki-gigaword-50"
#: The keys of :data:`lightxfer.datasets.DATASETS`.
DATASETS = ("sst2", "sst5", "trec", "subj", "mpqa")
#: Model-file extensions that are pickles (see :func:`lightxfer.save`).
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def add_table_columns(parser, labels=True):
    """Add ``--text-column`` (and ``--label-column``) with the shared data's defaults."""
    parser.add_argument("--text-column", default="text", metavar="C", help="column of texts (text)")
    if labels:
        parser.add_argument(
            "--label-column", default="label", metavar="C", help="column of labels (label)"
        )


def add_allow_pickle(parser, what="a .joblib/.pkl model or vectors it refers to"):
    """Add ``--allow-pickle``: ``what`` names the pickles the command may then load."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help=f"allow loading pickles ({what}), which can run code: only for files you trust",
    )


def add_trusted(parser):
    """Add ``--trusted NAME`` (repeatable), as ``lightxfer.load(trusted=[...])``."""
    parser.add_argument(
        "--trusted",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type outside lightxfer's trusted list that the model file may hold, e.g. "
        "sklearn.tree._tree.Tree (repeat for several): only for files you trust",
    )


def parse_pooling(text):
    """Turn ``"mean"`` or ``"mean,max"`` into the ``pooling`` parameter."""
    return text.split(",") if "," in text else text


#: The Python options that messages name, by the command-line flag that sets them.
CLI_OPTIONS = {"allow_pickle=True": "--allow-pickle", "trusted=[...]": "--trusted TYPE"}


def cli_message(message):
    """Return an error ``message`` naming command-line flags instead of Python options."""
    for option, flag in CLI_OPTIONS.items():
        message = message.replace(f"pass {option}", f"pass {flag}")
    return message


class Stages:
    """Print one flushed line per stage of a long command, with the seconds since it began.

    Flushed at once, so a run piped into a file or another program shows where it is
    (Python holds back the output of a pipe until its buffer fills).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> stage = Stages(file=out)
    >>> stage("fitting the model")
    >>> out.getvalue().split("] ")[1]
    'fitting the model\\n'
    """

    def __init__(self, file=None):
        self.file = file
        self.start = time.perf_counter()

    def __call__(self, message):
        elapsed = time.perf_counter() - self.start
        print(f"[{elapsed:6.1f} s] {message}", file=self.file or sys.stdout, flush=True)
