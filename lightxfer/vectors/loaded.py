"""Process state of the loaded vectors, all in one place.

Each vector set is loaded once per process and known by a content fingerprint: this
module keeps what was loaded from where (:func:`register`, :func:`lookup`), the origin
of every loaded set (:func:`origin`), which files changed since (:func:`file_changed`),
the cache folder each came from and whether its words are lower-case. It imports no other
lightxfer module: loading (:mod:`lightxfer.vectors.loading`) and references
(:mod:`lightxfer.vectors.registry`) both build on it.
"""

import hashlib
import re
import threading
import weakref
from typing import NamedTuple

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors

_LOCK = threading.RLock()
_LOADED = {}  # (source, limit) -> KeyedVectors
_INFO = weakref.WeakKeyDictionary()  # KeyedVectors -> Origin
_LOWERCASE = {}  # fingerprint -> whether the vocabulary is lower-case
_SEEN = {}  # path -> identity (size, mtime) of the file when this process loaded it
_CACHE_DIRS = {}  # source -> cache entry directory it was loaded from
_BLOCK_ROWS = 1 << 16
_FINGERPRINT = re.compile(r"[0-9a-f]{32}")


class Origin(NamedTuple):
    """Where loaded vectors came from: the fields of a :class:`~lightxfer.VectorsRef`."""

    source: str | None
    limit: int | None
    fingerprint: str


def check_fingerprint(value):
    """Return ``value`` if it is a fingerprint as :func:`compute_fingerprint` writes it.

    A model file records fingerprints, and the cache finds spilled vectors by them: a
    value of any other form (a path, say) is refused before any use.

    Raises
    ------
    ValueError
        If ``value`` is not 32 lower-case hexadecimal digits.
    """
    if not (isinstance(value, str) and _FINGERPRINT.fullmatch(value)):
        shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
        raise ValueError(f"{shown!r} is not a vectors fingerprint (32 hexadecimal digits)")
    return value


def compute_fingerprint(kv):
    """Hash the words and vectors of ``kv`` (and a fastText model's subword table).

    Parameters
    ----------
    kv : gensim.models.KeyedVectors

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\n".join(map(str, kv.index_to_key)).encode("utf-8", "surrogatepass"))
    arrays = [kv.vectors]
    if isinstance(kv, FastTextKeyedVectors):
        digest.update(f"fasttext {kv.min_n} {kv.max_n} {kv.bucket}".encode())
        arrays.append(kv.vectors_ngrams)
    for array in arrays:
        digest.update(f"{array.shape} {array.dtype}".encode())
        for start in range(0, len(array), _BLOCK_ROWS):
            digest.update(np.ascontiguousarray(array[start : start + _BLOCK_ROWS]).data)
    return digest.hexdigest()


def find(fingerprint):
    """Return vectors already loaded in this process with ``fingerprint``, or ``None``."""
    with _LOCK:
        for kv, ref in list(_INFO.items()):
            if ref.fingerprint == fingerprint:
                return kv
    return None


def register(kv, source, limit, fingerprint):
    """Record where ``kv`` came from so later loads and references share it."""
    with _LOCK:
        if source is not None:
            _LOADED[(source, limit)] = kv
        _INFO[kv] = Origin(source, limit, fingerprint)
    return kv


def forget(source):
    """Drop every loaded vector set of ``source``, so the next load reads it again."""
    with _LOCK:
        for key in [key for key in _LOADED if key[0] == source]:
            kv = _LOADED.pop(key)
            _INFO.pop(kv, None)


def lookup(source, limit):
    """Return the already loaded vectors for ``(source, limit)``, or ``None``."""
    with _LOCK:
        return _LOADED.get((source, limit))


def origin(kv):
    """Return the :class:`Origin` of ``kv``, fingerprinting it on first use."""
    if not isinstance(kv, KeyedVectors):
        raise TypeError(f"expected gensim KeyedVectors, got {type(kv).__name__}")
    with _LOCK:
        found = _INFO.get(kv)
    if found is None:
        found = Origin(None, None, compute_fingerprint(kv))
        register(kv, *found)
    return found


def is_lowercase(kv, sample=20_000):
    """Tell whether the (most frequent) words of ``kv`` are all lower-case; memoised."""
    key = origin(kv).fingerprint
    if key not in _LOWERCASE:
        _LOWERCASE[key] = not any(word != word.lower() for word in kv.index_to_key[:sample])
    return _LOWERCASE[key]


def file_changed(key, identity):
    """Tell whether the file ``key`` differs from ``identity`` since this process loaded it."""
    with _LOCK:
        if _SEEN.setdefault(key, identity) == identity:
            return False
        _SEEN[key] = identity
        return True


def set_cache_dir(source, entry):
    """Record the cache folder ``source`` was loaded from (``None``: loaded in place)."""
    _CACHE_DIRS[source] = entry


def cache_dir(source):
    """Return the cache folder ``source`` was loaded from, or ``None``."""
    return _CACHE_DIRS.get(source)
