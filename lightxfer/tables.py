"""Read labelled text tables (CSV, TSV, JSON Lines) with one-line errors naming file, row, column."""

from pathlib import Path

import pandas as pd

READERS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}


class TableError(ValueError):
    """A table cannot be used; the message names the file and, if known, row and column."""


def read_table(path, *, text_column="text", label_column=None):
    """Read a table of texts (and labels) chosen by the file extension.

    Parameters
    ----------
    path : str or path
        ``.csv``, ``.tsv``, ``.jsonl`` or ``.ndjson``, UTF-8.
    text_column : str, default="text"
        Column holding the texts; a missing text is an error.
    label_column : str, optional
        Column holding the labels; a missing label is an error.

    Returns
    -------
    pandas.DataFrame
        The table, with the text column as ``str``.

    Raises
    ------
    TableError
        Naming the file, and the row (1-based line in the file) and column where known.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise TableError(f"{path}: unknown table format {suffix!r} (use .csv, .tsv or .jsonl)")
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TableError(f"{path}, line {line}: not valid UTF-8 ({exc.reason})") from None
    if not raw.strip():
        raise TableError(f"{path}: the file is empty")
    try:
        if READERS[suffix] is None:
            table = pd.read_json(path, lines=True, dtype=False)
        else:
            table = pd.read_csv(
                path, sep=READERS[suffix], dtype=str, keep_default_na=False, na_values=[""]
            )
    except (ValueError, pd.errors.ParserError) as exc:
        raise TableError(f"{path}: cannot parse as {suffix[1:]} ({str(exc).strip()})") from None
    header_lines = 0 if READERS[suffix] is None else 1
    for column in [text_column] + ([label_column] if label_column else []):
        if column not in table.columns:
            raise TableError(
                f"{path}: no column {column!r} (columns: {', '.join(map(str, table.columns))})"
            )
        missing = table[column].isna().to_numpy().nonzero()[0]
        if len(missing):
            raise TableError(
                f"{path}, line {missing[0] + 1 + header_lines}, column {column!r}: missing value"
                + (f" ({len(missing)} rows in all)" if len(missing) > 1 else "")
            )
    if table.empty:
        raise TableError(f"{path}: the table has a header but no rows")
    table[text_column] = table[text_column].astype(str)
    return table
