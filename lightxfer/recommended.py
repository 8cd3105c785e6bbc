"""The recommended configuration: frozen pooled vectors plus task-specific n-grams.

Frozen 50-d vectors win when there are a few dozen labelled texts and lose to sparse
n-grams when there are thousands. :class:`HybridVectorizer` keeps the frozen shared
layer and appends a TF-IDF block of word 1-2 grams and character 2-5 grams (the
characters catch inflections, typos and words the vectors lack) whose weight is
chosen by cross-validation on the training data: with little data the search keeps
the n-grams light (or drops them), with more data it lets them carry the
task-specific words. One L2-regularised softmax head (``LogisticRegression(C=1)``)
sits on top.

Scaling a block by ``s`` under one L2 penalty is the same as giving that block its own
penalty ``C * s**2``. So the vectorizer learns two block scales -- the n-gram weight
relative to the vectors and an overall scale ``sqrt(C)`` -- by a search over
``ngram_weight x C`` with logistic models, and the head needs no tuning of its own.
"""

import threading
import warnings

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from lightxfer.shared.validation import to_text_list
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors import loading

#: Candidate n-gram block weights; 0 means frozen vectors only.
NGRAM_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Candidate inverse regularisation strengths of the softmax head.
CS = (0.1, 1.0, 10.0, 100.0)
#: Tokens are whatever whitespace separates, as for the vectors (punctuation kept,
#: e.g. the "?" of a question); texts are lower-cased like the default vectors' words.
NGRAM_TOKEN_PATTERN = r"\S+"
#: What TfidfVectorizer says when texts hold no term (often enough) to keep.
NO_TERMS = ("empty vocabulary", "no terms remain")
#: From this many training texts on, one stratified 75/25 split replaces k-fold CV in
#: the search (its estimate is already tight, and fits on large data are the slow ones)
#: and the best weight replaces the lightest one within a standard error of it.
HOLDOUT_FROM = 2000
#: Stopping tolerance of the search's dual fits: ranking needs accuracy, not optimal
#: weights; on SST-2, SST-5 and TREC it chose as 1e-4 did, in 55-80% of the time
#: (test_loose_tolerance_chooses_as_a_tight_one).
DUAL_TOL = 1e-2
#: liblinear seeds and draws one process-wide generator during a fit: with a loose
#: tolerance, fits running at once in threads (e.g. a user's threading backend) would
#: score differently from run to run.
_LIBLINEAR = threading.Lock()


class HybridVectorizer(EmbeddingVectorizer):
    """Pooled frozen vectors plus a weighted TF-IDF n-gram block, as one sparse matrix.

    The pooled vectors are divided by their root-mean-square norm over the training
    texts so that, like the L2-normalised TF-IDF rows, each block has unit expected
    squared norm per text. One scalar, not per-feature standardisation: with a few
    dozen texts, per-feature variances are noise, and the vectors' own geometry is the
    knowledge being transferred; ``ngram_weight`` is then the n-grams' weight relative to the vectors. Both
    blocks are finally multiplied by ``scale``, which for a head ``LogisticRegression(C=1)``
    amounts to choosing its C.

    Parameters
    ----------
    vectors, pooling, tokenizer, lowercase, sif_alpha, store_vectors, cache, batch_size, \
n_jobs, progress
        As for :class:`lightxfer.EmbeddingVectorizer`; ``n_jobs`` also sets the processes
        that search the candidate weights.
    ngram_weight : float or "auto", default="auto"
        Weight of the n-gram block; ``0`` leaves the frozen vectors alone. ``"auto"``
        chooses among ``ngram_weights`` by stratified CV of logistic models on the
        training texts, which needs ``y``; without ``y`` it uses ``1.0``.
    ngram_weights : sequence of float, default=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
        Candidates for ``ngram_weight="auto"``.
    scale : float or "auto", default="auto"
        Factor on all features; ``"auto"`` uses ``sqrt(C)`` of the best candidate
        (``1.0`` when the weight is not searched).
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams of the task-specific block.
    min_df : int or float, default=1
        As for :class:`sklearn.feature_extraction.text.TfidfVectorizer`.
    char_ngram_range : tuple (min_n, max_n) or None, default=(2, 5)
        Character n-grams within word boundaries (``analyzer="char_wb"``), given the
        same weight as the word n-grams inside the block; ``None`` leaves them out.
    char_min_df : int or float, default=2
        ``min_df`` of the character n-grams: one-off fragments are noise.
    Cs : sequence of float, default=(0.1, 1.0, 10.0, 100.0)
        Inverse regularisation strengths tried with each candidate weight.
    cv : int, default=3
        Folds of the search (fewer when a class has fewer examples), which keeps the
        lightest weight within one standard error of the best; from 2000 training texts
        on, one stratified 75/25 split, which keeps the best weight.
    random_state : int, default=0
        Shuffles the folds.

    Attributes
    ----------
    ngram_weight_ : float
        The weight used.
    scale_ : float
        The overall factor used.
    ngram_vectorizers_ : dict of str to TfidfVectorizer
        The fitted n-gram parts, ``"words"`` and ``"chars"``; a part that finds no
        term in the training texts (e.g. all texts empty) is left out.
    embedding_norm_ : float
        Root-mean-square norm of the pooled training vectors.
    cv_results_ : dict of ndarray
        ``"ngram_weight"``, ``"C"`` and their mean validation ``"accuracy"``, one
        entry per candidate (searched fits only); NaN where the search skipped a C.

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
        ngram_weight="auto",
        ngram_weights=NGRAM_WEIGHTS,
        scale="auto",
        ngram_range=(1, 2),
        min_df=1,
        char_ngram_range=(2, 5),
        char_min_df=2,
        Cs=CS,
        cv=3,
        random_state=0,
    ):
        super().__init__(
            vectors=vectors,
            pooling=pooling,
            tokenizer=tokenizer,
            lowercase=lowercase,
            sif_alpha=sif_alpha,
            store_vectors=store_vectors,
            cache=cache,
            batch_size=batch_size,
            n_jobs=n_jobs,
            progress=progress,
        )
        self.ngram_weight = ngram_weight
        self.ngram_weights = ngram_weights
        self.scale = scale
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.Cs = Cs
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit both blocks and, with ``ngram_weight="auto"`` and ``y``, choose the weight.

        Parameters
        ----------
        X : iterable of str
            Training texts.
        y : array-like, optional
            Labels; used only to choose ``ngram_weight``.

        Returns
        -------
        self
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` (and ``y``) and return its features, computing them only once."""
        texts = to_text_list(X)
        pooled = super().fit_transform(texts)
        self.embedding_norm_ = float(np.sqrt(np.mean(np.sum(pooled**2, axis=1)))) or 1.0
        ngrams = self._fit_ngrams(texts)
        dense = self._scale(pooled)
        self.ngram_weight_, self.scale_ = self._choose_weights(dense, ngrams, y)
        return self._stack(dense, ngrams)

    def transform(self, X):
        """Return ``scale_ * [pooled vectors / their training RMS norm, ngram_weight_ * TF-IDF]``.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        scipy.sparse.csr_matrix of float32
            Pooled features first; no n-gram columns when ``ngram_weight_`` is 0.
        """
        check_is_fitted(self, "ngram_weight_")
        texts = to_text_list(X)
        dense = self._scale(super().transform(texts))
        return self._stack(dense, self._ngrams(texts))

    def get_feature_names_out(self, input_features=None):
        """Pooled names (``mean_0 ...``), then ``words__good film ...``, ``chars__ goo ...``."""
        check_is_fitted(self, "ngram_weight_")
        names = super().get_feature_names_out()
        if self.ngram_weight_ == 0:
            return names
        ngrams = [
            f"{part}__{term}"
            for part, vectorizer in self.ngram_vectorizers_.items()
            for term in vectorizer.get_feature_names_out()
        ]
        return np.concatenate([names, np.array(ngrams, dtype=object)])

    # -- blocks -------------------------------------------------------------------------

    def _ngram_parts(self):
        words = TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            sublinear_tf=True,
            lowercase=self.lowercase_,
            token_pattern=NGRAM_TOKEN_PATTERN,
            dtype=np.float32,
        )
        parts = {"words": words}
        if self.char_ngram_range is not None:
            parts["chars"] = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self.char_ngram_range),
                min_df=self.char_min_df,
                sublinear_tf=True,
                lowercase=self.lowercase_,
                dtype=np.float32,
            )
        return parts

    def _fit_ngrams(self, texts):
        """Fit the n-gram parts that find terms in ``texts``; return the block of ``texts``."""
        self.ngram_vectorizers_, parts = {}, []
        for name, vectorizer in self._ngram_parts().items():
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

    def _scale(self, pooled):
        return (pooled / np.float32(self.embedding_norm_)).astype(np.float32)

    def _stack(self, dense, ngrams, weight=None, scale=None):
        weight = self.ngram_weight_ if weight is None else weight
        scale = self.scale_ if scale is None else scale
        if weight == 0:
            return sparse.csr_matrix(dense * np.float32(scale))
        blocks = [sparse.csr_matrix(dense * np.float32(scale)), ngrams * (weight * scale)]
        return sparse.hstack(blocks, format="csr")

    # -- choosing the block weights ---------------------------------------------------------

    def _choose_weights(self, dense, ngrams, y):
        """``(ngram_weight, scale)``: given, or searched by validation accuracy."""
        fixed_scale = None if self.scale == "auto" else float(self.scale)
        if self.ngram_weight != "auto":
            if fixed_scale is not None or y is None:
                return float(self.ngram_weight), fixed_scale or 1.0
            weights = [float(self.ngram_weight)]
        elif y is None:
            return 1.0, fixed_scale or 1.0
        else:
            weights = sorted(float(w) for w in self.ngram_weights)
        if not self.ngram_vectorizers_:  # nothing to weigh
            weights = [0.0]
        y = np.asarray(y)
        splits = self._splits(y)
        if splits is None:  # nothing to validate on: trust the frozen vectors
            return weights[0], fixed_scale or 1.0
        Cs = [1.0] if fixed_scale is not None else sorted(float(c) for c in self.Cs)
        # Like the embedding's bar: shown on a terminal when the search is a long one.
        hide = not self.progress if self.progress is not None else len(y) < HOLDOUT_FROM or None
        accuracy = []
        with tqdm(total=len(weights), desc="searching", unit=" weights", disable=hide) as bar:
            # Processes: threads would take turns at liblinear (see _LIBLINEAR).
            paths = Parallel(n_jobs=self.n_jobs, backend="loky", return_as="generator")(
                delayed(_path_accuracy)(
                    self._stack(dense, ngrams, w, fixed_scale or 1.0), y, splits, Cs
                )
                for w in weights
            )
            for path in paths:
                accuracy.append(path)
                bar.update()
        accuracy = np.array(accuracy)
        self.cv_results_ = {
            "ngram_weight": np.repeat(weights, len(Cs)),
            "C": np.tile(Cs, len(weights)),
            "accuracy": accuracy.ravel(),
        }
        n_valid = sum(len(valid) for _, valid in splits)
        # Parsimony protects the frozen prior on small, noisy CV. A large holdout ranks
        # reliably: there the best weight beat the one-SE rule's on held-out texts by
        # 1.0 / 0.3 / 0.6 points on SST-2 / SST-5 / TREC (benchmarks/selection.py).
        standard_errors = 1.0 if len(y) < HOLDOUT_FROM else 0.0
        best_by_weight = dict(zip(weights, np.nanmax(accuracy, axis=1)))
        row = weights.index(_lightest_good_weight(best_by_weight, n_valid, standard_errors))
        C = Cs[int(np.nanargmax(accuracy[row]))]  # the first best: the strongest regularisation
        return weights[row], fixed_scale or float(np.sqrt(C))

    def _splits(self, y):
        """Train/validation index pairs for the search, or None if nothing can be validated.

        A class seen only once cannot be validated on: it stays in every training part,
        so that one rare label does not switch the search off for all the others.
        """
        classes, counts = np.unique(y, return_counts=True)
        if np.sum(counts >= 2) < 2:
            return None
        is_common = np.isin(y, classes[counts >= 2])
        common, rare = np.flatnonzero(is_common), np.flatnonzero(~is_common)
        if len(y) >= HOLDOUT_FROM:
            folds = StratifiedShuffleSplit(1, test_size=0.25, random_state=self.random_state)
        else:
            n_splits = int(min(self.cv, counts[counts >= 2].min()))
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        return [
            (np.concatenate([common[train], rare]), common[valid])
            for train, valid in folds.split(common, y[common])
        ]


def _join(parts, n_texts):
    """The n-gram block: parts with unit L2 rows, each weighted 1/sqrt(parts), so unit rows."""
    if not parts:
        return sparse.csr_matrix((n_texts, 0), dtype=np.float32)
    return sparse.hstack(parts, format="csr") * np.float32(1 / np.sqrt(len(parts)))


def _path_accuracy(features, y, splits, Cs):
    """Mean validation accuracy of a logistic model for each C in ascending order.

    liblinear (one-vs-rest beyond two classes) fits each C from scratch, fast. The path
    stops at the first C that scores below the one before: validation accuracy is
    close to unimodal in C, and the large-C fits are the slow ones. Skipped Cs are NaN.
    """
    scores = np.full(len(Cs), np.nan)
    # liblinear's convergence warnings at large C are noise here: ranking needs accuracy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, C in enumerate(Cs):
            scores[i] = np.mean(
                [_fit_score(features, y, train, valid, C) for train, valid in splits]
            )
            if i and scores[i] < scores[i - 1]:
                break
    return scores


def _fit_score(features, y, train, valid, C):
    # The dual problem is the smaller one when there are more features than texts.
    dual = features.shape[1] > len(train)
    tol = DUAL_TOL if dual else 1e-4
    model = LogisticRegression(
        solver="liblinear", C=C, dual=dual, tol=tol, max_iter=1000, random_state=0
    )
    model = model if len(np.unique(y)) == 2 else OneVsRestClassifier(model)
    with _LIBLINEAR:  # its one shuffle generator per process: threads take turns
        model.fit(features[train], y[train])
    return model.score(features[valid], y[valid])


def _lightest_good_weight(scores, n_valid, standard_errors=1.0):
    """The lightest weight within ``standard_errors`` standard errors of the best accuracy.

    The one-standard-error rule (Breiman et al., 1984): with a few dozen texts the
    validation accuracy is noisy and the frozen vectors are the safer bet; with
    thousands the error is small and the n-grams get the weight they earn. With
    ``standard_errors=0`` it is the best weight (the lightest one among ties).

    Examples
    --------
    >>> _lightest_good_weight({0.0: 0.80, 0.5: 0.82, 1.0: 0.85}, n_valid=2000)
    1.0
    >>> _lightest_good_weight({0.0: 0.80, 0.5: 0.82, 1.0: 0.85}, n_valid=50)
    0.0
    >>> _lightest_good_weight({0.0: 0.80, 0.5: 0.845, 1.0: 0.85}, n_valid=2000)
    0.5
    >>> _lightest_good_weight({0.0: 0.80, 0.5: 0.845, 1.0: 0.85}, 2000, standard_errors=0)
    1.0
    """
    best = max(scores.values())
    standard_error = np.sqrt(best * (1 - best) / n_valid)
    return min(w for w, score in scores.items() if score >= best - standard_errors * standard_error)


def make_recommended(vectors=loading.DEFAULT_VECTORS, *, n_jobs=None):
    """The recommended pipeline: :class:`HybridVectorizer` then a softmax head.

    The head's effective C is the ``scale_`` the vectorizer chose by validation.

    Parameters
    ----------
    vectors : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        The frozen shared layer.
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
    """
    return Pipeline(
        [
            ("embedding", HybridVectorizer(vectors=vectors, n_jobs=n_jobs)),
            # Newton-CG converges in a few iterations where lbfgs needs hundreds on
            # hundreds of thousands of n-gram columns (5 s vs 33 s on SST-5).
            ("head", LogisticRegression(solver="newton-cg", max_iter=1000)),
        ]
    )
