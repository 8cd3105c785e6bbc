"""Pool the word vectors of each text into one row, for a whole batch at once.

Sums are one sparse (text x word) product with the vector matrix, max/min one
reduction per distinct text length: no Python loop over texts or tokens.
"""

import numpy as np
from scipy import sparse

POOLINGS = ("mean", "sum", "max", "min", "tfidf", "sif")


class TokenBatch:
    """Known tokens of a batch of texts, as columns of a vector matrix.

    Parameters
    ----------
    ids : ndarray of int64
        Row of every known token in the full vocabulary (or past it, for vectors built
        on the fly for out-of-vocabulary words).
    lengths : ndarray of int64
        Known tokens per text.
    rows : callable
        ``rows(unique_ids)`` returns the vectors of those ids, shape (n, dim).
    matrix : ndarray, optional
        The whole vocabulary matrix, when every id indexes it: the product then reads
        the (memory-mapped) rows in place, with no sort of the batch's ids and no copy.

    Examples
    --------
    >>> vectors = np.eye(3, dtype=np.float32)
    >>> batch = TokenBatch(np.array([0, 1, 1]), np.array([2, 0, 1]), None, matrix=vectors)
    >>> batch.pool("mean")
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ],
           [0. , 1. , 0. ]], dtype=float32)
    """

    def __init__(self, ids, lengths, rows, *, matrix=None):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if matrix is None:
            # Ids past the vocabulary: gather the batch's distinct rows once.
            self.vocab_ids, self.columns = np.unique(ids, return_inverse=True)
            self.matrix = np.ascontiguousarray(rows(self.vocab_ids), dtype=np.float32)
        else:
            self.vocab_ids, self.columns, self.matrix = None, ids, matrix
        self.indptr = np.concatenate([[0], np.cumsum(self.lengths)])

    def _weights(self, weights):
        if self.vocab_ids is None:
            return weights(self.columns).astype(np.float32)
        return weights(self.vocab_ids).astype(np.float32)[self.columns]

    def weighted_sum(self, weights=None):
        """Sum of (weighted) vectors per text; ``weights`` is indexed by vocabulary id."""
        data = np.ones(len(self.columns), np.float32) if weights is None else self._weights(weights)
        shape = (len(self.lengths), self.matrix.shape[0])
        counts = sparse.csr_matrix((data, self.columns, self.indptr), shape=shape)
        return np.asarray(counts @ self.matrix, dtype=np.float32), data

    def reduce(self, ufunc):
        """``ufunc`` (``np.maximum``, ``np.minimum``) over the token vectors of each text.

        Texts of the same length are reduced together as one (texts, length, dim) block:
        ``ufunc.reduceat`` along rows runs a tiny strided loop per text and column, ten
        times slower. Empty texts give zero rows.
        """
        out = np.zeros((len(self.lengths), self.matrix.shape[1]), dtype=np.float32)
        order = np.argsort(self.lengths, kind="stable")
        sorted_lengths = self.lengths[order]
        bounds = np.flatnonzero(np.diff(sorted_lengths)) + 1
        for texts in np.split(order, bounds):
            length = int(self.lengths[texts[0]]) if texts.size else 0
            if length == 0:
                continue
            positions = self.indptr[texts][:, None] + np.arange(length)
            block = np.asarray(self.matrix[self.columns[positions]], dtype=np.float32)
            out[texts] = ufunc.reduce(block, axis=1)
        return out

    def pool(self, pooling, *, idf=None, sif=None):
        """Features of one pooling method, shape (n_texts, dim)."""
        if pooling in ("max", "min"):
            return self.reduce(np.maximum if pooling == "max" else np.minimum)
        weights = {"tfidf": idf, "sif": sif}.get(pooling)
        total, data = self.weighted_sum(weights)
        if pooling == "sum":
            return total
        if pooling == "tfidf":
            norm = np.add.reduceat(np.append(data, 0), self.indptr[:-1])
            norm[self.lengths == 0] = 0
        else:
            norm = self.lengths
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norm[:, None] > 0, total / norm[:, None], 0.0).astype(np.float32)
