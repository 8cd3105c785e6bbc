"""The recommended configuration: a frozen shared layer plus task-specific n-grams.

A frozen shared layer (pooled word vectors, or a sentence encoder) wins when there are
a few dozen labelled texts and loses to sparse n-grams when there are thousands.
:class:`HybridVectorizer` keeps the frozen features and appends a TF-IDF block of word
1-2 grams and character 2-5 grams (the characters catch inflections, typos and words
the shared layer lacks) whose weight is chosen by cross-validation on the training
data (:mod:`lightxfer.ngram_search`): with little data the search keeps the n-grams
light (or drops them), with more data it lets them carry the task-specific words. One
L2-regularised softmax head (``LogisticRegression(C=1)``) sits on top.

Scaling a block by ``s`` under one L2 penalty is the same as giving that block its own
penalty ``C * s**2``. So the vectorizer learns two block scales -- the n-gram weight
relative to the frozen features and an overall scale ``sqrt(C)`` -- by a search over
``ngram_weight x C`` with logistic models, and the head needs no tuning of its own.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from lightxfer import ngram_search
from lightxfer.ngram_search import CS, NGRAM_WEIGHTS
from lightxfer.shared.base import TextInputMixin
from lightxfer.shared.validation import to_text_list, training_texts
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors import loading

#: Tokens are whatever whitespace separates, as for the vectors (punctuation kept,
#: e.g. the "?" of a question).
NGRAM_TOKEN_PATTERN = r"\S+"
#: What TfidfVectorizer says when texts hold no term (often enough) to keep.
NO_TERMS = ("empty vocabulary", "no terms remain")

_DOCUMENT_FREQUENCY = [
    Interval(RealNotInt, 0, 1, closed="both"),
    Interval(Integral, 1, None, closed="left"),
]


class HybridVectorizer(TextInputMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Frozen shared-layer features plus a weighted TF-IDF n-gram block, as one sparse matrix.

    The shared layer's features are divided by their root-mean-square norm over the
    training texts so that, like the L2-normalised TF-IDF rows, each block has unit
    expected squared norm per text. One scalar, not per-feature standardisation: with a
    few dozen texts, per-feature variances are noise, and the frozen layer's own geometry
    is the knowledge being transferred; ``ngram_weight`` is then the n-grams' weight
    relative to it. Both blocks are finally multiplied by ``scale``, which for a head
    ``LogisticRegression(C=1)`` amounts to choosing its C.

    Parameters
    ----------
    shared : transformer, optional
        The frozen shared layer: any transformer from texts to dense features, e.g.
        :class:`lightxfer.EmbeddingVectorizer` or :class:`lightxfer.SentenceEncoder`.
        ``fit`` fits a clone (``shared_``). Default: ``EmbeddingVectorizer`` with the
        ``vectors``, ``pooling``, ``lowercase``, ``n_jobs`` and ``progress`` given here.
    vectors : str, path or KeyedVectors, optional
        Vectors of the default shared layer (``"glove-wiki-gigaword-50"``); only
        without ``shared``.
    pooling : str or list of str, optional
        Pooling of the default shared layer (``"mean"``); only without ``shared``.
    ngram_weight : float or "auto", default="auto"
        Weight of the n-gram block; ``0`` leaves the frozen features alone. ``"auto"``
        chooses among ``ngram_weights`` by stratified CV of logistic models on the
        training texts, which needs ``y``; without ``y`` it uses ``1.0``.
    ngram_weights : sequence of float, default=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
        Candidates for ``ngram_weight="auto"``.
    scale : float or "auto", default="auto"
        Factor on all features; ``"auto"`` uses ``sqrt(C)`` of the best candidate
        (``1.0`` when the weight is not searched).
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams (whitespace-separated tokens) of the task-specific block.
    min_df : int or float, default=1
        As for :class:`sklearn.feature_extraction.text.TfidfVectorizer`.
    char_ngram_range : tuple (min_n, max_n) or None, default=(2, 5)
        Character n-grams within word boundaries (``analyzer="char_wb"``), given the
        same weight as the word n-grams inside the block; ``None`` leaves them out.
    char_min_df : int or float, default=2
        ``min_df`` of the character n-grams: one-off fragments are noise.
    lowercase : bool or "auto", default="auto"
        Lower-case the n-grams; ``"auto"`` follows the shared layer's ``lowercase_``
        (``True`` when it has none).
    Cs : sequence of float, default=(0.1, 1.0, 10.0, 100.0)
        Inverse regularisation strengths tried with each candidate weight.
    cv : int, default=3
        Folds of the search (fewer when a class has fewer examples; repeated with new
        shuffles on a few hundred texts or fewer), which keeps the lightest weight within
        one standard error of the best; from 2000 training texts on, one stratified 75/25
        split, which keeps the best weight.
    random_state : int, default=0
        Shuffles the folds.
    n_jobs : int, optional
        Processes that search the candidate weights.
    progress : bool, optional
        Show the search's progress bar; by default on a terminal for 2000 texts or more.

    Attributes
    ----------
    shared_ : transformer
        The fitted clone of the shared layer.
    ngram_weight_ : float
        The weight used.
    scale_ : float
        The overall factor used.
    ngram_vectorizers_ : dict of str to TfidfVectorizer
        The fitted n-gram parts, ``"words"`` and ``"chars"``; a part that finds no
        term in the training texts (e.g. all texts empty) is left out.
    embedding_norm_ : float
        Root-mean-square norm of the shared layer's training features.
    n_shared_features_ : int
        Columns of the shared layer's features.
    cv_results_ : dict of ndarray
        ``"ngram_weight"``, ``"C"`` and their mean validation ``"accuracy"``, one
        entry per candidate (searched fits only); NaN where the search skipped a C,
        and in the rows of the weights its walk did not visit.

    Examples
    --------
    >>> from lightxfer.recommended import HybridVectorizer
    >>> texts = ["a good film", "a bad film", "good fun", "bad acting"]
    >>> vectorizer = HybridVectorizer(ngram_weight=1.0).fit(texts)
    >>> vectorizer.transform(texts).shape
    (4, 102)
    >>> vectorizer.get_feature_names_out()[[0, 50, -1]].tolist()
    ['mean_0', 'words__a', 'chars__ood ']
    """

    _parameter_constraints = {
        "shared": [HasMethods(["fit", "transform"]), None],
        "vectors": "no_validation",  # checked by EmbeddingVectorizer
        "pooling": "no_validation",
        "ngram_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "ngram_weights": ["array-like"],
        "scale": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "ngram_range": [tuple],
        "min_df": _DOCUMENT_FREQUENCY,
        "char_ngram_range": [tuple, None],
        "char_min_df": _DOCUMENT_FREQUENCY,
        "lowercase": ["boolean", StrOptions({"auto"})],
        "Cs": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "progress": ["boolean", None],
    }

    def __init__(
        self,
        shared=None,
        *,
        vectors=None,
        pooling=None,
        ngram_weight="auto",
        ngram_weights=NGRAM_WEIGHTS,
        scale="auto",
        ngram_range=(1, 2),
        min_df=1,
        char_ngram_range=(2, 5),
        char_min_df=2,
        lowercase="auto",
        Cs=CS,
        cv=3,
        random_state=0,
        n_jobs=None,
        progress=None,
    ):
        self.shared = shared
        self.vectors = vectors
        self.pooling = pooling
        self.ngram_weight = ngram_weight
        self.ngram_weights = ngram_weights
        self.scale = scale
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.lowercase = lowercase
        self.Cs = Cs
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress

    def fit(self, X, y=None):
        """Fit the shared layer's clone, the n-grams and, with ``y``, choose the weights.

        Parameters
        ----------
        X : iterable of str
            Training texts.
        y : array-like, optional
            Labels; used only to choose ``ngram_weight`` and ``scale``.

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` (and ``y``) and return its features, computing them only once."""
        self._check_params()
        texts = training_texts(X, y)
        self.__dict__.pop("cv_results_", None)  # a refit without a search has none
        self.shared_ = self._shared_layer()
        # y reaches the shared layer: lightxfer.source_models.blocks.SourceBlocks weighs its
        # sources by validation; other layers ignore it.
        features = _dense(self.shared_.fit_transform(texts, y), self.shared_)
        self.n_shared_features_ = features.shape[1]
        self.embedding_norm_ = ngram_search.rms_norm(features)
        ngrams = self._fit_ngrams(texts)
        dense = self._scale(features)
        self.ngram_weight_, self.scale_ = self._choose_weights(dense, ngrams, y)
        return self._stack(dense, ngrams)

    def transform(self, X):
        """Return ``scale_ * [shared features / their training RMS norm, ngram_weight_ * TF-IDF]``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        scipy.sparse.csr_matrix of float32
            Shared-layer features first; no n-gram columns when ``ngram_weight_`` is 0.
            No texts give a ``(0, n_features)`` matrix.
        """
        check_is_fitted(self, "ngram_weight_")
        texts = to_text_list(X)
        if not texts:
            n_ngrams = sum(len(v.vocabulary_) for v in self.ngram_vectorizers_.values())
            width = self.n_shared_features_ + (n_ngrams if self.ngram_weight_ else 0)
            return sparse.csr_matrix((0, width), dtype=np.float32)
        dense = self._scale(_dense(self.shared_.transform(texts), self.shared_))
        return self._stack(dense, self._ngrams(texts))

    def get_feature_names_out(self, input_features=None):
        """Shared-layer names (``mean_0 ...``), then ``words__good film ...``, ``chars__ goo ...``."""
        check_is_fitted(self, "ngram_weight_")
        if hasattr(self.shared_, "get_feature_names_out"):
            names = np.asarray(self.shared_.get_feature_names_out(), dtype=object)
        else:
            names = np.array([f"shared{i}" for i in range(self.n_shared_features_)], dtype=object)
        if self.ngram_weight_ == 0:
            return names
        ngrams = [
            f"{part}__{term}"
            for part, vectorizer in self.ngram_vectorizers_.items()
            for term in vectorizer.get_feature_names_out()
        ]
        return np.concatenate([names, np.array(ngrams, dtype=object)])

    def set_output(self, *, transform=None):
        """Decline pandas and polars output: the features are a sparse matrix.

        As for scikit-learn's sparse encoders, ``transform="pandas"`` or ``"polars"``
        raises; ``"default"`` and ``None`` are accepted. The global
        ``sklearn.set_config(transform_output=...)`` is ignored, as scikit-learn's text
        vectorizers ignore it, so a pipeline with this step still fits under it.
        """
        if transform not in (None, "default"):
            raise ValueError(
                f"HybridVectorizer gives sparse features, which have no {transform} form: "
                "leave its output as it is (set_output(transform='default'))"
            )
        return self

    # -- files from before the shared layer was a parameter ------------------------------

    def __setstate__(self, state):
        # skops calls this while rebuilding a file, so it converts and stores only: the
        # shared layer's vectors are bound afterwards (lightxfer.persistence).
        if "shared" not in state:
            state = _from_subclass_state(state)
        super().__setstate__(state)

    def __getattr__(self, name):
        # A converted model learns its shared layer's width on first use, once the
        # layer's vectors are bound: the old state did not record it.
        if name == "n_shared_features_" and "shared_" in self.__dict__:
            self.n_shared_features_ = len(self.shared_.get_feature_names_out())
            return self.n_shared_features_
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- parameters ---------------------------------------------------------------------

    def _check_params(self):
        self._validate_params()
        if self.shared is not None and (self.vectors is not None or self.pooling is not None):
            raise ValueError(
                "vectors and pooling configure the default shared layer: set them on "
                "shared instead, e.g. shared=EmbeddingVectorizer(vectors=..., pooling=...)"
            )
        _check_candidates("ngram_weights", self.ngram_weights, zero_ok=True)
        _check_candidates("Cs", self.Cs, zero_ok=False)

    def _shared_layer(self):
        if self.shared is not None:
            return clone(self.shared)
        return EmbeddingVectorizer(
            vectors=loading.DEFAULT_VECTORS if self.vectors is None else self.vectors,
            pooling="mean" if self.pooling is None else self.pooling,
            lowercase=self.lowercase,
            n_jobs=self.n_jobs,
            progress=self.progress,
        )

    # -- blocks -------------------------------------------------------------------------

    def _ngram_parts(self):
        lowercase = self.lowercase
        if lowercase == "auto":
            lowercase = bool(getattr(self.shared_, "lowercase_", True))
        common = {"sublinear_tf": True, "lowercase": lowercase, "dtype": np.float32}
        words = TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            token_pattern=NGRAM_TOKEN_PATTERN,
            **common,
        )
        parts = {"words": words}
        if self.char_ngram_range is not None:
            parts["chars"] = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self.char_ngram_range),
                min_df=self.char_min_df,
                **common,
            )
        return parts

    def _fit_ngrams(self, texts):
        """Fit the n-gram parts that find terms in ``texts``; return the block of ``texts``."""
        self.ngram_vectorizers_, parts = {}, []
        for name, vectorizer in self._ngram_parts().items():
            if isinstance(vectorizer.min_df, Integral) and vectorizer.min_df > len(texts):
                continue  # no term can occur in more texts than there are
            try:
                parts.append(vectorizer.fit_transform(texts))
            except ValueError as error:
                # e.g. empty texts, or no character n-gram shared by two tiny texts
                if not any(cause in str(error) for cause in NO_TERMS):
                    raise
                continue
            self.ngram_vectorizers_[name] = vectorizer
        return _join(parts, len(texts))

    def _ngrams(self, texts):
        parts = [vectorizer.transform(texts) for vectorizer in self.ngram_vectorizers_.values()]
        return _join(parts, len(texts))

    def _scale(self, features):
        return (features / np.float32(self.embedding_norm_)).astype(np.float32)

    def _stack(self, dense, ngrams, weight=None, scale=None):
        weight = self.ngram_weight_ if weight is None else weight
        scale = self.scale_ if scale is None else scale
        if weight == 0:
            return _sparse_rows(dense * np.float32(scale))
        blocks = [_sparse_rows(dense * np.float32(scale)), ngrams * (weight * scale)]
        return sparse.hstack(blocks, format="csr")

    # -- choosing the block weights -----------------------------------------------------

    def _choose_weights(self, dense, ngrams, y):
        """``(ngram_weight, scale)``: given, or searched by validation accuracy."""
        scale = None if self.scale == "auto" else float(self.scale)
        if y is None or (self.ngram_weight != "auto" and scale is not None):
            weight = 1.0 if self.ngram_weight == "auto" else float(self.ngram_weight)
            return weight, scale or 1.0
        if not self.ngram_vectorizers_:  # nothing to weigh
            weights = [0.0]
        elif self.ngram_weight != "auto":
            weights = [float(self.ngram_weight)]
        else:
            weights = sorted(float(w) for w in self.ngram_weights)
        y = np.asarray(y)
        splits = ngram_search.validation_splits(y, self.cv, self.random_state)
        if splits is None:  # nothing to validate on: trust the frozen features
            return weights[0], scale or 1.0
        Cs = [1.0] if scale is not None else sorted(float(c) for c in self.Cs)
        accuracy = ngram_search.search_block_weight(
            _sparse_rows(dense * np.float32(scale or 1.0)),
            ngrams,
            [w * (scale or 1.0) for w in weights],
            y,
            splits,
            Cs,
            n_jobs=self.n_jobs,
            progress=self.progress,
        )
        self.cv_results_ = ngram_search.cv_results("ngram_weight", weights, Cs, accuracy)
        weight, C = ngram_search.choose(weights, Cs, accuracy, splits)
        return weight, scale or float(np.sqrt(C))


#: What a HybridVectorizer that subclassed EmbeddingVectorizer (up to commit 478ef15) kept
#: of its own beyond its parameters; the rest of its state was the shared layer's.
_OWN_FITTED = ("embedding_norm_", "ngram_vectorizers_", "ngram_weight_", "scale_", "cv_results_")
#: Parameters that configured both the vectors and the n-grams, and still do.
_COMMON_PARAMS = ("lowercase", "n_jobs", "progress")


def _from_subclass_state(state):
    """Convert the state of a HybridVectorizer saved when it subclassed EmbeddingVectorizer.

    The embedding parameters become ``shared`` (an unfitted EmbeddingVectorizer) and the
    embedding's fitted state becomes ``shared_``, rebuilt by its own ``__setstate__``, so
    its vectors reference stays unresolved until bound, like any other in the file.
    """
    warnings.warn(
        "this HybridVectorizer was saved by an older lightxfer (when it was an "
        "EmbeddingVectorizer subclass) and was converted on load; save it again to keep "
        "the new format",
        FutureWarning,
        stacklevel=2,
    )
    state = dict(state)
    own_names = set(HybridVectorizer._get_param_names()) - {"shared", "vectors", "pooling"}
    own_names |= {*_OWN_FITTED, "_sklearn_output_config", "_metadata_request"}
    own = {name: state[name] for name in own_names if name in state}
    for name in own_names.difference(_COMMON_PARAMS):
        state.pop(name, None)
    layer_params = set(EmbeddingVectorizer._get_param_names())
    own["shared"] = EmbeddingVectorizer(**{k: v for k, v in state.items() if k in layer_params})
    own["vectors"] = own["pooling"] = None
    if "ngram_weight_" in own:
        shared = EmbeddingVectorizer.__new__(EmbeddingVectorizer)
        shared.__setstate__(state)
        own["shared_"] = shared
    return own


def _check_candidates(name, values, zero_ok):
    values = list(values)
    bound = "non-negative" if zero_ok else "positive"
    ok = all(isinstance(v, Real) and (v > 0 or (zero_ok and v == 0)) for v in values)
    if not values or not ok:
        raise ValueError(f"{name} must be a non-empty list of {bound} numbers, got {values!r}")


def _dense(features, layer):
    """The shared layer's output as a float32 ndarray (a DataFrame under pandas output)."""
    if sparse.issparse(features):
        raise TypeError(
            f"the shared layer {type(layer).__name__} gave sparse features; HybridVectorizer "
            "needs a layer with dense output"
        )
    return np.asarray(features, dtype=np.float32)


def _sparse_rows(dense):
    """``scipy.sparse.csr_matrix(dense)`` (zeros left out), without its detour through COO."""
    nonzero = dense != 0
    indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(nonzero, axis=1))])
    return sparse.csr_matrix((dense[nonzero], np.nonzero(nonzero)[1], indptr), shape=dense.shape)


def _join(parts, n_texts):
    """The n-gram block: parts with unit L2 rows, each weighted 1/sqrt(parts), so unit rows."""
    if not parts:
        return sparse.csr_matrix((n_texts, 0), dtype=np.float32)
    return sparse.hstack(parts, format="csr") * np.float32(1 / np.sqrt(len(parts)))


def make_recommended(vectors=loading.DEFAULT_VECTORS, *, shared=None, n_jobs=None):
    """The recommended pipeline: :class:`HybridVectorizer` then a softmax head.

    The head's effective C is the ``scale_`` the vectorizer chose by validation.

    Parameters
    ----------
    vectors : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        Vectors of the frozen shared layer, an :class:`lightxfer.EmbeddingVectorizer`.
    shared : transformer, optional
        Another frozen shared layer instead (e.g. a :class:`lightxfer.SentenceEncoder`).
    n_jobs : int, optional
        Processes for embedding and for the n-gram weight search.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"embedding"`` (a :class:`HybridVectorizer`) and ``"head"``.

    Examples
    --------
    >>> model = make_recommended()
    >>> [name for name, _ in model.steps]
    ['embedding', 'head']
    >>> model.get_params()["embedding__shared__pooling"]
    'mean'
    """
    if shared is None:
        shared = EmbeddingVectorizer(vectors=vectors, n_jobs=n_jobs)
    return Pipeline(
        [
            ("embedding", HybridVectorizer(shared, n_jobs=n_jobs)),
            # Newton-CG converges in a few iterations where lbfgs needs hundreds on
            # hundreds of thousands of n-gram columns (5 s vs 33 s on SST-5).
            ("head", LogisticRegression(solver="newton-cg", max_iter=1000)),
        ]
    )
