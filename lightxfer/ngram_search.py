"""The recommended model's search: which n-gram block weight, and which C, by validation.

:class:`lightxfer.recommended.HybridVectorizer` hands over its frozen features and its
n-gram block; this module scores candidate n-gram weights with liblinear logistic
models over a path of C on validation splits of the training texts, and reads the
scores with the one-standard-error rule on small data (the best weight from
:data:`HOLDOUT_FROM` texts on). It walks from the middle weights toward the best one
rather than scoring them all (:data:`WALK`). On small data the k-fold CV is repeated
with new shuffles, so that one shuffle's luck does not choose the weight. A search
makes hundreds of small fits, so each calls liblinear directly, without an estimator's
per-fit checks, on rows cut once per split. Tests and benchmarks replay the search
through the same public functions.
"""

import threading
import warnings

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)
from sklearn.svm._base import _fit_liblinear  # private: see setup.py's scikit-learn range

from lightxfer.progress import progress_bar

__all__ = [
    "CS",
    "DUAL_TOL",
    "HOLDOUT_FROM",
    "MAX_REPEATS",
    "NGRAM_WEIGHTS",
    "REPEAT_UNTIL",
    "choose",
    "cv_results",
    "lightest_good_weight",
    "n_validated",
    "path_accuracy",
    "rms_norm",
    "search",
    "search_block_weight",
    "WALK",
    "validation_splits",
]

#: Candidate n-gram block weights; 0 means the frozen features only.
NGRAM_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Candidate inverse regularisation strengths of the softmax head.
CS = (0.1, 1.0, 10.0, 100.0)
#: From this many training texts on, one stratified 75/25 split replaces k-fold CV in
#: the search (its estimate is already tight, and fits on large data are the slow ones)
#: and the best weight replaces the lightest one within a standard error of it.
HOLDOUT_FROM = 2000
#: Below :data:`HOLDOUT_FROM`, the k-fold CV is repeated with new shuffles until it has
#: made about this many validation predictions per candidate, at most
#: :data:`MAX_REPEATS` times: fits on a few dozen texts cost milliseconds, and one
#: shuffle's luck let noise choose n-grams on 8 texts per class. On held-out training
#: texts of the five benchmark tasks (8-128 per class, 6 draws) the repeats moved mean
#: accuracy by -0.03 (MiniLM) / +0.19 (GloVe) points, and the worst task at 8 per class
#: from 0.9 to 0.2 points below frozen MiniLM + LR (benchmarks/small_data_search.py).
#: Repeating only up to 300 predictions (texts below 150) took 0.6x the fit time but
#: lost 0.36 / 0.14 points on MPQA / SST-2 (up to 2.2 on one size; GloVe, 3 draws), so
#: the price stays up to MAX_REPEATS times the search's fits on the smallest sets.
REPEAT_UNTIL = 1000
MAX_REPEATS = 5
#: Score only the weights a walk toward the best one visits (see
#: :func:`search_block_weight`), not all of them. On held-out training texts of the five
#: benchmark tasks (8-128 per class, 6 draws, GloVe and MiniLM) its models scored as
#: those of a search over every weight in 295 of 300 draws, mean accuracy per task
#: within 0.08 points, in 0.88x the fit time (benchmarks/small_data_search.py); fits on
#: 1,000-5,000 texts took 0.4-0.7x the time.
WALK = True
#: Stopping tolerance of the search's dual fits: ranking needs accuracy, not optimal
#: weights; on SST-2, SST-5 and TREC it chose as 1e-4 did, in 55-80% of the time
#: (test_loose_tolerance_chooses_as_a_tight_one).
DUAL_TOL = 1e-2
#: liblinear seeds and draws one process-wide generator during a fit: with a loose
#: tolerance, fits running at once in threads (e.g. a user's threading backend) would
#: score differently from run to run.
_LIBLINEAR = threading.Lock()


def rms_norm(rows):
    """Root-mean-square row norm: the scale a block is divided by before its weight is searched.

    1 for all-zero rows, so nothing divides by zero.

    Examples
    --------
    >>> rms_norm(np.array([[3.0, 4.0], [0.0, 0.0]]))  # sqrt((25 + 0) / 2)
    3.5355339059327378
    """
    return float(np.sqrt(np.mean(np.sum(np.square(rows, dtype=np.float64), axis=1)))) or 1.0


def validation_splits(y, cv=3, random_state=0):
    """Train/validation index pairs for the search, or None if nothing can be validated.

    ``cv`` stratified folds (fewer when a class has fewer examples), repeated with new
    shuffles on small data (:data:`REPEAT_UNTIL`); from :data:`HOLDOUT_FROM` labels on,
    one stratified 75/25 split. A class seen only once cannot be validated on: it stays
    in every training part, so that one rare label does not switch the search off for
    all the others.

    Examples
    --------
    >>> [len(valid) for _, valid in validation_splits(["a", "b"] * 300)]
    [200, 200, 200]
    >>> len(validation_splits(["a", "b"] * 3))  # 3 folds, 5 shuffles
    15
    >>> validation_splits(["a", "b", "c"]) is None
    True
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if np.sum(counts >= 2) < 2:
        return None
    is_common = np.isin(y, classes[counts >= 2])
    common, rare = np.flatnonzero(is_common), np.flatnonzero(~is_common)
    if len(y) >= HOLDOUT_FROM:
        folds = StratifiedShuffleSplit(1, test_size=0.25, random_state=random_state)
    else:
        n_splits = int(min(cv, counts[counts >= 2].min()))
        n_repeats = int(np.clip(REPEAT_UNTIL // len(common), 1, MAX_REPEATS))
        if n_repeats == 1:
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
        else:
            folds = RepeatedStratifiedKFold(
                n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
            )
    return [
        (np.concatenate([common[train], rare]), common[valid])
        for train, valid in folds.split(common, y[common])
    ]


def search(features_of, weights, y, splits, Cs, *, n_jobs=None, progress=None):
    """Validation accuracy of each candidate weight (rows) at each C (columns).

    Parameters
    ----------
    features_of : callable
        Maps a weight to its feature matrix; called in this process, one at a time.
    weights, Cs : sequence of float
        Candidates, each in ascending order.
    y : ndarray
        Labels.
    splits : list of (train, valid) index pairs
        From :func:`validation_splits`.
    n_jobs : int, optional
        Processes scoring the weights.
    progress : bool, optional
        Show a bar; by default on a terminal for a search of :data:`HOLDOUT_FROM` texts on.

    Returns
    -------
    ndarray of shape (len(weights), len(Cs))
        NaN where a path stopped early (see :func:`path_accuracy`).
    """
    accuracy = []
    large = len(y) >= HOLDOUT_FROM
    with progress_bar(
        progress, large=large, total=len(weights), desc="searching", unit=" weights"
    ) as bar:
        # Processes: threads would take turns at liblinear (see _LIBLINEAR).
        paths = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(path_accuracy)(features_of(w), y, splits, Cs) for w in weights
        )
        for path in paths:
            accuracy.append(path)
            bar.update()
    return np.array(accuracy)


def search_block_weight(fixed, block, weights, y, splits, Cs, *, n_jobs=None, progress=None):
    """:func:`search` over the weight of a sparse ``block`` beside ``fixed`` features.

    The same scores as ``search(lambda w: hstack([fixed, w * block]), ...)`` (weight 0:
    ``fixed`` alone), but each split's rows are cut from the stacked matrix once, in
    the order liblinear reads them: a weight only rescales the block's stored values.
    With :data:`WALK`, only the weights a walk toward the best one visits are scored.

    Parameters
    ----------
    fixed, block : scipy.sparse matrix of float32
        Features with the same rows; ``fixed`` keeps its scale.
    weights, y, splits, Cs, n_jobs, progress
        As for :func:`search`.

    Returns
    -------
    ndarray of shape (len(weights), len(Cs))
        NaN where a path stopped early, and in the rows of weights the walk skipped.
    """
    n_fixed = fixed.shape[1]
    fixed_parts = _SplitRows(sparse.csr_matrix(fixed), n_fixed, y, splits)
    stacked = _SplitRows(sparse.hstack([fixed, block], format="csr"), n_fixed, y, splits)

    def score(rows):
        for i in rows:
            parts = stacked.weighted(weights[i]) if weights[i] else fixed_parts.weighted(1.0)
            yield delayed(_path_scores)(parts, Cs)

    accuracy = np.full((len(weights), len(Cs)), np.nan)
    large = len(y) >= HOLDOUT_FROM
    with progress_bar(
        progress, large=large, total=len(weights), desc="searching", unit=" weights"
    ) as bar:
        # The walk starts at the middle weight (the heavier of two) and its neighbours.
        middle = len(weights) // 2
        rows = [i for i in (middle - 1, middle, middle + 1) if 0 <= i < len(weights)]
        rows = rows if WALK else range(len(weights))
        while rows:
            # Processes: threads would take turns at liblinear (see _LIBLINEAR).
            paths = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(score(rows))
            for i, path in zip(rows, paths):
                accuracy[i] = path
                bar.update()
            rows = _next_on_the_walk(accuracy, splits) if WALK else []
        bar.update(bar.total - bar.n)  # the weights the walk skipped
    return accuracy


def _next_on_the_walk(accuracy, splits):
    """The rows to score next on a walk over the weights, or none once it has its choice.

    The walk climbs from the middle weights toward the better neighbour until the best
    scored weight's neighbours are scored, then goes lighter while the lightest scored
    weight is within :func:`choose`'s band of the best. Validation accuracy that rises
    and then falls with the weight gets the choice :func:`choose` makes from every row.
    """
    scored = np.flatnonzero(~np.all(np.isnan(accuracy), axis=1))
    best_of = {i: np.nanmax(accuracy[i]) for i in scored}
    best = max(scored, key=lambda i: (best_of[i], -i))
    rows = [i for i in (best - 1, best + 1) if 0 <= i < len(accuracy) and i not in best_of]
    lightest = scored[0]
    if not rows and lightest > 0 and best_of[lightest] >= _band(best_of[best], splits):
        rows = [lightest - 1]
    return rows


class _SplitRows:
    """Each split's training and validation rows of one matrix, cut once.

    Rows are kept float32 with sorted column indices (liblinear reads a row in its
    stored order); :meth:`weighted` gives float64 copies with the columns from
    ``n_fixed`` on multiplied, in float32, by a weight.
    """

    def __init__(self, features, n_fixed, y, splits):
        features = features.astype(np.float32)  # a copy: sorting must not touch the caller's
        features.sort_indices()
        self.parts = []
        for train, valid in splits:
            X_train, X_valid = features[train], features[valid]
            weighted = (X_train.indices >= n_fixed, X_valid.indices >= n_fixed)
            self.parts.append((X_train, y[train], X_valid, y[valid], weighted))

    def weighted(self, weight):
        return [
            (
                _weighted(X_train, on_train, weight),
                y_train,
                _weighted(X_valid, on_valid, weight),
                y_valid,
            )
            for X_train, y_train, X_valid, y_valid, (on_train, on_valid) in self.parts
        ]


def _weighted(rows, entries, weight):
    """``rows`` as float64, the values at ``entries`` multiplied (in float32) by ``weight``."""
    data = rows.data
    if weight != 1.0:
        data = data * np.where(entries, np.float32(weight), np.float32(1))
    return sparse.csr_matrix((data.astype(np.float64), rows.indices, rows.indptr), shape=rows.shape)


def cv_results(weight_name, weights, Cs, accuracy):
    """A search's scores as an estimator's ``cv_results_``: one entry per (weight, C).

    Examples
    --------
    >>> cv_results("weight", [0.0, 1.0], [1.0], np.array([[0.5], [0.75]]))["accuracy"]
    array([0.5 , 0.75])
    """
    return {
        weight_name: np.repeat(weights, len(Cs)),
        "C": np.tile(Cs, len(weights)),
        "accuracy": accuracy.ravel(),
    }


def choose(weights, Cs, accuracy, splits):
    """``(weight, C)`` read from :func:`search`'s scores.

    Parsimony protects the frozen prior on small, noisy CV: the lightest weight within
    one standard error of the best. A large holdout ranks reliably: there the best
    weight beat the one-SE rule's on held-out texts by 1.0 / 0.3 / 0.6 points on SST-2 /
    SST-5 / TREC (benchmarks/selection.py). C is the first best of the chosen weight's
    path, i.e. the strongest regularisation among ties.
    """
    scored = ~np.all(np.isnan(accuracy), axis=1)  # a walk may skip weights
    best_by_weight = {w: np.nanmax(row) for w, row, s in zip(weights, accuracy, scored) if s}
    n_valid, standard_errors = n_validated(splits), _standard_errors(splits)
    row = list(weights).index(lightest_good_weight(best_by_weight, n_valid, standard_errors))
    return weights[row], Cs[int(np.nanargmax(accuracy[row]))]


def _standard_errors(splits):
    """How many standard errors below the best a weight may score and still be chosen."""
    return 1.0 if len(splits[0][0]) + len(splits[0][1]) < HOLDOUT_FROM else 0.0


def _band(best, splits):
    """The lowest accuracy :func:`choose` keeps beside the ``best`` one."""
    standard_error = np.sqrt(best * (1 - best) / n_validated(splits))
    return best - _standard_errors(splits) * standard_error


def n_validated(splits):
    """How many distinct texts the splits validate on (repeats count once).

    Examples
    --------
    >>> n_validated(validation_splits(["a", "b"] * 3))
    6
    """
    return len(np.unique(np.concatenate([valid for _, valid in splits])))


def path_accuracy(features, y, splits, Cs):
    """Mean validation accuracy of a logistic model for each C in ascending order.

    liblinear (one-vs-rest beyond two classes) fits each C from scratch, fast. The path
    stops at the first C that scores below the one before: validation accuracy is
    close to unimodal in C, and the large-C fits are the slow ones. Skipped Cs are NaN.
    """
    # Each split is sliced (and made float64 for liblinear) once for the whole path.
    parts = [
        (features[train].astype(np.float64), y[train], features[valid].astype(np.float64), y[valid])
        for train, valid in splits
    ]
    return _path_scores(parts, Cs)


def _path_scores(parts, Cs):
    """:func:`path_accuracy` on splits already cut: ``(X_train, y_train, X_valid, y_valid)``."""
    scores = np.full(len(Cs), np.nan)
    # liblinear's convergence warnings at large C are noise here: ranking needs accuracy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, C in enumerate(Cs):
            scores[i] = np.mean([_fit_score(*part, C) for part in parts])
            if i and scores[i] < scores[i - 1]:
                break
    return scores


def _fit_score(X_train, y_train, X_valid, y_valid, C):
    """Validation accuracy of liblinear's L2 logistic model (one-vs-rest beyond two classes).

    liblinear is called as ``LogisticRegression(solver="liblinear")`` calls it, once for
    all classes, without the estimator's per-fit input checks and scorer, which took most
    of the time of a fit on a few hundred texts. Binary scores are those of
    ``LogisticRegression``; beyond two classes liblinear's own one-vs-rest draws its
    shuffles from one generator instead of reseeding per class as
    ``OneVsRestClassifier(LogisticRegression(...))`` did, so scores can differ in the
    last fold-level decimals.
    """
    # The dual problem is the smaller one when there are more features than texts.
    dual = X_train.shape[1] > X_train.shape[0]
    tol = DUAL_TOL if dual else 1e-4
    with _LIBLINEAR:  # its one shuffle generator per process: threads take turns
        coef, intercept, _ = _fit_liblinear(
            X_train, y_train, C, True, 1.0, None, "l2", dual, 0, 1000, tol, random_state=0
        )
    decision = X_valid @ coef.T + intercept
    classes = np.unique(y_train)
    if len(classes) == 2:
        predicted = classes[(decision[:, 0] > 0).astype(int)]
    else:
        predicted = classes[np.argmax(decision, axis=1)]
    return float(np.mean(predicted == y_valid))


def lightest_good_weight(scores, n_valid, standard_errors=1.0):
    """The lightest weight within ``standard_errors`` standard errors of the best accuracy.

    The one-standard-error rule (Breiman et al., 1984): with a few dozen texts the
    validation accuracy is noisy and the frozen features are the safer bet; with
    thousands the error is small and the n-grams get the weight they earn. With
    ``standard_errors=0`` it is the best weight (the lightest one among ties).

    Examples
    --------
    >>> lightest_good_weight({0.0: 0.80, 0.5: 0.82, 1.0: 0.85}, n_valid=2000)
    1.0
    >>> lightest_good_weight({0.0: 0.80, 0.5: 0.82, 1.0: 0.85}, n_valid=50)
    0.0
    >>> lightest_good_weight({0.0: 0.80, 0.5: 0.845, 1.0: 0.85}, n_valid=2000)
    0.5
    >>> lightest_good_weight({0.0: 0.80, 0.5: 0.845, 1.0: 0.85}, 2000, standard_errors=0)
    1.0
    """
    best = max(scores.values())
    standard_error = np.sqrt(best * (1 - best) / n_valid)
    return min(w for w, score in scores.items() if score >= best - standard_errors * standard_error)
