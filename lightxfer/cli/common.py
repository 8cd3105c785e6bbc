"""Helpers shared by the CLI commands: arguments, reading tables and models, writing tables."""

from pathlib import Path

import numpy as np

from lightxfer.persistence import PICKLE_SUFFIXES, load
from lightxfer.tables import TableError, read_table


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


def add_allow_pickle(parser):
    """Add ``--allow-pickle`` for models saved as .joblib/.pkl."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow loading a .joblib/.pkl model, which can run code: only for trusted files",
    )


def read_texts(path, text_column):
    """Return ``(table, texts)`` of a CSV/TSV/JSONL file."""
    table = read_table(path, text_column=text_column)
    return table, table[text_column].to_numpy(dtype=object)


def read_labelled(path, text_column, label_column):
    """Return ``(texts, labels)`` of a CSV/TSV/JSONL file; labels as text."""
    table = read_table(path, text_column=text_column, label_column=label_column)
    return table[text_column].to_numpy(dtype=object), table[label_column].astype(str).to_numpy()


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
    known = {str(c) for c in classes}
    unknown = np.flatnonzero([label not in known for label in labels])
    if len(unknown):
        first = int(unknown[0])
        line = first + (1 if Path(path).suffix.lower() in (".jsonl", ".ndjson") else 2)
        raise TableError(
            f"{path}, line {line}, column {label_column!r}: label {labels[first]!r} is not one "
            f"the model was trained on ({', '.join(map(str, classes))})"
            + (f"; {len(unknown)} rows in all" if len(unknown) > 1 else "")
        )


def write_table(table, path):
    """Write a DataFrame as CSV, TSV or JSON Lines, chosen by the extension of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(path, index=False)
    elif suffix == ".tsv":
        table.to_csv(path, sep="\t", index=False)
    elif suffix in (".jsonl", ".ndjson"):
        table.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        raise ValueError(f"{path}: unknown output format {suffix!r} (use .csv, .tsv or .jsonl)")
    return path
