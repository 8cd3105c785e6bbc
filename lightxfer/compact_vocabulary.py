"""Fitted n-gram vocabularies, written compactly in ``.skops`` model files.

skops writes a ``dict`` entry by entry, a JSON node for every key and every value: about
800 bytes per term, so the vocabularies of a model fitted on 2000 texts filled a 50 MB file
that took seconds to read. :func:`compact` gives :func:`lightxfer.save` a copy of the model
in which every fitted :class:`~sklearn.feature_extraction.text.CountVectorizer` (and so
``TfidfVectorizer``) holds a :class:`CompactVocabulary`: its terms in column order as one
UTF-8 text plus their lengths, a few bytes per term. :func:`expand` turns them back into
the dicts scikit-learn works with after :func:`lightxfer.load`.
"""

import operator
from collections.abc import Mapping

import numpy as np
import sklearn.base
from sklearn.feature_extraction.text import CountVectorizer


class CompactVocabulary(Mapping):
    """A read-only mapping term -> column, held as one UTF-8 text and the terms' lengths.

    It is what a model file stores in place of a fitted vectorizer's ``vocabulary_``;
    :func:`lightxfer.load` replaces it by a plain dict. A model rebuilt by
    ``skops.io.load`` keeps it, and it works there as the dict would (more slowly).

    Parameters
    ----------
    terms : sequence of str
        The terms in column order: ``terms[i]`` is the term of column ``i``.
    """

    def __init__(self, terms):
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        self._text = "".join(terms).encode("utf-8")
        self._lengths = lengths.astype(np.min_scalar_type(int(lengths.max(initial=0))))
        self._dict = None

    def __getstate__(self):
        return {"text": self._text, "lengths": self._lengths}

    def __setstate__(self, state):
        # skops calls this while rebuilding an untrusted file: store, check in to_dict().
        self._text, self._lengths = state.get("text"), state.get("lengths")
        self._dict = None

    def to_dict(self):
        """Return the vocabulary as a dict term -> column.

        Returns
        -------
        dict

        Raises
        ------
        ValueError
            If the stored data is not a vocabulary (damaged or crafted file).
        """
        if self._dict is None:
            self._dict = _decode(self._text, self._lengths)
        return self._dict

    def __getitem__(self, term):
        return self.to_dict()[term]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self):
        return len(self.to_dict())


def _decode(text, lengths):
    if not isinstance(text, bytes):
        raise ValueError("vocabulary text is not bytes")
    # Unsigned lengths of at most 32 bits: their int64 sum cannot overflow.
    if not (isinstance(lengths, np.ndarray) and lengths.ndim == 1 and lengths.dtype.kind == "u"):
        raise ValueError("vocabulary lengths are not a 1-d array of unsigned integers")
    if lengths.dtype.itemsize > 4:
        raise ValueError("vocabulary lengths are wider than 32 bits")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("vocabulary text is not UTF-8") from None
    ends = np.cumsum(lengths, dtype=np.int64)
    if (ends[-1] if len(ends) else 0) != len(decoded):
        raise ValueError("vocabulary lengths do not add up to its text")
    starts = (ends - lengths).tolist()
    vocabulary = {
        decoded[start:end]: column for column, (start, end) in enumerate(zip(starts, ends.tolist()))
    }
    if len(vocabulary) != len(lengths):
        raise ValueError("vocabulary holds a term twice")
    return vocabulary


def compact(model):
    """Return ``model`` with every fitted vectorizer's vocabulary as a CompactVocabulary.

    ``model`` itself is left as it is: the estimators and containers on the way to a
    vocabulary are shallow copies, everything else is shared.

    Parameters
    ----------
    model : object

    Returns
    -------
    object
    """
    return _compact(model, {})


def _compact(item, memo):
    if id(item) in memo:
        return memo[id(item)]
    memo[id(item)] = item  # a cycle back to this item keeps the original
    if type(item) is dict:
        changed = {key: _compact(value, memo) for key, value in item.items()}
        result = changed if _differs(changed.values(), item.values()) else item
    elif type(item) in (list, tuple):
        changed = [_compact(value, memo) for value in item]
        result = type(item)(changed) if _differs(changed, item) else item
    elif isinstance(item, sklearn.base.BaseEstimator):
        result = _compact_estimator(item, memo)
    else:
        result = item
    memo[id(item)] = result
    return result


def _compact_estimator(estimator, memo):
    state = vars(estimator)
    changed = {}
    for name, value in state.items():
        new = _compact(value, memo)
        if new is not value:
            changed[name] = new
    vocabulary = state.get("vocabulary_")
    if isinstance(estimator, CountVectorizer) and type(vocabulary) is dict:
        terms = _terms_in_column_order(vocabulary)
        if terms is not None:
            changed["vocabulary_"] = CompactVocabulary(terms)
    if not changed:
        return estimator
    # A shell with the same attributes, without running __init__ or copy hooks (which
    # may bind or load), so its __getstate__ gives what the original's would.
    copy = type(estimator).__new__(type(estimator))
    copy.__dict__.update(state)
    copy.__dict__.update(changed)
    return copy


def _differs(new, old):
    return any(a is not b for a, b in zip(new, old))


def _terms_in_column_order(vocabulary):
    """Return the terms ordered by column, or None unless the columns are 0..n-1 once each."""
    terms = [None] * len(vocabulary)
    for term, column in vocabulary.items():
        if not isinstance(term, str) or isinstance(column, bool):
            return None
        try:
            column = operator.index(column)
        except TypeError:
            return None
        if not 0 <= column < len(terms) or terms[column] is not None:
            return None
        terms[column] = term
    return terms


def expand(objects):
    """Replace every CompactVocabulary held as ``vocabulary_`` by its dict, in place.

    Parameters
    ----------
    objects : iterable
        The estimators (and containers) of a rebuilt model.

    Raises
    ------
    ValueError
        If a stored vocabulary is damaged; the message names the estimator.
    """
    for item in objects:
        vocabulary = vars(item).get("vocabulary_") if hasattr(item, "__dict__") else None
        if isinstance(vocabulary, CompactVocabulary):
            try:
                item.vocabulary_ = vocabulary.to_dict()
            except ValueError as exc:
                raise ValueError(f"{type(item).__name__}.vocabulary_: {exc}") from None
