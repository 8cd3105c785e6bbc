"""``SourceBlocks``: a shared layer's features plus the shipped sources' frozen hidden layers.

The shipped source heads (:mod:`lightxfer.source_models.shipped`) each learned a hidden layer
over the same frozen encoder on a plentiful labelled task. Their activations are
features a small target task can reuse without choosing a source. Unrelated sources
are noise, though, so the sources' blocks get a weight chosen by validation on the
training data, on the splits the recommended model chooses its n-gram weight with
(:mod:`lightxfer.ngram_search`), and the weight may go to zero.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from lightxfer import ngram_search
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.ngram_search import CS
from lightxfer.shared.base import TextInputMixin
from lightxfer.shared.conv import ConvLayer
from lightxfer.shared.conv_filters import ConvFilters
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.validation import to_text_list, training_texts
from lightxfer.source_models import overlap
from lightxfer.source_models import shipped as shipped_sources

#: Candidate weights of the sources' blocks (one weight for all); 0 leaves them out.
SOURCE_WEIGHTS = (0.0, 1.0)
#: The sources are used when their validation accuracy beats the shared layer's alone
#: by more than half a standard error (the lightest weight within half an SE of the
#: best). Leave-one-out over the five shipped tasks (fair sources only, 8 / 16 / 32 per
#: class, 5 draws, rules replayed on the same fits: benchmarks/source_rules.py), gain
#: over frozen MiniLM + LR, mean over targets (worst target):
#:
#: - one weight, each source's block at unit norm (this rule): +2.2 / +2.3 / +1.5
#:   (-0.2 / +0.0 / -0.0); two candidates to validate, on the n-gram search's repeated
#:   folds (decided on one shuffle, a fifth of the fits: +1.1 / +1.9 / +1.3, worst -1.4);
#: - the same with one norm for all the sources' blocks together (the rule before):
#:   +1.6 / +1.3 / +0.9: the source with the largest activations drowned the others;
#: - each source kept if it alone beats the encoder by half an SE: +2.4 / +2.3 / +1.4,
#:   but noise picks cost a target up to 1.4 points (TREC at 8 per class);
#: - the lightest of every subset within one SE: +2.6 / +2.1 / +1.1 (-0.2 / +0.0 / -0.2),
#:   at 2**k candidates (32 for the five sources).
STANDARD_ERRORS = 0.5


class SourceBlocks(TextInputMixin, TransformerMixin, BaseEstimator):
    """A shared layer's features, then the shipped sources' hidden layers, each weighted.

    On word vectors the sources are the shipped conv sources (``conv_sst2``...): the
    pooled feature maps of :class:`lightxfer.ConvLayer` filters trained on each task
    over the same vectors.

    Each block (the shared layer's features, each source's hidden layer) is divided by
    its root-mean-square norm over the training texts, so that a source's weight is its
    block's weight relative to the shared layer's features.

    A shared layer that fine-tunes itself on the labels (a :class:`lightxfer.SentenceEncoder`
    with ``fine_tune``) gives the main block; the sources' hidden layers read the frozen
    base encoder's features (``frozen_``), which they were trained on, and their weight is
    validated with the frozen features as the main block.

    Parameters
    ----------
    shared : transformer, optional
        The frozen shared layer; default :class:`lightxfer.SentenceEncoder`. ``fit``
        fits a clone (``shared_``).
    sources : {"auto", "all"} or list of str, default="auto"
        Shipped sources to reuse (:func:`lightxfer.sources`, and the conv sources
        ``"conv_sst2"``...); ``"all"`` takes every one trained on this shared layer (the
        source heads on the default encoder, the conv sources on the default GloVe
        vectors), ``"auto"`` all but those whose terms say research use only (MPQA's,
        :data:`~lightxfer.source_models.shipped.RESEARCH_ONLY`).
        A named source whose encoder or vectors fingerprint differs from the shared
        layer's is an error. ``fit`` warns when training texts are in a source's data
        (:mod:`lightxfer.source_models.overlap`).
    weight : float or "auto", default="auto"
        Weight of every source's block. ``"auto"`` chooses among ``weights`` on the
        validation splits of the n-gram weight: the lightest within half a standard
        error of the best (:data:`STANDARD_ERRORS`), so the sources are used only if
        they beat the shared layer's features alone by that much. Needs ``y``; without
        ``y`` it is 0.
    weights : sequence of float, default=(0.0, 1.0)
        Candidates of ``weight="auto"``.
    Cs : sequence of float, default=(0.1, 1.0, 10.0, 100.0)
        Inverse regularisation strengths tried with each candidate.
    cv : int, default=3
        Folds of the validation (see :func:`lightxfer.ngram_search.validation_splits`).
    random_state : int, default=0
        Shuffles the folds.
    n_jobs : int, optional
        Processes that score the candidates.

    Attributes
    ----------
    shared_ : transformer
        The fitted clone of the shared layer.
    frozen_ : SentenceEncoder
        The frozen base encoder the sources read, when ``shared_`` fine-tuned itself.
    sources_ : list of str
        The sources considered (empty if none matched).
    weights_ : ndarray of shape (len(sources_),)
        The weight of each (one value for all unless set by hand); the sources at 0 are
        left out of the features.
    hidden_ : FrozenHiddenLayers
        The source heads' hidden layers side by side (absent without such sources).
    conv_ : ConvLayer
        One layer holding every conv source's filters (absent without conv sources).
    source_units_ : ndarray of int
        Columns of each source's block.
    n_shared_features_ : int
        Columns of the shared layer's features.
    shared_norm_ : float
        Root-mean-square norm of the shared layer's features on the training texts.
    sources_norms_ : ndarray of shape (len(sources_),)
        The same for each source's hidden layer.
    cv_results_ : dict of ndarray
        ``"weight"``, ``"C"``, ``"accuracy"`` of a search (searched fits only).

    Examples
    --------
    >>> from lightxfer import EmbeddingVectorizer
    >>> blocks = SourceBlocks(EmbeddingVectorizer()).fit(["a good film", "a bad film"])
    >>> blocks.sources_  # the conv sources sit on GloVe
    ['conv_sst2', 'conv_sst5', 'conv_subj', 'conv_trec']
    >>> blocks.weights_  # without labels to validate them, they weigh 0
    array([0., 0., 0., 0.])
    """

    _parameter_constraints = {
        "shared": [HasMethods(["fit", "transform"]), None],
        "sources": [StrOptions({"auto", "all"}), list, tuple],
        "weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "weights": ["array-like"],
        "Cs": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        shared=None,
        *,
        sources="auto",
        weight="auto",
        weights=SOURCE_WEIGHTS,
        Cs=CS,
        cv=3,
        random_state=0,
        n_jobs=None,
    ):
        self.shared = shared
        self.sources = sources
        self.weight = weight
        self.weights = weights
        self.Cs = Cs
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Fit the shared layer's clone, load the sources and, with ``y``, choose their weight.

        Parameters
        ----------
        X : iterable of str
        y : array-like, optional

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` (and ``y``) and return its features, computing them only once."""
        self._validate_params()
        texts = training_texts(X, y)
        for name in ("cv_results_", "hidden_", "conv_", "source_units_", "frozen_"):
            self.__dict__.pop(name, None)
        self.shared_ = clone(self.shared) if self.shared is not None else SentenceEncoder()
        features = np.asarray(self.shared_.fit_transform(texts, y), dtype=np.float32)
        self.shared_norm_ = ngram_search.rms_norm(features)
        self.n_shared_features_ = features.shape[1]
        base = features
        if getattr(self.shared_, "fine_tuned_", False):
            # The sources were trained on the frozen encoder: their layers read its features.
            self.frozen_ = clone(self.shared_).set_params(fine_tune=None).fit(texts)
            base = np.asarray(self.frozen_.transform(texts), dtype=np.float32)
        names = self.sources
        if isinstance(names, str):  # "auto" or "all"
            every = names == "all"
            names = shipped_sources.matching_sources(self.shared_, every)
            names += shipped_sources.matching_conv_sources(self.shared_, every)
        self.sources_, self.weights_, self.sources_norms_ = [], np.zeros(0), np.ones(0)
        if not names:
            return features / self.shared_norm_
        overlap.warn_overlap(names, texts)
        self._fit_sources(names, base, texts)
        blocks = self._source_blocks(base, texts)
        self.sources_norms_ = np.array([ngram_search.rms_norm(block) for block in blocks])
        # Validated on the frozen features: a fine-tuned encoder separates the very texts
        # it was tuned on, so on its features no other block would ever look useful.
        self.weights_ = self._choose_weights(base, blocks, y)
        return self._stack(features, self.shared_norm_, blocks, self.weights_)

    def _fit_sources(self, names, features, texts):
        """Set ``sources_`` (heads' hidden layers first, then conv sources) and their layers."""
        convs = [
            shipped_sources.resolve_conv_name(n) for n in names if shipped_sources.is_conv_source(n)
        ]
        heads = [n for n in names if not shipped_sources.is_conv_source(n)]
        self.sources_, units = [], []
        if heads:
            self.sources_, coef, intercept = shipped_sources.hidden_layers(heads, self.shared_)
            self.hidden_ = FrozenHiddenLayers([coef], [intercept]).fit(features)
            units += [coef.shape[1] // len(heads)] * len(heads)
        if convs:
            filters = shipped_sources.conv_filters(convs)
            for name, bank in zip(convs, filters):
                shipped_sources.check_conv_vectors(name, bank, self.shared_)
            # One layer for all the conv sources: each text is looked up once.
            self.conv_ = ConvLayer(ConvFilters.stack(filters), vectors=self.shared_.vectors).fit(
                texts
            )
            self.sources_ += convs
            units += [bank.n_features for bank in filters]
        self.source_units_ = np.array(units, dtype=np.int64)

    def _source_blocks(self, features, texts):
        """Each source's block (hidden activations of the frozen ``features``, or conv maps)."""
        parts = []
        if hasattr(self, "hidden_"):
            parts.append(self.hidden_.transform(features).astype(np.float32))
        if hasattr(self, "conv_"):
            parts.append(self.conv_.transform(texts))
        units = getattr(self, "source_units_", None)
        joined = np.hstack(parts) if len(parts) > 1 else parts[0]
        if units is None:  # a file saved before conv sources: equal hidden layers
            return np.split(joined, len(self.sources_), 1)
        return np.split(joined, np.cumsum(units)[:-1], 1)

    def transform(self, X):
        """Return ``[shared features / their norm, weight * source activations / their norm, ...]``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        ndarray of float32
            The shared layer's (scaled) features, then the sources of non-zero weight.
        """
        check_is_fitted(self, "weights_")
        texts = to_text_list(X)
        features = np.asarray(self.shared_.transform(texts), dtype=np.float32)
        if not self.weights_.any():
            return features / self.shared_norm_
        base = features
        if hasattr(self, "frozen_"):
            base = np.asarray(self.frozen_.transform(texts), dtype=np.float32)
        blocks = self._source_blocks(base, texts)
        return self._stack(features, self.shared_norm_, blocks, self.weights_)

    def get_feature_names_out(self, input_features=None):
        """The shared layer's names, then ``sst2_0 ...`` for the units of each source used."""
        check_is_fitted(self, "weights_")
        if hasattr(self.shared_, "get_feature_names_out"):
            names = list(self.shared_.get_feature_names_out())
        else:
            names = [f"shared{i}" for i in range(self.n_shared_features_)]
        if self.sources_:
            units = getattr(self, "source_units_", None)
            if units is None:  # a file saved before conv sources: equal hidden layers
                units = [self.hidden_.coefs[0].shape[1] // len(self.sources_)] * len(self.sources_)
            for name, weight, n_units in zip(self.sources_, self.weights_, units):
                names += [f"{name}_{i}" for i in range(n_units)] if weight else []
        return np.asarray(names, dtype=object)

    @property
    def lowercase_(self):
        """The shared layer's ``lowercase_`` (the n-grams of the recommended model follow it)."""
        return getattr(self.shared_, "lowercase_", True)

    def __setstate__(self, state):
        # A file saved before each source's block had its own norm holds one weight and
        # one norm for all the sources' blocks: it keeps giving the features it gave.
        if "weight_" in state and "weights_" not in state:
            state = dict(state)
            n_sources = len(state["sources_"])
            state["weights_"] = np.full(n_sources, float(state.pop("weight_")))
            state["sources_norms_"] = np.full(n_sources, float(state.pop("sources_norm_")))
        super().__setstate__(state)

    def _stack(self, features, features_norm, blocks, weights):
        scaled = [
            np.float32(weight / norm) * block
            for block, weight, norm in zip(blocks, weights, self.sources_norms_)
            if weight
        ]
        return np.hstack([features / np.float32(features_norm), *scaled])

    def _choose_weights(self, features, blocks, y):
        """One weight for every source: given, or the lightest within half an SE of the best."""
        if self.weight != "auto":
            return np.full(len(blocks), float(self.weight))
        splits = None
        if y is not None:
            splits = ngram_search.validation_splits(np.asarray(y), self.cv, self.random_state)
        if splits is None:
            return np.zeros(len(blocks))
        weights = sorted(float(w) for w in self.weights)
        Cs = sorted(float(c) for c in self.Cs)
        norm = ngram_search.rms_norm(features)
        accuracy = ngram_search.search(
            lambda w: self._stack(features, norm, blocks, np.full(len(blocks), w)),
            weights,
            np.asarray(y),
            splits,
            Cs,
            n_jobs=self.n_jobs,
            progress=False,
        )
        self.cv_results_ = ngram_search.cv_results("weight", weights, Cs, accuracy)
        best = dict(zip(weights, np.nanmax(accuracy, axis=1)))
        n_valid = ngram_search.n_validated(splits)
        weight = ngram_search.lightest_good_weight(best, n_valid, STANDARD_ERRORS)
        return np.full(len(blocks), float(weight))
