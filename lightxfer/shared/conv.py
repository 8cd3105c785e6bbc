"""``ConvLayer``: raw texts in, max-pooled 1-D convolutions over frozen word vectors out.

The convolutional shared layer of Kim (2014)'s CNN-static: each text becomes its word
vectors (frozen, by reference, as in :class:`lightxfer.EmbeddingVectorizer`), filters
of a few widths slide over them, and each feature map is pooled over time. The filters
are trained on a source task (:func:`lightxfer.shared.conv_training.train_conv_filters`,
with torch) and frozen; applying them needs only numpy: one matrix product of the
texts' word vectors with every filter's every row, then shifted sums.
"""

import os
from numbers import Integral

import numpy as np
from gensim.models import KeyedVectors
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from lightxfer.exceptions import ModelFileError, VectorsMismatchError
from lightxfer.shared import feature_cache
from lightxfer.shared.base import SharedLayer
from lightxfer.shared.conv_filters import ConvFilters, read_filters
from lightxfer.shared.tokenize import TOKENIZERS, tokenize_ids
from lightxfer.shared.validation import iter_batches, training_texts
from lightxfer.shared.vectorizer import EmbeddingVectorizer

CONV_POOLINGS = ("max", "mean")
#: Bytes of the intermediate products per chunk of texts (a longer text is its own chunk).
CHUNK_BYTES = 32 << 20


class ConvLayer(SharedLayer):
    """Turn raw texts into the pooled feature maps of frozen convolution filters.

    Parameters
    ----------
    filters : str, path or ConvFilters, default="sst2"
        The trained filters: a shipped conv source (``"sst2"``, ``"sst5"``, ``"subj"``,
        ``"trec"``, ``"mpqa"``, trained on the default GloVe vectors), an ``.npz`` file
        written by :meth:`ConvFilters.save`, or a :class:`ConvFilters` from
        :func:`lightxfer.train_conv_filters`.
    vectors : str, path or KeyedVectors, optional
        Where to find the word vectors; default the ones the filters name. Their
        fingerprint must be the one the filters were trained on.
    pooling : {"max", "mean"} or list of them, default="max"
        Pooling of each feature map over the positions of a text (Kim's is ``"max"``);
        a list concatenates the blocks.
    tokenizer : {"auto", "regex", "whitespace", "spacy"} or callable, default="auto"
        As in :class:`lightxfer.EmbeddingVectorizer`; the shipped filters were trained
        with ``"auto"``.
    lowercase : bool or "auto", default="auto"
        Lower-case texts; ``"auto"`` does so when the vectors' words are lower-case.
    cache : bool, default=True
        Keep the features of each text in the bounded in-memory cache.
    batch_size : int, default=10000
        Texts handled per batch.
    progress : bool, optional
        Show a progress bar; by default shown for inputs of several batches on a terminal.

    Attributes
    ----------
    filters_ : ConvFilters
        The filters, checked.
    embedding_ : EmbeddingVectorizer
        The word vectors' layer: the vectors (by reference), the tokenizer's casing.
    poolings_ : list of str
    fingerprint_ : str
        Digest of the vectors' fingerprint and the filters.

    Examples
    --------
    >>> from lightxfer import ConvLayer
    >>> layer = ConvLayer("sst2").fit(["A good film.", "A bad one."])
    >>> layer.transform(["A good film."]).shape  # 32 maps for each of the widths 3, 4, 5
    (1, 96)
    """

    _parameter_constraints: dict = {
        "filters": [str, os.PathLike, ConvFilters],
        "vectors": [str, os.PathLike, KeyedVectors, None],
        "pooling": [StrOptions(set(CONV_POOLINGS)), list, tuple],
        "tokenizer": [StrOptions(set(TOKENIZERS)), callable],
        "lowercase": ["boolean", StrOptions({"auto"})],
        "cache": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "progress": ["boolean", None],
    }

    weights_parameter = "vectors"
    _runtime_parameters = ("filters", "vectors", "cache", "progress", "batch_size")

    def __init__(
        self,
        filters="sst2",
        vectors=None,
        pooling="max",
        *,
        tokenizer="auto",
        lowercase="auto",
        cache=True,
        batch_size=10_000,
        progress=None,
    ):
        self.filters = filters
        self.vectors = vectors
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress

    def _poolings(self):
        poolings = [self.pooling] if isinstance(self.pooling, str) else list(self.pooling)
        if not poolings or any(p not in CONV_POOLINGS for p in poolings):
            raise ValueError(
                f"pooling must be one of {CONV_POOLINGS} or a non-empty list of them, "
                f"got {self.pooling!r}"
            )
        return poolings

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Read and check the filters, load the vectors they were trained on.

        Parameters
        ----------
        X : iterable of str
            Training texts: nothing is learned from them but the vectors' coverage.
        y : array-like, optional
            Not used, only checked.

        Returns
        -------
        self
        """
        texts = training_texts(X, y)
        self._reset()
        self.poolings_ = self._poolings()
        filters = self.filters
        filters = filters.check() if isinstance(filters, ConvFilters) else read_filters(filters)
        vectors = filters.vectors if self.vectors is None else self.vectors
        if not vectors:
            raise ValueError(
                "the conv filters were trained on vectors held in memory: pass vectors=..."
            )
        self.embedding_ = EmbeddingVectorizer(
            vectors, tokenizer=self.tokenizer, lowercase=self.lowercase
        ).fit(texts)
        found = self.embedding_.fingerprint_
        if found != filters.vectors_fingerprint:
            raise VectorsMismatchError(
                f"the conv filters were trained on {filters.vectors} (fingerprint "
                f"{filters.vectors_fingerprint}), not on these vectors (fingerprint {found}); "
                "pass vectors=<those vectors>"
            )
        self.filters_ = filters
        self.fingerprint_ = feature_cache.state_digest(found, filters.coefs, filters.intercepts)
        return self

    @property
    def lowercase_(self):
        """Whether texts are lower-cased (the n-grams of the recommended model follow it)."""
        return self.embedding_.lowercase_

    def transform(self, X):
        """Return the pooled feature maps of ``X``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        ndarray of shape (n_texts, n_maps * n_poolings), float32
            An empty text, or one with no known word, is read as zero vectors.
        """
        self._check_fitted()
        n_features = self._n_features()
        total = len(X) if hasattr(X, "__len__") else None
        large = total is None or total > 2 * self.batch_size
        parts = []
        with self._progress_bar(total, large, "convolving") as bar:
            for _, texts in iter_batches(X, self.batch_size):
                if self.cache:
                    key = ("conv-rows", self._params_digest(), self.fingerprint_)
                    rows = feature_cache.cached_rows(key, texts, self._compute, n_features)[0]
                else:
                    rows = self._compute(texts)[0]
                parts.append(rows)
                bar.update(len(texts))
        if not parts:
            return np.zeros((0, n_features), dtype=np.float32)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _compute(self, texts):
        """Features and ``(known, all)`` token counts of ``texts``."""
        kv = self.embedding_.vectors_
        if kv.vector_size != self.filters_.dim:
            raise VectorsMismatchError(
                f"the conv filters read {self.filters_.dim}-d vectors, these have "
                f"{kv.vector_size} dimensions"
            )
        ids, lengths, _ = tokenize_ids(
            texts, kv.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
        )
        features = convolve(kv.vectors, ids, lengths, self.filters_, self.poolings_)
        text_of_token = np.repeat(np.arange(len(texts)), lengths)
        known = np.bincount(text_of_token[ids >= 0], minlength=len(texts))
        return features, np.stack([known, lengths], axis=1)

    def _params_digest(self):
        return feature_cache.params_digest(self, ignore=self._runtime_parameters)

    def _n_features(self):
        return len(self.poolings_) * self.filters_.n_features

    def _feature_blocks(self):
        """``conv_<pooling>_i`` names, one block per pooling."""
        return [(f"conv_{pooling}", self.filters_.n_features) for pooling in self.poolings_]

    def __lightxfer_bind__(self, options):
        """Check the filters a rebuilt model holds (the vectors bind in ``embedding_``).

        Parameters
        ----------
        options : lightxfer.shared.binding.BindOptions
        """
        where = options.where
        state = self.__dict__
        for name in ("filters", "filters_"):
            value = state.get(name)
            if isinstance(value, ConvFilters):
                try:
                    value.check(f"{type(self).__name__}.{name}: ")
                except ValueError as error:
                    raise ModelFileError(f"{where}{error}; damaged or crafted file") from None
        if "fingerprint_" not in state:
            return
        poolings = state.get("poolings_")
        if not (
            isinstance(state.get("filters_"), ConvFilters)
            and isinstance(state.get("embedding_"), EmbeddingVectorizer)
            and isinstance(poolings, list)
            and poolings
            and all(isinstance(p, str) and p in CONV_POOLINGS for p in poolings)
        ):
            raise ModelFileError(
                f"{where}a fitted ConvLayer lacks its filters, vectors or poolings; "
                "damaged or crafted file"
            )


def convolve(matrix, ids, lengths, filters, poolings):
    """Pooled feature maps of the texts ``ids`` (split by ``lengths``) under ``filters``.

    Each text is its word vectors (zero for an unknown word) with ``widest - 1`` zero
    vectors on either side (Kim's padding: every word is in every position of some
    window, and an empty text has windows too); a filter of width ``w`` gives one value
    per window of ``w`` rows inside the padded text, ``max(0, value + intercept)``,
    pooled over the windows.

    Parameters
    ----------
    matrix : ndarray of shape (n_words, dim)
        The word vectors.
    ids : ndarray of int64
        Row of every token, ``-1`` for an unknown word.
    lengths : ndarray of int64
        Tokens of each text.
    filters : ConvFilters
    poolings : list of {"max", "mean"}

    Returns
    -------
    ndarray of shape (len(lengths), filters.n_features * len(poolings)), float32
    """
    n_columns = sum(np.shape(c)[0] * np.shape(c)[2] for c in filters.coefs)
    # The products of one chunk hold n_columns values per token.
    chunk_tokens = max(CHUNK_BYTES // (4 * n_columns), 1)
    widest = max(filters.widths)
    padded = np.maximum(lengths + 2 * (widest - 1), widest)
    ends = np.cumsum(lengths)
    weights = np.hstack(
        [np.asarray(c[k], dtype=np.float32) for c in filters.coefs for k in range(len(c))]
    )
    out = np.empty((len(lengths), filters.n_features * len(poolings)), dtype=np.float32)
    first = 0
    while first < len(lengths):
        budget = np.cumsum(padded[first:])
        last = first + max(int(np.searchsorted(budget, chunk_tokens, side="right")), 1)
        start = ends[first] - lengths[first]
        out[first:last] = _convolve_chunk(
            matrix, ids[start : ends[last - 1]], lengths[first:last], filters, weights, poolings
        )
        first = last
    return out


def _convolve_chunk(matrix, ids, lengths, filters, weights, poolings):
    widest = max(filters.widths)
    lead = widest - 1
    padded = np.maximum(lengths + 2 * lead, widest)
    starts = np.cumsum(padded) - padded
    n_rows = int(padded.sum())
    text_of_row = np.repeat(np.arange(len(lengths)), padded)
    rank = np.arange(n_rows) - starts[text_of_row]
    is_token = (rank >= lead) & (rank < lead + lengths[text_of_row])
    padded_ids = np.full(n_rows, -1, dtype=np.int64)
    padded_ids[is_token] = ids
    known = padded_ids >= 0
    embedded = np.zeros((n_rows, matrix.shape[1]), dtype=np.float32)
    embedded[known] = matrix[padded_ids[known]]
    # One product for every row of every filter; a filter's response at position p is
    # the sum over its rows k of row k's product at p + k.
    products = embedded @ weights
    blocks = {pooling: [] for pooling in poolings}
    column = 0
    for coef, intercept in zip(filters.coefs, filters.intercepts):
        width, _, n_maps = coef.shape
        n_windows = n_rows - width + 1
        response = products[:n_windows, column : column + n_maps].copy()
        for k in range(1, width):
            shift = column + k * n_maps
            response += products[k : k + n_windows, shift : shift + n_maps]
        column += width * n_maps
        inside = rank[:n_windows] <= (padded - width)[text_of_row[:n_windows]]
        response = response[inside]
        windows = padded - width + 1
        first = np.cumsum(windows) - windows
        bias = np.asarray(intercept, dtype=np.float32)
        for pooling in poolings:
            if pooling == "max":
                pooled = np.maximum(np.maximum.reduceat(response, first, axis=0) + bias, 0)
            else:
                relu = np.maximum(response + bias, 0)
                pooled = np.add.reduceat(relu, first, axis=0) / windows[:, None]
            blocks[pooling].append(pooled.astype(np.float32, copy=False))
    return np.hstack([block for pooling in poolings for block in blocks[pooling]])
