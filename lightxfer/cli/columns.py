"""Finding the text and label columns of a user's table when they are not named.

A newcomer's table rarely says ``text`` and ``label``: tickets have a ``body`` and a
``category``. When only one column looks like free text (mostly distinct values with
spaces) and only one other looks like a label (few distinct values, each on two rows or
more on average), they are used and one line says so; any doubt asks for the flags
instead of guessing.
"""

import csv
import json
import re
from pathlib import Path

import pandas as pd

from lightxfer.tables import MAX_COLUMNS

#: A text column: at least this share of its values are distinct and hold a space.
TEXT_LIKE = 0.5
#: A label column has at most this many distinct values (and at most half the rows).
MAX_CLASSES = 50
#: What a column name looks like; anything else may be a first data row taken for a
#: header, which no message may echo.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,29}")


def find_columns(path, text_column=None, label_column=None):
    """Return ``(text_column, label_column, note)`` for the labelled table at ``path``.

    A column given is kept; one not given is ``text``/``label`` when the table has it,
    else the only candidate. ``note`` is one line naming the columns found, or None when
    nothing was guessed.

    Raises
    ------
    ValueError
        One line naming the candidates and the flag to pass, when the choice is not
        unambiguous.
    """
    table = _peek(path)
    if table is None:  # unreadable here: the real reader words the error
        return text_column or "text", label_column or "label", None
    found = []
    if text_column is None:
        text_column = _only(path, table, "text", "--text-column", _text_like(table))
        found.append(f"texts from {text_column!r}")
    if label_column is None:
        others = table.drop(columns=[text_column], errors="ignore")
        label_column = _only(path, others, "label", "--label-column", _label_like(others))
        found.append(f"labels from {label_column!r}")
    guessed = [part for part in found if "'text'" not in part and "'label'" not in part]
    note = None
    if guessed:
        note = f"{Path(path).name}: {' and '.join(found)} (--text-column/--label-column to choose)"
    return text_column, label_column, note


def _only(path, table, default, flag, candidates):
    if default in table.columns:
        return default
    named = all(_NAME.fullmatch(name) and len(name.split()) <= 3 for name in candidates)
    if len(candidates) == 1 and named:
        return candidates[0]
    kind = "texts" if default == "text" else "labels"
    if not named:
        seen = "the first line does not look like a header of column names"
    elif candidates:
        seen = f"candidates: {', '.join(candidates)}"
    else:
        seen = "none looks like it"
    raise ValueError(
        f"{path}: no column {default!r}, and which column holds the {kind} is not clear "
        f"({seen}); pass {flag} NAME"
    )


def _text_like(table):
    return [
        str(name)
        for name, values in table.items()
        if len(values)
        and values.map(lambda v: isinstance(v, str) and " " in v.strip()).mean() >= TEXT_LIKE
        and values.nunique() >= TEXT_LIKE * len(values)
    ]


def _label_like(table):
    rows = len(table)
    return [
        str(name)
        for name, values in table.items()
        if 2 <= values.nunique() <= min(MAX_CLASSES, rows // 2) and values.notna().all()
    ]


def _peek(path):
    """The table's columns as pandas reads them, or None if it cannot (no checks here).

    A table wider than :data:`lightxfer.tables.MAX_COLUMNS` is not read here either: the
    real reader refuses it before parsing, where width cannot stall the command.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            records = [json.loads(line) for line in lines if line.strip()]
            keys = set()
            for record in records:
                keys.update(record if isinstance(record, dict) else ())
                if len(keys) > MAX_COLUMNS:
                    return None
            return pd.DataFrame.from_records(records)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
        with open(path, encoding="utf-8-sig", newline="") as file:
            header = next(csv.reader(file, delimiter=sep, quoting=quoting), [])
        if len(header) > MAX_COLUMNS:
            return None
        return pd.read_csv(
            path, sep=sep, dtype=str, keep_default_na=False, na_values=[""], quoting=quoting
        )
    except (OSError, ValueError, TypeError):
        return None
