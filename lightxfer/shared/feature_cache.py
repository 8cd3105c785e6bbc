"""The caches of the frozen shared layer, and the digests that key them.

The shared layer is frozen, so its output for the same texts, weights and fitted state
never changes: a grid search over heads embeds each text once (features that do not
depend on ``fit``, cached per text in a :class:`RowTable` by :func:`cached_rows`) or
each fold once (features that do, by :func:`fit_once` and :func:`cached_batch`), not
once per candidate. Everything lives in the process-wide, bounded
:data:`FEATURE_CACHE`, or on disk in a ``joblib.Memory``.
"""

import hashlib
import marshal
import os
import pickle
import threading
from collections import OrderedDict
from functools import partial
from itertools import repeat

import cloudpickle
import joblib
import numpy as np
from joblib import Memory


def texts_digest(texts):
    """Hash a list of texts (order and boundaries included)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(len(texts)).encode())
    for start in range(0, len(texts), 50_000):
        chunk = texts[start : start + 50_000]
        digest.update("\x1f".join(chunk).encode("utf-8", "surrogatepass"))
        digest.update(np.fromiter(map(len, chunk), np.int64, len(chunk)).tobytes())
    return digest.hexdigest()


def state_digest(*parts):
    """Hash parameters and fitted arrays into a cache key part."""
    try:
        return joblib.hash(parts)
    except pickle.PicklingError:
        # A lambda or local function as tokenizer: hash its code by value instead.
        return hashlib.blake2b(cloudpickle.dumps(parts), digest_size=16).hexdigest()


def callable_digest(function):
    """Hash a function by what it does, not only by its name.

    A function redefined under the same name (a notebook cell run again) must not find
    the features of the old one, which ``pickle`` (by reference) would give it: the key
    holds its code, defaults, closure and bound object. Globals it reads are not part of
    the key.
    """
    parts = [getattr(function, "__module__", None), getattr(function, "__qualname__", None)]
    if isinstance(function, partial):
        parts += [callable_digest(function.func), function.args, function.keywords]
    elif hasattr(function, "__code__"):
        closure = [cell.cell_contents for cell in function.__closure__ or ()]
        parts += [marshal.dumps(function.__code__), function.__defaults__, function.__kwdefaults__]
        parts += [closure, getattr(function, "__self__", None)]
    else:  # a builtin, or an object with a __call__ method
        call = getattr(type(function).__call__, "__code__", None)
        parts += [function, None if call is None else marshal.dumps(call)]
    try:
        return state_digest(*parts)
    except (pickle.PicklingError, TypeError, AttributeError):
        return f"unpicklable-{id(function)}"  # only the same object is the same function


def params_digest(estimator, ignore):
    """Hash the parameters of ``estimator`` but those in ``ignore``; a callable by its code."""
    params = {
        name: callable_digest(value) if callable(value) else value
        for name, value in estimator.get_params(deep=False).items()
        if name not in ignore
    }
    return state_digest(sorted(params.items(), key=str))


def fitted_state(estimator, ignore=()):
    """Return the attributes of ``estimator`` whose names end with ``_``, but ``ignore``."""
    return {
        name: value
        for name, value in vars(estimator).items()
        if name.endswith("_") and name not in ignore
    }


def fit_once(key, estimator, learn, ignore=()):
    """Run ``learn`` once per ``key``: a later fit under ``key`` restores what it did.

    Parameters
    ----------
    key : hashable or None
        What the fit depends on (parameters, weights, training texts); ``None``: no cache.
    estimator : estimator
        Its fitted state (attributes ending with ``_``, but ``ignore``) is what ``learn``
        sets and a cache hit restores.
    learn : callable
        Sets the fitted state and returns the training features, or ``None`` when it
        did not compute them (then nothing is cached).
    ignore : tuple of str
        Fitted attributes never cached (the loaded weights).

    Returns
    -------
    ndarray or None
    """
    cached = None if key is None else FEATURE_CACHE.get(key)
    if cached is not None:
        features = cached.pop("features")
        estimator.__dict__.update(cached)
    else:
        features = learn()
        if key is not None and features is not None:
            FEATURE_CACHE.put(key, {**fitted_state(estimator, ignore), "features": features})
    return features


def cached_rows(key, texts, compute, n_features):
    """Return the rows and counts of ``texts``, computing only those not cached under ``key``.

    Parameters
    ----------
    key : hashable
        The configuration whose :class:`RowTable` holds the rows.
    texts : list of str
    compute : callable
        Maps a list of distinct new texts to ``(rows, counts)``: features and
        ``(known, all)`` token counts.
    n_features : int

    Returns
    -------
    rows : ndarray of shape (len(texts), n_features)
    counts : ndarray of shape (len(texts), 2)
    """
    table = FEATURE_CACHE.get(key)
    if table is None:
        table = RowTable(n_features)
    where = table.find(texts)
    if (where < 0).any():
        FEATURE_CACHE.note_miss()
        new = list(dict.fromkeys(texts[i] for i in np.flatnonzero(where < 0)))
        table.add(new, *compute(new))
        FEATURE_CACHE.put(key, table)
        where = table.find(texts)
    return table.rows[where], table.counts[where]


def cached_batch(cache, texts, compute, state):
    """Return the features of one batch of ``texts`` through the cache ``cache`` names.

    Parameters
    ----------
    cache : bool, str, path or joblib.Memory
        ``False``: no cache; ``True``: :data:`FEATURE_CACHE`; otherwise a disk cache.
    texts : list of str
    compute : callable
        Maps ``texts`` to their features.
    state : callable
        Returns a digest of everything the features depend on but the texts (called only
        when caching).

    Returns
    -------
    ndarray
    """
    if cache is False:
        return compute(texts)
    key = ("transform", state(), texts_digest(texts))
    if not isinstance(cache, bool):
        # joblib lays a Path location out differently from a str one: use str always.
        memory = cache if isinstance(cache, Memory) else Memory(os.fspath(cache), verbose=0)
        return memory.cache(_compute_by_key, ignore=["compute", "texts"])(compute, texts, key)
    features = FEATURE_CACHE.get(key)
    if features is None:
        features = compute(texts)
        FEATURE_CACHE.put(key, features)
    return features


def _compute_by_key(compute, texts, key):
    # joblib finds a result by the arguments it hashes: only ``key``, which digests the
    # texts and the estimator's state, so neither is pickled to be hashed.
    return compute(texts)


class FeatureCache:
    """Least-recently-used map from keys to arrays, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        Entries are evicted, oldest use first, to stay under this size.

    Attributes
    ----------
    hits, misses : int
        Look-up counts since creation or :meth:`clear`.
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = self.hits = self.misses = 0

    def get(self, key):
        """Return a copy of the value stored under ``key``, or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return _copy(entry[0])

    def put(self, key, value):
        """Store ``value`` (an array, a dict of arrays and scalars, or a :class:`RowTable`).

        Putting a grown :class:`RowTable` again updates its size; one larger than the
        whole cache is dropped.
        """
        size = _nbytes(value)
        with self._lock:
            if key in self._entries:
                self.nbytes -= self._entries.pop(key)[1]
            if size > self.max_bytes:
                return
            self._entries[key] = (_copy(value), size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.nbytes -= evicted

    def note_miss(self):
        """Count a miss found after :meth:`get`, e.g. texts absent from a found table."""
        with self._lock:
            self.misses += 1

    def clear(self):
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self.nbytes = self.hits = self.misses = 0

    def __len__(self):
        return len(self._entries)


class RowTable:
    """Feature rows of single texts, for a configuration whose features do not depend on fit.

    Mean, sum, max and min pooling embed a text the same way whatever the training set,
    so a grid search that embeds the same texts in every fold and candidate embeds each
    text once. The table grows by :meth:`add`; put it in the cache again to count it.

    Parameters
    ----------
    n_features : int
    """

    def __init__(self, n_features):
        self.position = {}
        self.rows = np.empty((0, n_features), dtype=np.float32)
        self.counts = np.empty((0, 2), dtype=np.int64)  # known and all tokens of each text
        self.text_bytes = 0  # the table keeps its texts alive: count them too
        self._lock = threading.Lock()

    @property
    def nbytes(self):
        """Approximate size: rows, counts, texts and about 100 bytes of dict per text."""
        return self.rows.nbytes + self.counts.nbytes + self.text_bytes + 100 * len(self.position)

    def find(self, texts):
        """Row of each text, ``-1`` where the table does not have it."""
        return np.fromiter(map(self.position.get, texts, repeat(-1)), np.int64, len(texts))

    def add(self, texts, rows, counts):
        """Append the rows and token counts of distinct new ``texts``."""
        with self._lock:
            start = len(self.rows)
            self.position.update(zip(texts, range(start, start + len(texts))))
            self.text_bytes += sum(map(len, texts))
            self.rows = np.concatenate([self.rows, rows])
            self.counts = np.concatenate([self.counts, counts])


def _nbytes(value):
    if isinstance(value, dict):
        return sum(_nbytes(item) for item in value.values())
    return getattr(value, "nbytes", 64)


def _copy(value):
    if isinstance(value, dict):
        return {name: _copy(item) for name, item in value.items()}
    return value.copy() if isinstance(value, np.ndarray) else value


#: The process-wide cache the shared layers use when ``cache=True``; its size is
#: ``$LIGHTXFER_FEATURE_CACHE_MB`` megabytes (default 1024).
FEATURE_CACHE = FeatureCache(int(os.environ.get("LIGHTXFER_FEATURE_CACHE_MB", "1024")) << 20)
