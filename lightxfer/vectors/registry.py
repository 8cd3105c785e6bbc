"""One loaded copy of each vector set per process, identified by a content fingerprint.

Estimators never pickle vectors: they pickle a :class:`VectorsRef` (source, limit and
fingerprint) and resolve it here, so every worker process memory-maps the same cached file.
"""

import hashlib
import re
import threading
import weakref
from dataclasses import dataclass

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors

_LOCK = threading.RLock()
_LOADED = {}  # (source, limit) -> KeyedVectors
_INFO = weakref.WeakKeyDictionary()  # KeyedVectors -> VectorsRef
_BLOCK_ROWS = 1 << 16
_FINGERPRINT = re.compile(r"[0-9a-f]{32}")


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


@dataclass(frozen=True)
class VectorsRef:
    """A cheap, picklable handle on a vector set.

    Parameters
    ----------
    source : str or None
        Name or path that :func:`lightxfer.load_vectors` accepts; ``None`` for vectors
        built in memory (they are found again through the on-disk cache by fingerprint).
    limit : int or None
        Number of most frequent words kept.
    fingerprint : str
        Content hash of the words and their vectors.
    """

    source: str | None
    limit: int | None
    fingerprint: str

    def resolve(self, *, check=True, allow_pickle=False):
        """Return the vectors this handle names, loading them once per process.

        Only what a model file may name is followed: vectors already loaded in this
        process, the cache entry of a valid fingerprint, the shipped default, a
        gensim-data name already downloaded (never a download), or an absolute path to
        a vectors file whose format is not a pickle (unless ``allow_pickle``).

        Parameters
        ----------
        check : bool, default=True
            Raise :class:`~lightxfer.exceptions.VectorsMismatchError` when the vectors
            found have another fingerprint.
        allow_pickle : bool, default=False
            Also load a gensim ``KeyedVectors.save`` file, which can run code.
        """
        from lightxfer.vectors.loading import resolve_reference

        return resolve_reference(self, check=check, allow_pickle=allow_pickle)


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
        _INFO[kv] = VectorsRef(source, limit, fingerprint)
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


def reference(kv):
    """Return the :class:`VectorsRef` of ``kv``, fingerprinting it on first use."""
    if not isinstance(kv, KeyedVectors):
        raise TypeError(f"expected gensim KeyedVectors, got {type(kv).__name__}")
    with _LOCK:
        ref = _INFO.get(kv)
    if ref is None:
        ref = VectorsRef(None, None, compute_fingerprint(kv))
        register(kv, None, None, ref.fingerprint)
    return ref


def fingerprint(kv):
    """Return the content fingerprint of loaded vectors.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(2)
    >>> kv.add_vectors(["good", "bad"], np.eye(2, dtype=np.float32))
    >>> len(fingerprint(kv))
    32
    """
    return reference(kv).fingerprint


_LOWERCASE = {}  # fingerprint -> whether the vocabulary is lower-case


def is_lowercase(kv, sample=20_000):
    """Tell whether the (most frequent) words of ``kv`` are all lower-case; memoised."""
    key = reference(kv).fingerprint
    if key not in _LOWERCASE:
        _LOWERCASE[key] = not any(word != word.lower() for word in kv.index_to_key[:sample])
    return _LOWERCASE[key]
