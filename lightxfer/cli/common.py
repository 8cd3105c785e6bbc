"""Helpers shared by the CLI commands' work: reading tables and models, writing tables.

Commands import this module in ``run``, not at the top: it imports pandas and
scikit-learn (see :mod:`lightxfer.cli.arguments` for what their parsers share).
"""

import csv
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from lightxfer.cli.arguments import PICKLE_SUFFIXES
from lightxfer.persistence import load
from lightxfer.tables import TableError, read_table, read_table_rows
from lightxfer.vectors.loading import load_vectors


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
    whole, so ``1`` and ``1.0`` are the same class), text otherwise. Given the
    ``classes`` of a model, they stay text if those are, and a label not among them
    is an error naming its line.
    """
    table, where = read_table_rows(path, text_column=text_column, label_column=label_column)
    labels = table[label_column].astype(str)
    if classes is None or np.asarray(classes).dtype.kind in "iuf":
        labels = parse_labels(labels)
    labels = labels.to_numpy()
    if classes is not None:
        _check_known_labels(path, where, label_column, labels, classes)
    return table[text_column].to_numpy(dtype=object), labels


def check_trainable(path, label_column, labels):
    """Return the classes of ``labels``, or raise one line if no classifier can fit them.

    Refused before any fit: fewer than two classes, numbers that are not whole
    (scikit-learn takes them for a regression target, "continuous"), and a column where
    most labels occur once (an id or text column taken for labels: fitting would take
    memory and time growing with the square of the rows).
    """
    classes, counts = np.unique(labels, return_counts=True)
    where = f"{path}, column {label_column!r}"
    if len(classes) < 2:
        raise ValueError(
            f"{where}: every row has the label {classes[0]!r}; a classifier needs at least "
            "2 classes"
        )
    once = int(np.sum(counts == 1))
    if once > len(labels) / 2:
        raise ValueError(
            f"{where}: {once} of {len(labels)} rows have a label no other row has "
            f"({len(classes)} classes); is it the label column? A class needs at least 2 "
            "labelled texts"
        )
    if classes.dtype.kind == "f":
        shown = ", ".join(map(str, classes[classes != np.round(classes)][:3]))
        raise ValueError(
            f"{where}: labels such as {shown} are not whole numbers, which scikit-learn "
            "takes for a regression target; use class names or whole numbers"
        )
    return classes


def shown_classes(classes, most=10):
    """``classes`` as a short comma-separated list: the first ``most``, then how many more.

    >>> shown_classes(range(25), most=3)
    '0, 1, 2 and 22 more'
    """
    classes = list(classes)
    shown = ", ".join(str(name)[:40] for name in classes[:most])
    return shown + (f" and {len(classes) - most} more" if len(classes) > most else "")


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


def load_model(path, allow_pickle=False, trusted=()):
    """Load a text classifier saved by ``lightxfer train`` (or :func:`lightxfer.save`).

    ``trusted`` names types beyond lightxfer's trusted list, as ``load(trusted=...)``.
    A model that does not take texts (e.g. one fitted on a numeric matrix) is refused
    here, naming the file, rather than failing on the first text.
    """
    # Refusing a pickle or a type is load's: the CLI words "pass allow_pickle=True" and
    # "pass trusted=[...]" as flags.
    model = load(path, allow_pickle=allow_pickle, trusted=list(trusted))
    if not hasattr(model, "predict"):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a classifier")
    if not takes_texts(model):
        first = model[0] if isinstance(model, Pipeline) else model
        raise TypeError(
            f"{path} holds a model whose first step, {type(first).__name__}, takes numbers, "
            "not texts: lightxfer commands need a text classifier (e.g. from lightxfer train)"
        )
    return model


def check_source(path, model):
    """Return the source ``model`` read from ``path``, or raise one line naming the file."""
    from sklearn.exceptions import NotFittedError

    from lightxfer.transferring import split_source

    try:
        split_source(model)
    except NotFittedError:
        raise ValueError(
            f"{path}: the source model is not fitted; train it first (lightxfer train)"
        ) from None
    return model


def takes_texts(model):
    """Tell whether ``model`` may take texts: its first step does not say it takes numbers.

    A step declares text input by its tags (scikit-learn's and lightxfer's vectorizers);
    one fitted on a numeric matrix has ``n_features_in_``. A step that says neither (a
    user's own transformer) is given the benefit of the doubt.
    """
    first = model[0] if isinstance(model, Pipeline) else model
    return get_tags(first).input_tags.string or not hasattr(first, "n_features_in_")


def check_model_output(path, allow_pickle):
    """Refuse, before any work, to save a model as a pickle unless ``--allow-pickle``."""
    if Path(path).suffix.lower() in PICKLE_SUFFIXES and not allow_pickle:
        raise ValueError(
            f"{path}: a {Path(path).suffix} model file is a pickle, which commands load only "
            "with --allow-pickle; write .skops (safe), or pass --allow-pickle to write it"
        )


def _check_known_labels(path, where, label_column, labels, classes):
    """Raise a one-line error naming the first label the model was not trained on."""
    known = set(np.asarray(classes).tolist())
    unknown = np.flatnonzero([label not in known for label in labels])
    if len(unknown):
        first = int(unknown[0])
        raise TableError(
            f"{path}, {where(first)}, column {label_column!r}: label {labels.tolist()[first]!r} is not "
            "one the model was trained on "
            f"({shown_classes(classes)})"
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
    if str(path) == "-":
        _write(table, sys.stdout, suffix)
        return "standard output"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file renamed into place: a reader never sees half a table, a failure
    # leaves the old file, and a symlink at ``path`` is replaced, not written through.
    # As lightxfer.save: a replaced file's mode is kept (a private 0600 table stays
    # private), and the data is on disk before the rename makes it the file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            _write(table, file, suffix)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, _replaced_mode(path))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _replaced_mode(path):
    """The mode of the file at ``path`` if there is one, else that of a new file."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return 0o666 & ~_umask()  # mkstemp's 0600, as if opened normally
    if stat.S_ISREG(found.st_mode):
        return stat.S_IMODE(found.st_mode)
    return 0o666 & ~_umask()  # a symlink is replaced, not followed: its mode says nothing


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write(table, file, suffix):
    if suffix == ".csv":
        table.to_csv(file, index=False)
    elif suffix == ".tsv":
        table.to_csv(file, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    else:
        table.to_json(file, orient="records", lines=True, force_ascii=False)


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
