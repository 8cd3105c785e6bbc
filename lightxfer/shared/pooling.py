"""Pool the word vectors of each text into one row, for a whole batch at once.

The batch's distinct words are gathered once into a small matrix; sums are a sparse
(text x word) product with it and max/min are ``ufunc.reduceat`` over the token rows.
"""

import numpy as np
from scipy import sparse

POOLINGS = ("mean", "sum", "max", "min", "tfidf", "sif")


class TokenBatch:
    """Known tokens of a batch of texts, indexed into the batch's own small matrix.

    Parameters
    ----------
    ids : ndarray of int64
        Row of every known token in the full vocabulary (or past it, for vectors built
        on the fly for out-of-vocabulary words).
    lengths : ndarray of int64
        Known tokens per text.
    rows : callable
        ``rows(unique_ids)`` returns the vectors of those ids, shape (n, dim).
    """

    def __init__(self, ids, lengths, rows):
        self.lengths = lengths
        self.unique, self.local = np.unique(ids, return_inverse=True)
        self.matrix = np.asarray(rows(self.unique), dtype=np.float32)
        self.indptr = np.concatenate([[0], np.cumsum(lengths)])

    def weighted_sum(self, weights=None):
        """Sum of (weighted) vectors per text; ``weights`` is indexed by vocabulary id."""
        data = (
            np.ones(len(self.local), dtype=np.float32)
            if weights is None
            else weights(self.unique).astype(np.float32)[self.local]
        )
        shape = (len(self.lengths), len(self.unique))
        counts = sparse.csr_matrix((data, self.local, self.indptr), shape=shape)
        return np.asarray(counts @ self.matrix, dtype=np.float32), data

    def reduce(self, ufunc):
        """``ufunc.reduceat`` of the token vectors of each text; zeros for empty texts."""
        out = np.zeros((len(self.lengths), self.matrix.shape[1]), dtype=np.float32)
        filled = self.lengths > 0
        if filled.any():
            out[filled] = ufunc.reduceat(self.matrix[self.local], self.indptr[:-1][filled], axis=0)
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
            text_of_token = np.repeat(np.arange(len(self.lengths)), self.lengths)
            norm = np.bincount(text_of_token, weights=data, minlength=len(self.lengths))
        else:
            norm = self.lengths
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norm[:, None] > 0, total / norm[:, None], 0.0).astype(np.float32)
