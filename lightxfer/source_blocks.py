"""``SourceBlocks``: a shared layer's features plus the shipped sources' frozen hidden layers.

The shipped source heads (:mod:`lightxfer.shipped_sources`) each learned a hidden layer
over the same frozen encoder on a plentiful labelled task. Their activations are
features a small target task can reuse without choosing a source. An unrelated source
is noise, though, so the block gets a weight chosen by validation on the training data,
exactly as the recommended model chooses its n-gram weight
(:mod:`lightxfer.ngram_search`), and the weight may go to zero.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from lightxfer import ngram_search, shipped_sources
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.ngram_search import CS
from lightxfer.shared.base import TextInputMixin
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.validation import to_text_list, training_texts

#: Candidate weights of the sources block; 0 means the shared layer's features only.
#: Two candidates: the choice is "reuse the sources or not", and each candidate costs
#: a validation path (on 48 TREC questions, 4 candidates took 11 s, these 2 took 5.5 s).
SOURCE_WEIGHTS = (0.0, 1.0)
#: The sources are reused when their validation accuracy beats the shared layer's alone
#: by more than half a standard error. On held-out tests of the leave-one-out
#: benchmark (8 and 32 per class, 3 seeds, benchmarks/shipped_sources.py) the n-gram
#: search's one-SE rule almost never reused them at 8 per class (SST-2 from MPQA and
#: TREC: 62.1, as the encoder alone), half an SE kept every target at or above the
#: encoder alone and reused them where they help (MPQA 8 per class 72.2 -> 73.4, 32 per
#: class 80.9 -> 82.3); no margin at all gained more on SST-2 at 8 (65.1) but lost up to
#: 0.4 points on SUBJ.
STANDARD_ERRORS = 0.5


class SourceBlocks(TextInputMixin, TransformerMixin, BaseEstimator):
    """A shared layer's features, then the shipped sources' hidden layers, weighted.

    Each block is divided by its root-mean-square norm over the training texts, so that
    ``weight`` is the sources' weight relative to the shared layer's features.

    Parameters
    ----------
    shared : transformer, optional
        The frozen shared layer; default :class:`lightxfer.SentenceEncoder`. ``fit``
        fits a clone (``shared_``).
    sources : "auto" or list of str, default="auto"
        Shipped sources to reuse (:func:`lightxfer.sources`); ``"auto"`` takes every one
        trained on this shared layer (none for word vectors). A named source whose
        encoder fingerprint differs from the shared layer's is an error.
    weight : float or "auto", default="auto"
        Weight of the sources block; ``"auto"`` chooses among ``weights`` by the same
        validation splits as the n-gram weight (the lightest within half a standard
        error of the best, :data:`STANDARD_ERRORS`), which needs ``y``; without ``y``
        it is 0.
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
    sources_ : list of str
        The sources reused (empty if none matched).
    hidden_ : FrozenHiddenLayers
        Their hidden layers side by side (absent without sources).
    weight_ : float
        The weight used; the output is the shared layer's features alone when it is 0.
    n_shared_features_ : int
        Columns of the shared layer's features.
    shared_norm_, sources_norm_ : float
        Root-mean-square norms of the two blocks on the training texts.
    cv_results_ : dict of ndarray
        ``"weight"``, ``"C"``, ``"accuracy"`` of a search (searched fits only).

    Examples
    --------
    >>> from lightxfer import EmbeddingVectorizer
    >>> blocks = SourceBlocks(EmbeddingVectorizer()).fit(["a good film", "a bad film"])
    >>> blocks.sources_, blocks.weight_  # no shipped source sits on GloVe
    ([], 0.0)
    """

    _parameter_constraints = {
        "shared": [HasMethods(["fit", "transform"]), None],
        "sources": [StrOptions({"auto"}), list, tuple],
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
        """Fit the shared layer's clone, load the sources and, with ``y``, choose the weight.

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
        self.__dict__.pop("cv_results_", None)
        self.shared_ = clone(self.shared) if self.shared is not None else SentenceEncoder()
        features = np.asarray(self.shared_.fit_transform(texts), dtype=np.float32)
        self.shared_norm_ = _rms(features)
        self.n_shared_features_ = features.shape[1]
        names = self.sources
        if isinstance(names, str):  # "auto"
            names = shipped_sources.matching_sources(self.shared_)
        self.sources_ = []
        self.sources_norm_ = 1.0
        self.weight_ = 0.0
        if names:
            self.sources_, coef, intercept = shipped_sources.hidden_layers(names, self.shared_)
            self.hidden_ = FrozenHiddenLayers([coef], [intercept]).fit(features)
            hidden = self.hidden_.transform(features).astype(np.float32)
            self.sources_norm_ = _rms(hidden)
            self.weight_ = self._choose_weight(features, hidden, y)
            if self.weight_:
                return self._stack(features, hidden, self.weight_)
        return features / self.shared_norm_

    def transform(self, X):
        """Return ``[shared features / their norm, weight_ * source activations / their norm]``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        ndarray of float32
            Only the shared layer's (scaled) features when ``weight_`` is 0.
        """
        check_is_fitted(self, "weight_")
        features = np.asarray(self.shared_.transform(to_text_list(X)), dtype=np.float32)
        if not self.weight_:
            return features / self.shared_norm_
        hidden = self.hidden_.transform(features).astype(np.float32)
        return self._stack(features, hidden, self.weight_)

    def get_feature_names_out(self, input_features=None):
        """The shared layer's names, then ``sst2_0 ...`` for each source's units."""
        check_is_fitted(self, "weight_")
        if hasattr(self.shared_, "get_feature_names_out"):
            names = list(self.shared_.get_feature_names_out())
        else:
            names = [f"shared{i}" for i in range(self.n_shared_features_)]
        if self.weight_:
            units = self.hidden_.coefs[0].shape[1] // len(self.sources_)
            names += [f"{name}_{i}" for name in self.sources_ for i in range(units)]
        return np.asarray(names, dtype=object)

    @property
    def lowercase_(self):
        """The shared layer's ``lowercase_`` (the n-grams of the recommended model follow it)."""
        return getattr(self.shared_, "lowercase_", True)

    def _stack(self, features, hidden, weight):
        return np.hstack(
            [features / self.shared_norm_, np.float32(weight / self.sources_norm_) * hidden]
        )

    def _choose_weight(self, features, hidden, y):
        if self.weight != "auto":
            return float(self.weight)
        if y is None:
            return 0.0
        y = np.asarray(y)
        splits = ngram_search.validation_splits(y, self.cv, self.random_state)
        if splits is None:
            return 0.0
        weights = sorted(float(w) for w in self.weights)
        Cs = sorted(float(c) for c in self.Cs)
        accuracy = ngram_search.search(
            lambda w: self._stack(features, hidden, w) if w else features / self.shared_norm_,
            weights,
            y,
            splits,
            Cs,
            n_jobs=self.n_jobs,
            progress=False,
        )
        self.cv_results_ = {
            "weight": np.repeat(weights, len(Cs)),
            "C": np.tile(Cs, len(weights)),
            "accuracy": accuracy.ravel(),
        }
        best = dict(zip(weights, np.nanmax(accuracy, axis=1)))
        n_valid = ngram_search.n_validated(splits)
        return float(ngram_search.lightest_good_weight(best, n_valid, STANDARD_ERRORS))


def _rms(rows):
    """Root-mean-square row norm (1 for all-zero rows, so nothing divides by zero)."""
    return float(np.sqrt(np.mean(np.sum(np.square(rows, dtype=np.float64), axis=1)))) or 1.0
