"""``EmbeddingVectorizer``: raw texts in, pooled pretrained word vectors out."""

import os
import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors
from joblib import Memory, Parallel, delayed, effective_n_jobs
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from lightxfer.exceptions import (
    ModelFileError,
    VectorsFileError,
    VectorsMismatchError,
    VectorsUnavailableError,
)
from lightxfer.shared import binding, feature_cache
from lightxfer.shared.base import SharedLayer
from lightxfer.shared.pooling import POOLINGS, TokenBatch
from lightxfer.shared.tokenize import TOKENIZERS, tokenize_ids
from lightxfer.shared.validation import iter_batches, training_texts
from lightxfer.vectors import loaded, loading, registry
from lightxfer.vectors.registry import VectorsRef

LOW_COVERAGE = 0.5
STATELESS_POOLINGS = {"mean", "sum", "max", "min"}


class EmbeddingVectorizer(SharedLayer):
    """Turn raw texts into fixed-size features by pooling frozen word vectors.

    The vectors are the shared layer: loaded once per process, memory-mapped, never
    copied by ``clone`` and never written into a pickle (the pickle holds a reference
    and the vectors' fingerprint; see ``store_vectors``).

    Parameters
    ----------
    vectors : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        Anything :func:`lightxfer.load_vectors` accepts.
    pooling : str or list of str, default="mean"
        ``"mean"``, ``"sum"``, ``"max"``, ``"min"``, ``"tfidf"`` (IDF-weighted mean, IDF
        learned in ``fit``), ``"sif"`` (smooth inverse frequency weights ``a / (a + p(w))``
        with ``p(w)`` from the word's frequency rank, first principal component learned
        in ``fit`` and removed), or a list of them whose features are concatenated.
    tokenizer : {"auto", "regex", "whitespace", "spacy"} or callable, default="auto"
        ``"auto"`` splits on whitespace, then splits a piece the vectors do not know
        into words, clitics and punctuation (see
        :func:`lightxfer.shared.tokenize.tokenize_ids`). ``"spacy"`` uses spaCy's
        rule-based English tokenizer. A callable maps one text to an iterable of tokens.
    lowercase : bool or "auto", default="auto"
        Lower-case texts; ``"auto"`` does so when the vectors' words are lower-case.
    sif_alpha : float, default=1e-3
        The ``a`` of SIF weights.
    store_vectors : bool, default=False
        Pickle a pruned copy of the vectors (the words seen in ``fit``) with the model,
        making the file self-contained; otherwise only a reference is stored.
    cache : bool, str or joblib.Memory, default=True
        Reuse features already computed for the same texts, vectors and pooling state:
        ``True`` keeps them in a bounded in-memory LRU cache (per text for mean, sum, max
        and min; ``$LIGHTXFER_FEATURE_CACHE_MB`` megabytes, default 1024), a path or
        ``Memory`` caches them on disk instead, ``False`` never caches.
    batch_size : int, default=10000
        Texts embedded per batch; memory use is bounded by the batch, not the input.
    n_jobs : int, optional
        Processes that embed batches in parallel (``-1``: all cores); each process
        memory-maps the vectors itself.
    progress : bool, optional
        Show a progress bar; by default shown for inputs of several batches on a terminal.

    Attributes
    ----------
    vectors_ : gensim.models.KeyedVectors
        The loaded vectors.
    fingerprint_ : str
        Content hash of ``vectors_``.
    poolings_ : list of str
        The poolings, in the order of their blocks of features.
    coverage_ : float
        Share of the tokens seen in ``fit`` that the vectors know.
    idf_ids_ : ndarray of int64
        Vocabulary rows of the words seen in ``fit`` (``tfidf`` pooling and
        ``store_vectors`` only).
    idf_ : ndarray of float32
        Their inverse document frequency, ``log((1 + n) / (1 + df)) + 1``.
    n_texts_fit_ : int
        Number of training texts, the ``n`` of ``idf_``; a word unseen in ``fit`` gets
        ``log(1 + n) + 1`` (``tfidf`` pooling and ``store_vectors`` only).
    source_ranks_ : tuple of (ndarray of int64, int)
        Only in a model loaded with ``store_vectors=True``: each stored word's
        frequency rank in the original vectors and their number of words, for SIF weights.
    sif_component_ : ndarray of float32 or None
        Unit vector removed from SIF features.
    lowercase_ : bool
        Whether texts are lower-cased.

    Examples
    --------
    >>> from lightxfer import EmbeddingVectorizer
    >>> vectorizer = EmbeddingVectorizer(pooling=["mean", "max"])
    >>> vectorizer.fit_transform(["A good film.", "A bad one."]).shape
    (2, 100)
    """

    _parameter_constraints: dict = {
        "vectors": [str, os.PathLike, KeyedVectors],
        "pooling": [StrOptions(set(POOLINGS)), list, tuple],
        "tokenizer": [StrOptions(set(TOKENIZERS)), callable],
        "lowercase": ["boolean", StrOptions({"auto"})],
        "sif_alpha": [Interval(Real, 0, None, closed="neither")],
        "store_vectors": ["boolean"],
        "cache": ["boolean", str, os.PathLike, Memory],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "progress": ["boolean", None],
    }

    weights_parameter = "vectors"
    #: Left out of cache keys: the vectors count by fingerprint, the rest never
    #: change what the features are.
    _runtime_parameters = ("vectors", "cache", "n_jobs", "progress", "batch_size")

    def __init__(
        self,
        vectors=loading.DEFAULT_VECTORS,
        pooling="mean",
        *,
        tokenizer="auto",
        lowercase="auto",
        sif_alpha=1e-3,
        store_vectors=False,
        cache=True,
        batch_size=10_000,
        n_jobs=None,
        progress=None,
    ):
        self.vectors = vectors
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.sif_alpha = sif_alpha
        self.store_vectors = store_vectors
        self.cache = cache
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.progress = progress

    def _poolings(self):
        poolings = [self.pooling] if isinstance(self.pooling, str) else list(self.pooling)
        unknown = [p for p in poolings if p not in POOLINGS]
        if not poolings or unknown:
            raise ValueError(
                f"pooling must be one of {POOLINGS} or a non-empty list of them, "
                f"got {self.pooling!r}"
            )
        return poolings

    # -- fit / transform -------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the vectors and learn the pooling state (IDF, SIF component).

        Parameters
        ----------
        X : iterable of str
            Training texts.
        y : array-like, optional
            Labels: not used, only checked (labels mixing numbers and text are refused).

        Returns
        -------
        self
        """
        self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return its features, computing them only once."""
        return self._fit(X, y, keep_features=True)

    def _fit(self, X, y=None, keep_features=False):
        texts = training_texts(X, y)
        self._reset()
        self.poolings_ = self._poolings()
        kv = loading.load_vectors(self.vectors)
        self.vectors_, self.fingerprint_ = kv, registry.reference(kv).fingerprint
        key = None
        if self.cache is not False and not self._stateless():
            texts_key = feature_cache.texts_digest(texts)
            key = ("fit", self._params_digest(), self.fingerprint_, texts_key)
        learn = partial(self._learn, texts, keep_features)
        return feature_cache.fit_once(key, self, learn, ignore=("vectors_",))

    def _learn(self, texts, keep_features):
        """Learn the fitted state from ``texts``; return their features if computed."""
        kv = self.vectors_
        self.lowercase_ = (
            loaded.is_lowercase(kv) if self.lowercase == "auto" else bool(self.lowercase)
        )
        self.sif_component_ = None
        if self._row_key() is not None:
            # Nothing to learn but coverage: reuse rows and token counts of known texts.
            features, counts = self._rows(texts)
            known, total = counts.sum(axis=0)
            self._check_coverage(known, total, lambda: self._tokenize(texts)[2])
            return features if keep_features else None
        ids, lengths, unknown = self._tokenize(texts)
        self._check_coverage((ids >= 0).sum(), len(ids), lambda: unknown)
        if "tfidf" in self.poolings_ or self.store_vectors:
            self._learn_idf(ids, lengths)
        features = None
        if keep_features or "sif" in self.poolings_:
            features = self._embed_tokens(ids, lengths, unknown)
        if "sif" in self.poolings_:
            self.sif_component_ = _first_component(self._block(features, "sif"))
            features = self._remove_sif_component(features)
        return features

    def _learn_idf(self, ids, lengths):
        text_of_token = np.repeat(np.arange(len(lengths)), lengths)
        known = ids >= 0
        pairs = np.unique(np.stack([text_of_token[known], ids[known]]), axis=1)
        self.idf_ids_, df = np.unique(pairs[1], return_counts=True)
        self.idf_ = (np.log((1 + len(lengths)) / (1 + df)) + 1).astype(np.float32)
        self.n_texts_fit_ = len(lengths)

    def _check_coverage(self, n_known, n_tokens, unknown_words):
        """Set ``coverage_``; warn, naming a likely cause, when it is low."""
        self.coverage_ = float(n_known / n_tokens) if n_tokens else 0.0
        if n_tokens == 0 or self.coverage_ < LOW_COVERAGE:
            # stacklevel: the caller of fit (through fit_once, _fit and _fit_context).
            warnings.warn(self._coverage_advice(n_tokens, unknown_words()), stacklevel=6)

    def _coverage_advice(self, n_tokens, unknown):
        if n_tokens == 0:
            return "the training texts contain no tokens: every feature will be zero"
        advice = f"only {self.coverage_:.0%} of the tokens are in the vectors' vocabulary"
        vocab = self.vectors_.key_to_index
        sample = unknown[:2000]
        if not self.lowercase_ and sum(word.lower() in vocab for word in sample) > len(sample) / 2:
            return (
                advice + ": the texts are cased but the vectors are lower-cased; use lowercase=True"
            )
        if sum(word.isascii() for word in sample) < len(sample) / 2:
            return advice + ": the texts may be in another language or script than the vectors"
        return advice + ": check the tokenizer and that the vectors suit these texts"

    def transform(self, X):
        """Return the pooled features of ``X``.

        Parameters
        ----------
        X : iterable of str
            Texts; lists, arrays, pandas Series and generators are all read in batches.

        Returns
        -------
        ndarray of shape (n_texts, n_features), float32
            A text with no known word, or an empty text, gives a zero row.
        """
        self._check_fitted()
        n_features = self._n_features()  # binds a rebuilt layer before any worker copies it
        batches = (texts for _, texts in iter_batches(X, self.batch_size))
        n_jobs = effective_n_jobs(self.n_jobs)
        total = len(X) if hasattr(X, "__len__") else None
        large = total is None or total > 2 * self.batch_size
        with self._progress_bar(total, large, "embedding") as bar:
            if n_jobs == 1:
                parts = map(self._transform_batch, batches)
            else:
                parts = Parallel(n_jobs=n_jobs, return_as="generator")(
                    delayed(self._transform_batch)(texts) for texts in batches
                )
            return _collect(parts, total, n_features, bar)

    def _transform_batch(self, texts):
        if self._row_key() is not None:
            return self._rows(texts)[0]
        return feature_cache.cached_batch(self.cache, texts, self._embed, self._state_digest)

    def _stateless(self):
        # These poolings embed a text the same way whatever the training texts.
        return set(self.poolings_) <= STATELESS_POOLINGS and not self.store_vectors

    def _row_key(self):
        """Key of this configuration's per-text :class:`RowTable`, or ``None`` if unused."""
        if self.cache is not True or not self._stateless():
            return None
        return ("rows", self._params_digest(), self.fingerprint_)

    def _rows(self, texts):
        """Features and (known, all) token counts of ``texts``, embedding only new texts."""
        return feature_cache.cached_rows(
            self._row_key(), texts, self._embed_with_counts, self._n_features()
        )

    def _tokenize(self, texts):
        return tokenize_ids(
            texts, self.vectors_.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
        )

    def _embed(self, texts):
        features = self._embed_tokens(*self._tokenize(texts))
        return self._remove_sif_component(features)

    def _embed_with_counts(self, texts):
        ids, lengths, unknown = self._tokenize(texts)
        text_of_token = np.repeat(np.arange(len(texts)), lengths)
        known = np.bincount(text_of_token[ids >= 0], minlength=len(texts))
        return self._embed_tokens(ids, lengths, unknown), np.stack([known, lengths], axis=1)

    def _embed_tokens(self, ids, lengths, unknown):
        kv = self.vectors_
        n_known = len(kv.index_to_key)
        extra = None
        if unknown and isinstance(kv, FastTextKeyedVectors):
            # fastText builds vectors for unknown words from their character n-grams.
            words, position = np.unique(np.array(unknown, dtype=object), return_inverse=True)
            extra = np.stack([kv.get_vector(word) for word in words]).astype(np.float32)
            ids = ids.copy()
            ids[ids < 0] = n_known + position
        else:
            known = ids >= 0
            if not known.all():
                text_of_token = np.repeat(np.arange(len(lengths)), lengths)
                lengths = np.bincount(text_of_token[known], minlength=len(lengths))
                ids = ids[known]
        # The product reads rows in place only from a row-major matrix; a column-major
        # one (vectors built in memory from a transposed array) would be copied per batch.
        in_place = extra is None and kv.vectors.flags.c_contiguous
        rows = partial(_rows_of, kv, extra)
        batch = TokenBatch(ids, lengths, rows, matrix=kv.vectors if in_place else None)
        blocks = [
            batch.pool(p, idf=partial(self._idf_of, n_known=n_known), sif=self._sif_weights)
            for p in self.poolings_
        ]
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]

    def _idf_of(self, unique, n_known):
        default = np.float32(np.log(1 + self.n_texts_fit_) + 1)
        out = np.full(len(unique), default, dtype=np.float32)
        position = np.searchsorted(self.idf_ids_, unique)
        position = np.minimum(position, len(self.idf_ids_) - 1)
        found = self.idf_ids_[position] == unique
        out[found] = self.idf_[position[found]]
        return out

    def _sif_weights(self, unique):
        # p(w) from Zipf's law on the frequency rank: vector files list words by frequency.
        ranks, n_words = getattr(self, "source_ranks_", (None, len(self.vectors_.index_to_key)))
        if ranks is not None:  # a pruned stored copy: rank words as in the original vectors
            unique = ranks[unique]
        harmonic = np.log(n_words) + 0.5772
        rank = np.minimum(unique, n_words - 1) + 1.0
        return self.sif_alpha / (self.sif_alpha + 1.0 / (rank * harmonic))

    def _block(self, features, name):
        dim = self.vectors_.vector_size
        start = self.poolings_.index(name) * dim
        return features[:, start : start + dim]

    def _remove_sif_component(self, features):
        if "sif" in self.poolings_ and self.sif_component_ is not None:
            block = self._block(features, "sif")
            component = self.sif_component_.astype(np.float64)
            # A row-wise sum, not ``block @ component``: BLAS blocks a matrix product by
            # the batch's shape, so a text's row would depend on the texts beside it.
            projection = (block * component).sum(axis=1, dtype=np.float64)
            block -= (projection[:, None] * component).astype(np.float32)
        return features

    def _n_features(self):
        return len(self.poolings_) * self.vectors_.vector_size

    # -- cache keys -------------------------------------------------------------------

    def _params_digest(self):
        return feature_cache.params_digest(self, ignore=self._runtime_parameters)

    def _state_digest(self):
        state = sorted(feature_cache.fitted_state(self, ignore=("vectors_",)).items())
        return feature_cache.state_digest(self._params_digest(), state)

    # -- scikit-learn API ------------------------------------------------------------

    def _feature_blocks(self):
        """``pooling_i`` names, e.g. ``mean_0 ... mean_49 max_0 ...``."""
        return [(pooling, self.vectors_.vector_size) for pooling in self.poolings_]

    # -- pickling and loading: vectors by reference ----------------------------------

    def __getstate__(self):
        with binding.LOCK:  # never the state of a half-bound layer
            state = dict(super().__getstate__())
            if isinstance(self.vectors, KeyedVectors):
                state["vectors"] = _file_reference(registry.spill(self.vectors))
            kv = state.pop("vectors_", None)
        if kv is not None:
            if self.store_vectors:
                ranks, n_words = getattr(self, "source_ranks_", (self.idf_ids_, len(kv)))
                state["_stored_vectors"] = (
                    [kv.index_to_key[i] for i in self.idf_ids_],
                    np.asarray(kv.vectors[self.idf_ids_]),
                    (ranks, n_words),
                )
            else:
                state["_vectors_ref"] = _file_reference(registry.spill(kv))
        return state

    def __setstate__(self, state):
        # skops calls this while rebuilding a model file: it only stores the state, and
        # the references in it stay data until bound below. Files written before
        # poolings_ existed, or by a version that pickled the ranks as _source_ranks
        # (a model loaded with stored vectors, then saved again), still load.
        state = dict(state)
        if "_source_ranks" in state:
            state["source_ranks_"] = state.pop("_source_ranks")
        if "fingerprint_" in state and "poolings_" not in state:
            pooling = state.get("pooling")
            state["poolings_"] = [pooling] if isinstance(pooling, str) else list(pooling)
        super().__setstate__(state)

    def __reduce_ex__(self, protocol):
        # A pickle is trusted by whoever unpickles it (worker processes, deepcopy): a
        # bound layer binds again as soon as it is rebuilt, with allow_pickle only if its
        # vectors were a pickle the caller allowed. A layer never bound (rebuilt from a
        # file by skops.io.load) is copied unbound: the copy binds itself safely on first
        # use, as the original would. skops never calls this.
        with binding.LOCK:
            state = self.__getstate__()
            if self._unbound():
                return binding.unpickle, (type(self), state, None)
            kv = self.__dict__.get("vectors_", self.vectors)
            pickled = isinstance(kv, KeyedVectors) and loading.loaded_from_pickle(kv)
        return binding.unpickle, (type(self), state, pickled)

    def _unbound(self):
        return bool(_UNBOUND.intersection(self.__dict__)) or isinstance(
            self.__dict__.get("vectors"), VectorsRef
        )

    def __getattr__(self, name):
        # Rebuilt but not bound (skops.io.load, not lightxfer.load): bind on first use,
        # with the defaults, which follow only safe references.
        if name == "vectors_" and _UNBOUND.intersection(self.__dict__):
            self.__lightxfer_bind__(binding.BindOptions())
            return self.__dict__["vectors_"]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __lightxfer_bind__(self, options):
        """Bind the vectors the rebuilt model refers to (:mod:`lightxfer.shared.binding`).

        Everything is resolved first and published last, under ``binding.LOCK``: another
        thread sees the layer unbound (and waits to bind it) or bound, never in between.

        Parameters
        ----------
        options : lightxfer.shared.binding.BindOptions
        """
        with binding.LOCK:
            state = self.__dict__
            stored, ref = state.get("_stored_vectors"), state.get("_vectors_ref")
            given = options.sources.get("vectors")
            bound = {}
            if stored is not None:
                bound = self._bound_stored(stored, options)
            elif ref is not None:
                bound["vectors_"] = _bind_reference(ref, state.get("fingerprint_"), options)
            if isinstance(self.vectors, VectorsRef):
                found = bound.get("vectors_", state.get("vectors_"))
                if found is None or registry.fingerprint(found) != self.vectors.fingerprint:
                    found = _bind_reference(self.vectors, self.vectors.fingerprint, options)
                bound["vectors"] = found
            if given is not None and not self.store_vectors:
                bound["vectors"] = given  # refits use the vectors the caller named
            if "fingerprint_" in state and "vectors_" not in {*bound, *state}:
                raise ModelFileError(
                    f"{options.where}a fitted {type(self).__name__} has no vectors "
                    "reference; damaged or crafted file"
                )
            state.update(bound)
            for name in _UNBOUND:
                state.pop(name, None)

    def _bound_stored(self, stored, options):
        """The attributes a layer saved with ``store_vectors=True`` gets when bound."""
        from lightxfer.vectors.store import keyed_vectors

        try:
            words, matrix, (ranks, n_words) = stored
            matrix = np.asarray(matrix, dtype=np.float32)
            if matrix.ndim != 2 or len(words) != len(matrix) or len(ranks) != len(words):
                raise ValueError("shapes differ")
            if not all(isinstance(word, str) for word in words):
                raise TypeError("a word is not a string")
        except (TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{options.where}the vectors stored with the model are damaged ({exc})"
            ) from None
        kv = keyed_vectors(list(words), matrix)
        loaded.register(kv, None, None, loaded.compute_fingerprint(kv))
        return {
            "source_ranks_": (np.asarray(ranks, dtype=np.int64), int(n_words)),
            "idf_ids_": np.arange(len(words)),
            "vectors_": kv,
        }


_UNBOUND = {"_stored_vectors", "_vectors_ref"}  # state a rebuilt model has until bound


def _file_reference(ref):
    """``ref`` as a model file being written records it (a path relative to the file)."""
    if ref.source is None or ref.source in loading.GENSIM_DATA_NAMES:
        return ref
    return VectorsRef(binding.file_path(ref.source), ref.limit, ref.fingerprint)


def _bind_reference(ref, fitted, options):
    """Return the vectors of ``ref`` (from a model file), or the caller's, checked."""
    where = options.where
    given = options.sources.get("vectors")
    try:
        if not isinstance(ref, VectorsRef):
            raise VectorsFileError(f"the vectors reference is a {type(ref).__name__}")
        expected = loaded.check_fingerprint(ref.fingerprint)
        if fitted is not None and fitted != expected:
            raise ValueError("the reference and fingerprint_ disagree")
        if given is not None:
            kv = loading.load_vectors(given, allow_pickle=options.allow_pickle)
        else:
            kv = loading.resolve_reference(
                ref, check=False, allow_pickle=options.allow_pickle, folder=options.folder
            )
    except (ValueError, OSError) as exc:  # VectorsFileError, VectorsUnavailableError too
        kind = VectorsUnavailableError if isinstance(exc, VectorsUnavailableError) else None
        raise (kind or VectorsFileError)(
            f"{where}cannot load the model's vectors ({exc}); pass vectors=... to "
            "lightxfer.load to point it at them"
        ) from None
    actual = registry.fingerprint(kv)
    if options.check and actual != expected:
        found = registry.reference(kv).source or "in-memory vectors"
        if given is None and loading.is_path_reference(ref.source):
            found = "the file the model refers to"  # its resolved path is not the file's to learn
        raise VectorsMismatchError(
            f"{where}the vectors found ({found}, fingerprint {actual}) are not the ones the "
            f"model was fitted with ({ref.source or 'in-memory vectors'}, fingerprint "
            f"{expected}); pass vectors=<the original vectors> or check_vectors=False to "
            "lightxfer.load to use these anyway"
        )
    return kv


def _collect(parts, total, n_features, bar):
    # With a known length, fill one array: concatenating the parts at the end would
    # hold the features twice, the peak of a million-text transform.
    if total is not None:
        out = np.empty((total, n_features), dtype=np.float32)
        done = 0
        for part in parts:
            out[done : done + len(part)] = part
            done += len(part)
            bar.update(len(part))
        return out[:done]
    out = []
    for part in parts:
        out.append(part)
        bar.update(len(part))
    if not out:
        return np.zeros((0, n_features), dtype=np.float32)
    return np.concatenate(out) if len(out) > 1 else out[0]


def _rows_of(kv, extra, unique):
    """Vectors of the rows ``unique`` of ``kv``, then of the fastText ``extra`` rows."""
    if extra is None:
        return kv.vectors[unique]
    n_known = len(kv.index_to_key)
    inside = unique < n_known
    out = np.empty((len(unique), kv.vector_size), dtype=np.float32)
    out[inside] = kv.vectors[unique[inside]]
    out[~inside] = extra[unique[~inside] - n_known]
    return out


def _first_component(features):
    # Arora et al. remove the first singular vector of the uncentred sentence matrix.
    _, eigenvectors = np.linalg.eigh(features.astype(np.float64).T @ features)
    component = eigenvectors[:, -1]
    component *= np.sign(component[np.argmax(np.abs(component))])
    return component.astype(np.float32)
