"""``VectorsRef``: the cheap, picklable handle by which estimators and model files name vectors.

Estimators never pickle vectors: they pickle a :class:`VectorsRef` (source, limit and
fingerprint) and resolve it through :mod:`lightxfer.vectors.loading`, so every worker
process memory-maps the same cached file. What is loaded lives in
:mod:`lightxfer.vectors.loaded`.
"""

from dataclasses import dataclass

from lightxfer.vectors import loaded, loading


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

    def resolve(self, *, check=True, allow_pickle=False, folder=None):
        """Return the vectors this handle names, loading them once per process.

        Only what a model file may name is followed: vectors already loaded in this
        process, the cache entry of a valid fingerprint, the shipped default, a
        gensim-data name already downloaded (never a download), or a path (absolute, or
        relative to ``folder``) to a vectors file whose format is not a pickle (unless
        ``allow_pickle``); see :func:`lightxfer.vectors.loading.resolve_reference`.

        Parameters
        ----------
        check : bool, default=True
            Raise :class:`~lightxfer.exceptions.VectorsMismatchError` when the vectors
            found have another fingerprint.
        allow_pickle : bool, default=False
            Also load a gensim ``KeyedVectors.save`` file, which can run code.
        folder : path, optional
            The model file's folder, which a relative path starts from.
        """
        return loading.resolve_reference(
            self, check=check, allow_pickle=allow_pickle, folder=folder
        )


def reference(kv):
    """Return the :class:`VectorsRef` of ``kv``, fingerprinting it on first use."""
    return VectorsRef(*loaded.origin(kv))


def spill(kv):
    """Return the reference of ``kv``, first writing in-memory vectors to the cache.

    Another process resolves the reference of vectors built in memory through the cache
    entry of their fingerprint, written here once.
    """
    loading.write_to_cache(kv)
    return reference(kv)


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
    return loaded.origin(kv).fingerprint
