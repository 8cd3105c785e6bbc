"""``EmbeddingVectorizer``: raw texts in, pooled pretrained word vectors out."""

import copy
import os
import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors
from joblib import Memory, Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from lightxfer import persistence
from lightxfer.exceptions import VectorsFileError, VectorsMismatchError, VectorsUnavailableError
from lightxfer.shared import feature_cache
from lightxfer.shared.pooling import POOLINGS, TokenBatch
from lightxfer.shared.tokenize import TOKENIZERS, tokenize_ids
from lightxfer.shared.validation import iter_batches, to_text_list
from lightxfer.vectors import loading, registry
from lightxfer.vectors.registry import VectorsRef

LOW_COVERAGE = 0.5
STATELESS_POOLINGS = {"mean", "sum", "max", "min"}


class EmbeddingVectorizer(TransformerMixin, BaseEstimator):
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
    coverage_ : float
        Share of the tokens seen in ``fit`` that the vectors know.
    idf_ids_ : ndarray of int64
        Vocabulary rows of the words seen in ``fit`` (``tfidf`` pooling and
        ``store_vectors`` only).
    idf_ : ndarray of float32
        Their inverse document frequency, ``log((1 + n) / (1 + df)) + 1``.
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

    # -- parameters ---------------------------------------------------------------

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
        y : ignored

        Returns
        -------
        self
        """
        self._fit(to_text_list(X))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return its features, computing them only once."""
        return self._fit(to_text_list(X), keep_features=True)

    def _fit(self, texts, keep_features=False):
        # A fit starts from nothing: state of an earlier fit with other parameters
        # (e.g. idf_ after set_params(pooling="mean")) must not survive it.
        for name in [name for name in vars(self) if name.endswith("_") and name[0] != "_"]:
            delattr(self, name)
        poolings = self._poolings()
        if not texts:
            raise ValueError("cannot fit on an empty list of texts")
        kv = loading.load_vectors(self.vectors)
        ref = registry.reference(kv)
        key = None
        if self.cache is not False and not self._stateless(poolings):
            key = ("fit", self._params_digest(), ref.fingerprint, feature_cache.texts_digest(texts))
            cached = feature_cache.FEATURE_CACHE.get(key)
            if cached is not None:
                features = cached.pop("features")
                self.__dict__.update(cached, vectors_=kv)
                return features
        self.vectors_, self.fingerprint_ = kv, ref.fingerprint
        self.lowercase_ = (
            registry.is_lowercase(kv) if self.lowercase == "auto" else bool(self.lowercase)
        )
        self.sif_component_ = None
        if self._row_key(poolings) is not None:
            # Nothing to learn but coverage: reuse rows and token counts of known texts.
            features, counts = self._rows(texts, poolings)
            known, total = counts.sum(axis=0)
            self.coverage_ = float(known / total) if total else 0.0
            if total == 0 or self.coverage_ < LOW_COVERAGE:
                unknown = tokenize_ids(
                    texts, kv.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
                )[2]
                warnings.warn(self._coverage_advice(total, unknown), stacklevel=3)
            return features if keep_features else None
        ids, lengths, unknown = tokenize_ids(
            texts, kv.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
        )
        self._learn_state(ids, lengths, unknown, poolings)
        features = None
        if keep_features or "sif" in poolings:
            features = self._embed_tokens(ids, lengths, unknown)
        if "sif" in poolings:
            self.sif_component_ = _first_component(self._block(features, poolings, "sif"))
            features = self._remove_sif_component(features, poolings)
        if key is not None and features is not None:
            state = {name: value for name, value in vars(self).items() if name.endswith("_")}
            state.pop("vectors_")
            feature_cache.FEATURE_CACHE.put(key, {**state, "features": features})
        return features

    def _learn_state(self, ids, lengths, unknown, poolings):
        n_tokens = len(ids)
        self.coverage_ = float((ids >= 0).mean()) if n_tokens else 0.0
        if n_tokens == 0 or self.coverage_ < LOW_COVERAGE:
            warnings.warn(self._coverage_advice(n_tokens, unknown), stacklevel=4)
        if "tfidf" in poolings or self.store_vectors:
            text_of_token = np.repeat(np.arange(len(lengths)), lengths)
            known = ids >= 0
            pairs = np.unique(np.stack([text_of_token[known], ids[known]]), axis=1)
            self.idf_ids_, df = np.unique(pairs[1], return_counts=True)
            self.idf_ = (np.log((1 + len(lengths)) / (1 + df)) + 1).astype(np.float32)
            self.n_texts_fit_ = len(lengths)

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
        check_is_fitted(self, "fingerprint_")
        poolings = self._poolings()
        batches = iter_batches(X, self.batch_size)
        n_jobs = effective_n_jobs(self.n_jobs)
        total = len(X) if hasattr(X, "__len__") else None
        if self.progress is not None:
            hide = not self.progress
        else:
            hide = None if total is None or total > 2 * self.batch_size else True
        with tqdm(total=total, desc="embedding", unit=" texts", disable=hide) as bar:
            if n_jobs == 1:
                parts = (self._transform_batch(texts, poolings) for _, texts in batches)
            else:
                parts = Parallel(n_jobs=n_jobs, return_as="generator")(
                    delayed(_transform_batch)(self, texts, poolings) for _, texts in batches
                )
            return _collect(parts, total, self._n_features(poolings), bar)

    def _transform_batch(self, texts, poolings):
        if self._row_key(poolings) is not None:
            return self._rows(texts, poolings)[0]
        if self.cache is False:
            return self._embed(texts, poolings)
        key = ("transform", self._state_digest(), feature_cache.texts_digest(texts))
        if not isinstance(self.cache, bool):
            # joblib lays a Path location out differently from a str one: use str always.
            memory = (
                self.cache
                if isinstance(self.cache, Memory)
                else Memory(os.fspath(self.cache), verbose=0)
            )
            return memory.cache(_embed_cached, ignore=["vectorizer", "texts", "poolings"])(
                self, texts, poolings, key
            )
        features = feature_cache.FEATURE_CACHE.get(key)
        if features is None:
            features = self._embed(texts, poolings)
            feature_cache.FEATURE_CACHE.put(key, features)
        return features

    def _stateless(self, poolings):
        # These poolings embed a text the same way whatever the training texts.
        return set(poolings) <= STATELESS_POOLINGS and not self.store_vectors

    def _row_key(self, poolings):
        """Key of this configuration's per-text :class:`RowTable`, or ``None`` if unused."""
        if self.cache is not True or not self._stateless(poolings):
            return None
        return ("rows", self._params_digest(), self.fingerprint_)

    def _rows(self, texts, poolings):
        """Features and (known, all) token counts of ``texts``, embedding only new texts."""
        key = self._row_key(poolings)
        table = feature_cache.FEATURE_CACHE.get(key)
        if table is None:
            table = feature_cache.RowTable(self._n_features(poolings))
        where = table.find(texts)
        if (where < 0).any():
            feature_cache.FEATURE_CACHE.note_miss()
            new = list(dict.fromkeys(texts[i] for i in np.flatnonzero(where < 0)))
            ids, lengths, unknown = tokenize_ids(
                new, self.vectors_.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
            )
            text_of_token = np.repeat(np.arange(len(new)), lengths)
            known = np.bincount(text_of_token[ids >= 0], minlength=len(new))
            features = self._embed_tokens(ids, lengths, unknown)
            table.add(new, features, np.stack([known, lengths], axis=1))
            feature_cache.FEATURE_CACHE.put(key, table)
            where = table.find(texts)
        return table.rows[where], table.counts[where]

    def _embed(self, texts, poolings):
        ids, lengths, unknown = tokenize_ids(
            texts, self.vectors_.key_to_index, tokenizer=self.tokenizer, lowercase=self.lowercase_
        )
        features = self._embed_tokens(ids, lengths, unknown)
        return self._remove_sif_component(features, poolings)

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

        def rows(unique):
            inside = unique < n_known
            if extra is None:
                return kv.vectors[unique]
            out = np.empty((len(unique), kv.vector_size), dtype=np.float32)
            out[inside] = kv.vectors[unique[inside]]
            out[~inside] = extra[unique[~inside] - n_known]
            return out

        # The product reads rows in place only from a row-major matrix; a column-major
        # one (vectors built in memory from a transposed array) would be copied per batch.
        in_place = extra is None and kv.vectors.flags.c_contiguous
        batch = TokenBatch(ids, lengths, rows, matrix=kv.vectors if in_place else None)
        blocks = [
            batch.pool(p, idf=partial(self._idf_of, n_known=n_known), sif=self._sif_weights)
            for p in self._poolings()
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
        ranks, n_words = getattr(self, "_source_ranks", (None, len(self.vectors_.index_to_key)))
        if ranks is not None:  # a pruned stored copy: rank words as in the original vectors
            unique = ranks[unique]
        harmonic = np.log(n_words) + 0.5772
        rank = np.minimum(unique, n_words - 1) + 1.0
        return self.sif_alpha / (self.sif_alpha + 1.0 / (rank * harmonic))

    def _block(self, features, poolings, name):
        dim = self.vectors_.vector_size
        start = poolings.index(name) * dim
        return features[:, start : start + dim]

    def _remove_sif_component(self, features, poolings):
        if "sif" in poolings and self.sif_component_ is not None:
            block = self._block(features, poolings, "sif")
            component = self.sif_component_.astype(np.float64)
            # A row-wise sum, not ``block @ component``: BLAS blocks a matrix product by
            # the batch's shape, so a text's row would depend on the texts beside it.
            projection = (block * component).sum(axis=1, dtype=np.float64)
            block -= (projection[:, None] * component).astype(np.float32)
        return features

    def _n_features(self, poolings):
        return len(poolings) * self.vectors_.vector_size

    # -- cache keys -------------------------------------------------------------------

    def _params_digest(self):
        params = self.get_params(deep=False)
        for name in ("vectors", "cache", "n_jobs", "progress", "batch_size"):
            params.pop(name)
        if callable(params["tokenizer"]):
            params["tokenizer"] = feature_cache.callable_digest(params["tokenizer"])
        return feature_cache.state_digest(sorted(params.items(), key=str))

    def _state_digest(self):
        state = [
            (name, value)
            for name, value in sorted(vars(self).items())
            if name.endswith("_") and name != "vectors_"
        ]
        return feature_cache.state_digest(self._params_digest(), state)

    # -- scikit-learn API ------------------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Return ``pooling_i`` names, e.g. ``mean_0 ... mean_49 max_0 ...``."""
        check_is_fitted(self, "fingerprint_")
        dim = self.vectors_.vector_size
        return np.array([f"{p}_{i}" for p in self._poolings() for i in range(dim)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def __sklearn_clone__(self):
        # Clone every parameter but the vectors: GridSearchCV clones per candidate and
        # fold, and a deep copy of a vector matrix would cost seconds and gigabytes.
        params = self.get_params(deep=False)
        new = type(self)(
            **{
                name: value if name == "vectors" else clone(value, safe=False)
                for name, value in params.items()
            }
        )
        for name in ("_metadata_request", "_sklearn_output_config"):
            if hasattr(self, name):
                setattr(new, name, copy.deepcopy(getattr(self, name)))
        return new

    # -- pickling and loading: vectors by reference ----------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        if isinstance(self.vectors, KeyedVectors):
            state["vectors"] = loading.spill(self.vectors)
        kv = state.pop("vectors_", None)
        if kv is not None:
            if self.store_vectors:
                ranks, n_words = getattr(self, "_source_ranks", (self.idf_ids_, len(kv)))
                state["_stored_vectors"] = (
                    [kv.index_to_key[i] for i in self.idf_ids_],
                    np.asarray(kv.vectors[self.idf_ids_]),
                    (ranks, n_words),
                )
            else:
                state["_vectors_ref"] = loading.spill(kv)
        return state

    # skops calls __setstate__ while rebuilding a model file: the inherited one only
    # stores the state, and the references in it stay data until bound below.

    def __reduce_ex__(self, protocol):
        # A pickle is trusted by whoever unpickles it (worker processes, deepcopy): it
        # binds as soon as it is rebuilt. skops never calls this.
        return persistence.unpickle, (type(self), self.__getstate__())

    def __getattr__(self, name):
        # Rebuilt but not bound (skops.io.load, not lightxfer.load): bind on first use,
        # with the defaults, which follow only safe references.
        if name == "vectors_" and _UNBOUND.intersection(self.__dict__):
            self.__lightxfer_bind__(persistence.BindOptions())
            return self.vectors_
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __lightxfer_bind__(self, options):
        """Bind the vectors the rebuilt model refers to (:mod:`lightxfer.persistence`).

        Parameters
        ----------
        options : lightxfer.persistence.BindOptions
        """
        stored = self.__dict__.pop("_stored_vectors", None)
        ref = self.__dict__.pop("_vectors_ref", None)
        given = options.sources.get("vectors")
        if stored is not None:
            self._bind_stored(stored, options)
        elif ref is not None:
            self.vectors_ = _bind_reference(ref, getattr(self, "fingerprint_", None), options)
        if isinstance(self.vectors, VectorsRef):
            found = getattr(self, "vectors_", None)
            if found is None or registry.fingerprint(found) != self.vectors.fingerprint:
                found = _bind_reference(self.vectors, self.vectors.fingerprint, options)
            self.vectors = found
        if given is not None and not self.store_vectors:
            self.vectors = given  # refits use the vectors the caller named

    def _bind_stored(self, stored, options):
        from lightxfer.vectors.store import keyed_vectors

        try:
            words, matrix, (ranks, n_words) = stored
            matrix = np.asarray(matrix, dtype=np.float32)
            if matrix.ndim != 2 or len(words) != len(matrix) or len(ranks) != len(words):
                raise ValueError("shapes differ")
            if not all(isinstance(word, str) for word in words):
                raise TypeError("a word is not a string")
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{options.where}the vectors stored with the model are damaged ({exc})"
            ) from None
        self._source_ranks = (np.asarray(ranks, dtype=np.int64), int(n_words))
        self.vectors_ = keyed_vectors(list(words), matrix)
        registry.register(self.vectors_, None, None, registry.compute_fingerprint(self.vectors_))
        self.idf_ids_ = np.arange(len(words))


_UNBOUND = {"_stored_vectors", "_vectors_ref"}  # state a rebuilt model has until bound


def _bind_reference(ref, fitted, options):
    """Return the vectors of ``ref`` (from a model file), or the caller's, checked."""
    where = options.where
    given = options.sources.get("vectors")
    try:
        if not isinstance(ref, VectorsRef):
            raise VectorsFileError(f"the vectors reference is a {type(ref).__name__}")
        expected = registry.check_fingerprint(ref.fingerprint)
        if fitted is not None and fitted != expected:
            raise ValueError("the reference and fingerprint_ disagree")
        if given is not None:
            kv = loading.load_vectors(given, allow_pickle=options.allow_pickle)
        else:
            kv = loading.resolve_reference(ref, check=False, allow_pickle=options.allow_pickle)
    except (ValueError, OSError) as exc:  # VectorsFileError, VectorsUnavailableError too
        kind = VectorsUnavailableError if isinstance(exc, VectorsUnavailableError) else None
        raise (kind or VectorsFileError)(
            f"{where}cannot load the model's vectors ({exc}); pass vectors=... to "
            "lightxfer.load to point it at them"
        ) from None
    actual = registry.fingerprint(kv)
    if options.check and actual != expected:
        found = registry.reference(kv).source or "in-memory vectors"
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


def _transform_batch(vectorizer, texts, poolings):
    return vectorizer._transform_batch(texts, poolings)


def _embed_cached(vectorizer, texts, poolings, key):
    return vectorizer._embed(texts, poolings)


def _first_component(features):
    # Arora et al. remove the first singular vector of the uncentred sentence matrix.
    _, eigenvectors = np.linalg.eigh(features.astype(np.float64).T @ features)
    component = eigenvectors[:, -1]
    component *= np.sign(component[np.argmax(np.abs(component))])
    return component.astype(np.float32)
