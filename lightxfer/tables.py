"""Read labelled text tables (CSV, TSV, JSON Lines) with one-line errors naming file, row, column."""

import csv
import io
import json
import re
import warnings
from pathlib import Path

import pandas as pd

READERS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
#: Columns a table may have: the commands use two or three, and parsing a table costs
#: time and memory per column, so a table 500,000 columns wide would stall them.
MAX_COLUMNS = 1000


class TableError(ValueError):
    """A table cannot be used; the message names the file and, if known, row and column."""


def read_table(path, *, text_column="text", label_column=None):
    """Read a table of texts (and labels) chosen by the file extension.

    Parameters
    ----------
    path : str or path
        ``.csv``, ``.tsv``, ``.jsonl`` or ``.ndjson``, UTF-8. A CSV field may be quoted
        with ``"``; a TSV file has no quoting (as in the IANA TSV format): one line is
        one row, a ``"`` is an ordinary character, and a line with another number of
        fields than the header is an error.
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
    return read_table_rows(path, text_column=text_column, label_column=label_column)[0]


def read_table_rows(path, *, text_column="text", label_column=None):
    """Read a table as :func:`read_table` does, and say where each row is in the file.

    Returns
    -------
    table : pandas.DataFrame
    where : callable
        Maps a row position to its place in the file, as errors name it: ``"line 7"``,
        or ``"data row 5"`` in a CSV file where a quoted field spans lines.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise TableError(f"{path}: unknown table format {suffix!r} (use .csv, .tsv or .jsonl)")
    if path.is_dir():
        raise TableError(f"{path} is a directory, not a table file")
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TableError(
            f"{path}, line {line}: not valid UTF-8 ({exc.reason}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise TableError(f"{path}: the file is empty")
    if READERS[suffix] is None:
        table, lines = _read_jsonl(path, text, text_column)
    else:
        table, lines = _read_delimited(path, text, READERS[suffix])
    for column in [text_column] + ([label_column] if label_column else []):
        if column not in table.columns:
            raise TableError(f"{path}: no column {column!r} ({_describe_columns(table.columns)})")
        missing = table[column].isna().to_numpy().nonzero()[0]
        if len(missing):
            raise TableError(
                f"{path}, {lines(missing[0])}, column {column!r}: missing value"
                + (f" ({len(missing)} rows in all)" if len(missing) > 1 else "")
                + "; fill or drop those rows"
            )
    if table.empty:
        raise TableError(f"{path}: the table has a header but no rows")
    table[text_column] = table[text_column].astype(str)
    return table, lines


#: What a column name looks like: a short word or few, not a sentence, a number or a key.
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,29}")


def _describe_columns(columns):
    """Name the columns if they look like a header; never echo what may be the file's data.

    A file without a header line has its first row taken as one: its "names" are then
    content (a text, a secret), which an error message must not show.

    Examples
    --------
    >>> _describe_columns(["sentence", "label"])
    'columns: sentence, label'
    >>> _describe_columns(["sk-4f9a8b7c6d5e", "1"])
    '2 columns, whose names do not look like a header: the first line must name them'
    """
    names = [str(name) for name in columns]
    if all(
        _COLUMN_NAME.fullmatch(name) and len(name.split()) <= 3 and sum(map(str.isdigit, name)) <= 2
        for name in names
    ):
        return f"columns: {', '.join(names)}"
    return (
        f"{len(names)} columns, whose names do not look like a header: the first line must "
        "name them"
    )


def _check_width(path, n_columns, where=""):
    if n_columns > MAX_COLUMNS:
        raise TableError(
            f"{path}{where}: {n_columns} columns, more than a table may have "
            f"({MAX_COLUMNS}, lightxfer.tables.MAX_COLUMNS); keep the text and label columns"
        )


def _check_tsv_rows(path, text):
    lines = re.split(r"\r\n|\r|\n", text)
    expected = lines[0].count("\t") + 1
    for line_no, line in enumerate(lines[1:], start=2):
        found = line.count("\t") + 1
        if line.strip() and found != expected:
            raise TableError(
                f"{path}, line {line_no}: {found} tab-separated fields, but the header has "
                f"{expected}; a TSV field cannot hold a tab or a line break"
            )


def _read_delimited(path, text, sep):
    tsv = sep == "\t"
    header = text.split("\n", 1)[0]
    if not tsv and header.count("\t") > header.count(","):
        raise TableError(
            f"{path}: the file is tab-separated, not comma-separated; rename it to .tsv"
        )
    quoting = csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL
    fields = next(csv.reader(io.StringIO(header), delimiter=sep, quoting=quoting), ())
    _check_width(path, len(fields))
    if tsv:
        _check_tsv_rows(path, text)
    try:
        with warnings.catch_warnings():
            # pandas only warns when a row has more fields than the header: an error here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                index_col=False,
                quoting=quoting,
            )
    except (ValueError, pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        message = str(exc).strip().splitlines()[0]
        raise TableError(
            f"{path}: cannot parse as {path.suffix[1:]} ({message}); check quotes and the "
            "number of fields on each line"
        ) from None
    # A row is one line after the header unless a quoted field spans lines.
    one_line_rows = text.count("\n") - text.endswith("\n") == len(table)
    return table, (lambda row: f"line {row + 2}" if one_line_rows else f"data row {row + 1}")


def _read_jsonl(path, text, text_column):
    records, line_of_row, columns = [], [], set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableError(
                f"{path}, line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(record, dict):
            raise TableError(
                f"{path}, line {line_no}: expected a JSON object, found {type(record).__name__}"
            )
        value = record.get(text_column)
        if value is not None and not isinstance(value, str):
            raise TableError(
                f"{path}, line {line_no}, column {text_column!r}: expected a string, found "
                f"{type(value).__name__} {value!r:.40}; quote the text"
            )
        columns.update(record)
        _check_width(path, len(columns), f", line {line_no}")
        records.append(record)
        line_of_row.append(line_no)
    return pd.DataFrame.from_records(records), lambda row: f"line {line_of_row[row]}"
