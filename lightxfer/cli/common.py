"""Helpers shared by the CLI commands: arguments, reading tables and models, writing tables."""

import csv
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lightxfer.persistence import PICKLE_SUFFIXES, load
from lightxfer.tables import TableError, read_table
from lightxfer.vectors.loading import load_vectors


def add_table_columns(parser, labels=True):
    """Add ``--text-column`` (and ``--label-column``) with the shared data's defaults."""
    parser.add_argument("--text-column", default="text", metavar="C", help="column of texts (text)")
    if labels:
        parser.add_argument(
            "--label-column", default="label", metavar="C", help="column of labels (label)"
        )


def parse_pooling(text):
    """Turn ``"mean"`` or ``"mean,max"`` into the ``pooling`` parameter."""
    return text.split(",") if "," in text else text


def add_allow_pickle(parser, what="a .joblib/.pkl model or vectors it refers to"):
    """Add ``--allow-pickle``: ``what`` names the pickles the command may then load."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help=f"allow loading pickles ({what}), which can run code: only for files you trust",
    )


#: The Python options that messages name, by the command-line flag that sets them.
CLI_OPTIONS = {"allow_pickle=True": "--allow-pickle"}


def cli_message(message):
    """Return an error ``message`` naming command-line flags instead of Python options."""
    for option, flag in CLI_OPTIONS.items():
        message = message.replace(f"pass {option}", f"pass {flag}")
    return message


def preload_vectors(source, allow_pickle):
    """Load the vectors named on the command line, once, as ``--allow-pickle`` allows.

    Later loads of ``source`` in this process (an estimator's ``fit``) reuse these, so a
    model keeps ``source`` as its ``vectors`` parameter.
    """
    if source is not None and allow_pickle:
        load_vectors(source, allow_pickle=True)


def read_texts(path, text_column):
    """Return ``(table, texts)`` of a CSV/TSV/JSONL file."""
    table = read_table(path, text_column=text_column)
    return table, table[text_column].to_numpy(dtype=object)


def read_labelled(path, text_column, label_column, classes=None):
    """Return ``(texts, labels)`` of a CSV/TSV/JSONL file.

    Labels are numbers when every label of the file is one (integers when all are
    whole, so ``1`` and ``1.0`` are the same class), text otherwise; given the
    ``classes`` of a model trained on text labels, they stay text.
    """
    table = read_table(path, text_column=text_column, label_column=label_column)
    labels = table[label_column].astype(str)
    if classes is None or np.asarray(classes).dtype.kind in "iuf":
        labels = parse_labels(labels)
    return table[text_column].to_numpy(dtype=object), labels.to_numpy()


#: A label written with leading zeros ("007") is a code, not a quantity.
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def parse_labels(labels):
    """Return a Series of str labels as int or float when all of them are numbers."""
    text = labels.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if (
        numbers.isna().any()
        or not np.isfinite(numbers).all()
        or text.str.match(_LEADING_ZERO).any()
    ):
        return labels
    if (numbers == numbers.round()).all() and (numbers.abs() < 2**53).all():
        return numbers.astype(np.int64)
    return numbers.astype(np.float64)


def load_model(path, allow_pickle=False):
    """Load a model saved by ``lightxfer train`` (or :func:`lightxfer.save`)."""
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise ValueError(f"{path} is a pickle file; pass --allow-pickle if you trust its source")
    model = load(path, allow_pickle=allow_pickle)
    if not hasattr(model, "predict"):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a classifier")
    return model


def check_known_labels(path, labels, model, label_column):
    """Raise a one-line error naming the first label of ``path`` the model does not know."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return
    known = set(np.asarray(classes).tolist())
    unknown = np.flatnonzero([label not in known for label in labels])
    if len(unknown):
        first = int(unknown[0])
        line = first + (1 if Path(path).suffix.lower() in (".jsonl", ".ndjson") else 2)
        raise TableError(
            f"{path}, line {line}, column {label_column!r}: label {labels[first]!r} is not one "
            f"the model was trained on ({', '.join(map(str, classes))})"
            + (f"; {len(unknown)} rows in all" if len(unknown) > 1 else "")
        )


#: Table formats ``write_table`` writes, by extension.
OUTPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")


def check_output(path, like=None):
    """Check, before any work, that a table can be written to ``path`` (``-``: stdout).

    Returns the format's suffix: that of ``path``, or for ``-`` that of ``like`` (the
    input table), CSV if it has none of the known ones.
    """
    if str(path) == "-":
        suffix = Path(like).suffix.lower() if like is not None else ".csv"
        return suffix if suffix in OUTPUT_SUFFIXES else ".csv"
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"{path}: unknown output format {suffix!r} (use .csv, .tsv, .jsonl, or - for stdout)"
        )
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an output file")
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"{path}: {parent} is a file, not a directory")
    return suffix


def write_table(table, path, suffix=None):
    """Write a DataFrame as CSV, TSV or JSON Lines, chosen by ``suffix`` or ``path``'s extension.

    ``path`` ``-`` writes to standard output. TSV is written without quoting, as
    :func:`lightxfer.tables.read_table` reads it, so a field holding a tab or a line
    break is an error naming its row and column.
    """
    suffix = suffix or check_output(path)
    if suffix == ".tsv":
        _check_tsv_fields(table, path)
    to_stdout = str(path) == "-"
    if not to_stdout:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    target = sys.stdout if to_stdout else path
    if suffix == ".csv":
        table.to_csv(target, index=False)
    elif suffix == ".tsv":
        table.to_csv(target, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    else:
        table.to_json(target, orient="records", lines=True, force_ascii=False)
    return "standard output" if to_stdout else path


def _check_tsv_fields(table, path):
    for column in table.columns:
        values = table[column]
        if values.dtype.kind in "biuf":
            continue
        bad = values.astype(str).str.contains(r"[\t\r\n]", regex=True).to_numpy().nonzero()[0]
        if len(bad):
            raise ValueError(
                f"{path}: row {bad[0] + 1}, column {column!r} holds a tab or a line break, which "
                "TSV cannot hold; write .csv or .jsonl instead"
            )


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
