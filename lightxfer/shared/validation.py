"""Check text inputs and cut them into batches, naming the position of anything wrong."""

from itertools import islice
from numbers import Number

import numpy as np


def _is_missing(value):
    # None, float('nan'), numpy NaN of any width, pandas.NA and NaT.
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, (float, np.floating)) and value != value


def _describe(value):
    if _is_missing(value):
        return f"a missing value ({type(value).__name__}): fill missing texts first, e.g. with ''"
    if isinstance(value, bytes):
        return "bytes: decode them to str first"
    if isinstance(value, Number):
        return f"a number ({type(value).__name__}): texts must be str"
    return f"a {type(value).__name__}: texts must be str"


def _as_iterable(X):
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "expected an iterable of texts (a list, array or Series of str), got a single "
            f"{type(X).__name__}; wrap it in a list: [text]"
        )
    if hasattr(X, "columns"):
        X = text_column(X)
    if hasattr(X, "to_numpy"):
        return X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray) and X.ndim != 1:
        if X.ndim == 2 and X.shape[1] == 1:
            return X[:, 0]
        raise ValueError(f"expected a 1-D array of texts, got an array of shape {X.shape}")
    if not hasattr(X, "__iter__"):
        raise TypeError(f"expected an iterable of texts, got {type(X).__name__}")
    return X


def text_column(frame):
    """Return the one column of a DataFrame (pandas or dask) of texts, or raise.

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    Series
    """
    if len(frame.columns) != 1:
        raise ValueError(
            f"expected one column of texts, got a DataFrame with {len(frame.columns)} "
            "columns; select the text column, e.g. df['text']"
        )
    return frame[frame.columns[0]]


def check_texts(batch, offset=0):
    """Return ``batch`` as a list of ``str``, or raise naming the first bad item.

    Parameters
    ----------
    batch : iterable of str
    offset : int
        Position of the first item in the whole input, used in error messages.
    """
    batch = list(batch)
    if set(map(type, batch)) <= {str}:
        return batch
    for position, value in enumerate(batch, start=offset):
        if not isinstance(value, str):
            error = ValueError if _is_missing(value) else TypeError
            raise error(f"text at position {position} is {_describe(value)}")
    return [str(value) for value in batch]


def iter_batches(X, batch_size):
    """Yield ``(offset, texts)`` batches of an iterable of texts, each checked."""
    iterator = iter(_as_iterable(X))
    offset = 0
    while batch := list(islice(iterator, batch_size)):
        yield offset, check_texts(batch, offset)
        offset += len(batch)


def to_text_list(X):
    """Return all texts of ``X`` as one checked list of ``str``."""
    return check_texts(_as_iterable(X))


def training_texts(X, y=None):
    """Return the texts of ``X`` as one checked list of ``str``; none is an error.

    Labels ``y``, when given, are checked too (:func:`check_labels`): every lightxfer
    pipeline fits its shared layer first, so mixed label types are refused before any
    work is done.
    """
    texts = to_text_list(X)
    if not texts:
        raise ValueError("cannot fit on an empty list of texts")
    if y is not None:
        check_labels(y)
    return texts


def check_labels(y):
    """Return the labels ``y`` as a 1-D array, or raise if they mix text and numbers.

    NumPy turns ``[1, "1", 2, "a"]`` into the strings ``["1", "1", "2", "a"]``, which
    merges the classes ``1`` and ``"1"`` without a word: refused instead.

    Raises
    ------
    TypeError
        Naming one label of each kind.

    Examples
    --------
    >>> check_labels(["pos", "neg"]).tolist()
    ['pos', 'neg']
    >>> check_labels([1, "1", 2, "a"])
    Traceback (most recent call last):
    ...
    TypeError: labels mix numbers and text (e.g. 1 and '1'), which would be merged as text; make them all one type
    """
    if getattr(y, "dtype", np.dtype(object)).kind != "O":
        return np.asarray(y)
    values = list(y.to_numpy() if hasattr(y, "to_numpy") else y)
    first = {}
    for value in values:
        kind = "text" if isinstance(value, str) else "numbers" if _is_number(value) else "other"
        first.setdefault(kind, value)
    if "text" in first and "numbers" in first:
        raise TypeError(
            f"labels mix numbers and text (e.g. {first['numbers']!r} and {first['text']!r}), "
            "which would be merged as text; make them all one type"
        )
    return np.asarray(values)


def _is_number(value):
    return isinstance(value, (Number, np.number)) and not isinstance(value, (bool, np.bool_))
