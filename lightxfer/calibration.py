"""``CalibratedHead``: a head whose probabilities are recalibrated on held-out training texts.

``make_classifier(calibrate=True)`` puts it in the ``"head"`` step. It sits after the
shared layer, so the texts are embedded once: the held-out fits that the calibration
map needs are fits of the head alone on those features (as the recommended model's
n-gram search is, :mod:`lightxfer.ngram_search`), on the same splits as that search.

Why not ``sklearn.calibration.CalibratedClassifierCV``: its ``method="temperature"``
exists only from scikit-learn 1.8 (lightxfer supports 1.6 on), its fitted state is
private classes (``_CalibratedClassifier``, ``_TemperatureScaling``) that a model file
would have to trust, its default ``ensemble=True`` averages the fold models (so
``predict`` changes), and ``ensemble=False`` needs the splits to be a partition (the
search's repeated folds are not). netcal fits the same one-parameter map on top of
torch. Temperature scaling is one convex minimisation over one number
(``scipy.optimize.minimize_scalar``); isotonic regression is scikit-learn's
``IsotonicRegression``, kept as its two threshold arrays.
"""

from numbers import Integral

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lightxfer import ngram_search
from lightxfer.reliability import check_min_confidence, top_label

#: Calibration maps: ``"temperature"`` (one parameter, safe with a few labels),
#: ``"isotonic"`` (one monotone step function per class, needs many) and ``"auto"``.
#: Temperature is the default: on held-out *training* predictions of the five benchmark
#: tasks (GloVe recommended, 8-128 per class and full data, 50 fits) it matched isotonic
#: on ECE (0.107 vs 0.104) with far lower log-loss (0.79 vs 1.34)
#: (benchmarks/calibration.py).
METHODS = ("temperature", "isotonic", "auto")
#: ``method="auto"`` fits isotonic maps from this many held-out predictions of the
#: rarest class on, temperature scaling below.
ISOTONIC_FROM = 1000
#: Probabilities are floored here before their log: a head may say exactly 0.
_FLOOR = 1e-12


class CalibratedHead(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier fitted on all texts, its probabilities mapped by held-out predictions.

    ``fit`` fits ``estimator`` on all training rows (so ``predict`` is that of the
    uncalibrated head) and, on the validation splits of
    :func:`lightxfer.ngram_search.validation_splits`, fits clones on the training parts
    and predicts the held-out parts. A map from those held-out probabilities to the true
    labels then recalibrates ``predict_proba``:

    - ``"temperature"``: ``softmax(log(p) / T)``, one ``T`` for all classes, chosen by
      held-out log-loss. It keeps each row's ranking of the classes, so the argmax of
      ``predict_proba`` is ``predict``.
    - ``"isotonic"``: a monotone map per class (one-vs-rest, rows renormalised), as
      scikit-learn's ``CalibratedClassifierCV``; ``predict`` is still the head's, which
      the argmax of ``predict_proba`` may rarely contradict.
    - ``"auto"``: isotonic from :data:`ISOTONIC_FROM` held-out predictions of the rarest
      class on, temperature below.

    Parameters
    ----------
    estimator : classifier with predict_proba, optional
        The head; default ``LogisticRegression(max_iter=1000)``.
    method : {"temperature", "isotonic", "auto"}, default="temperature"
    cv : int, default=3
        Folds (repeated with new shuffles on small data; one 75/25 split from 2000 rows
        on), as the recommended model's search.
    random_state : int, default=0
        Shuffles the folds.

    Attributes
    ----------
    estimator_ : classifier
        The head fitted on all rows.
    classes_ : ndarray
    method_ : str
        The map fitted: ``"temperature"`` or ``"isotonic"``.
    temperature_ : float
        ``T`` (1.0 for an isotonic map): above 1 the head was over-confident.
    isotonic_thresholds_ : list of ndarray of shape (2, n_steps)
        Inputs and outputs of each class's isotonic map (one for two classes); empty for
        temperature scaling.
    validation_confidence_ : ndarray of float32
        Calibrated top-label confidence of each held-out prediction.
    validation_correct_ : ndarray of bool
        Whether each held-out prediction was right. With ``validation_confidence_`` it
        picks a threshold for a target accuracy on training data
        (:func:`lightxfer.reliability.threshold_for_accuracy`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> y = (X[:, 0] + np.random.RandomState(1).normal(size=200) > 0).astype(int)
    >>> head = CalibratedHead().fit(X, y)
    >>> head.method_, bool(head.temperature_ > 0)
    ('temperature', True)
    >>> bool((head.predict(X) == head.estimator_.predict(X)).all())
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "method": [StrOptions(set(METHODS))],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, method="temperature", cv=3, random_state=0):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y, held_out=None):
        """Fit the head on all rows and the calibration map on held-out predictions.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Features (in a pipeline, the shared layer's).
        y : array-like of shape (n_samples,)
        held_out : tuple (proba, labels), optional
            Held-out predictions made elsewhere, columns in the order of the sorted
            classes, used instead of the head's own splits: when the features of the
            training texts are not what new texts would get (a shared layer tuned on
            these labels), only clones of the whole pipeline predict honestly
            (:class:`lightxfer.abstain.AbstainingPipeline` passes them).

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=None)
        check_classification_targets(y)
        if len(np.unique(y)) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got 1 class ({_counts(y)})")
        splits = ngram_search.validation_splits(y, self.cv, self.random_state)
        if splits is None:
            raise ValueError(
                "calibration needs held-out examples: at least 2 classes with 2 or more "
                f"examples each, got {_counts(y)}; fit without calibrate"
            )
        estimator = self._head()
        self.estimator_ = clone(estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        if held_out is None:
            proba, y_valid = held_out_proba(estimator, X, y, splits, self.classes_)
        else:
            proba, y_valid = np.asarray(held_out[0], dtype=float), np.asarray(held_out[1])
        self.method_ = self._method(y_valid)
        self.temperature_ = 1.0
        self.isotonic_thresholds_ = []
        if self.method_ == "temperature":
            self.temperature_ = fit_temperature(proba, y_valid, self.classes_)
        else:
            self.isotonic_thresholds_ = fit_isotonic(proba, y_valid, self.classes_)
        confidence, correct = top_label(y_valid, self._calibrate(proba), self.classes_)
        self.validation_confidence_ = confidence.astype(np.float32)
        self.validation_correct_ = correct
        return self

    def predict_proba(self, X):
        """The head's probabilities, recalibrated: columns in the order of ``classes_``."""
        check_is_fitted(self, "method_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=None, reset=False)
        return self._calibrate(self.estimator_.predict_proba(X))

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X, min_confidence=None):
        """The head's labels; with ``min_confidence``, ``None`` where the calibrated top
        probability is below it (see :func:`lightxfer.abstain.predict_or_abstain`).
        """
        check_is_fitted(self, "method_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=None, reset=False)
        labels = self.estimator_.predict(X)
        if min_confidence is None:
            return labels
        min_confidence = check_min_confidence(min_confidence)
        confident = self.predict_proba(X).max(axis=1) >= min_confidence
        return np.where(confident, labels.astype(object), None)

    def decision_function(self, X):
        """The calibrated log-probabilities (binary: the log-odds of ``classes_[1]``)."""
        log_proba = np.log(np.maximum(self.predict_proba(X), _FLOOR))
        return log_proba[:, 1] - log_proba[:, 0] if len(self.classes_) == 2 else log_proba

    def _head(self):
        """The unfitted head: ``estimator`` or the default."""
        return LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator

    def _method(self, y_valid):
        if self.method != "auto":
            return self.method
        rarest = np.unique(y_valid, return_counts=True)[1].min()
        return "isotonic" if rarest >= ISOTONIC_FROM else "temperature"

    def _calibrate(self, proba):
        if self.method_ == "temperature":
            return apply_temperature(proba, self.temperature_)
        return apply_isotonic(proba, self.isotonic_thresholds_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(self._head()).input_tags.sparse
        return tags


def held_out_proba(estimator, X, y, splits, classes):
    """Probabilities of clones of ``estimator`` fitted on each split's training part.

    A head with an inverse regularisation strength ``C`` gets ``C * n_rows / n_train``,
    the regularisation per row of the head fitted on all rows.

    Returns
    -------
    proba : ndarray of shape (n_held_out, n_classes)
        Rows of every split's held-out part, columns in the order of ``classes`` (0 for a
        class a fold's training part lacked).
    y : ndarray
        Their labels.
    """
    parts, labels = [], []
    for train, valid in splits:
        fold = clone(estimator)
        if "C" in fold.get_params():
            # C weighs the summed loss against the L2 penalty: on part of the rows the same
            # C regularises more, so the fold heads would be less sure than the head on
            # all rows, and the map fitted to them too sharp (T < 1) for it.
            fold.set_params(C=fold.get_params()["C"] * len(y) / len(train))
        fold.fit(_safe_indexing(X, train), y[train])
        proba = np.zeros((len(valid), len(classes)))
        proba[:, np.searchsorted(classes, fold.classes_)] = fold.predict_proba(
            _safe_indexing(X, valid)
        )
        parts.append(proba)
        labels.append(y[valid])
    return np.concatenate(parts), np.concatenate(labels)


def fit_temperature(proba, y, classes):
    """The temperature ``T`` minimising the log-loss of ``softmax(log(proba) / T)`` on ``y``."""
    log_proba = _log(proba)
    true = np.searchsorted(classes, y)
    rows = np.arange(len(true))

    def loss(log_inverse_t):
        return -np.mean(log_softmax(np.exp(log_inverse_t) * log_proba, axis=1)[rows, true])

    # 1/T between e^-5 and e^5 covers any useful map; the loss is convex in 1/T.
    found = minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded")
    return float(np.exp(-found.x))


def apply_temperature(proba, temperature):
    """``softmax(log(proba) / temperature)`` row by row."""
    return softmax(_log(proba) / temperature, axis=1)


def fit_isotonic(proba, y, classes):
    """One-vs-rest isotonic maps (one for two classes), as ``(2, n_steps)`` threshold arrays."""
    columns = [1] if len(classes) == 2 else range(len(classes))
    maps = []
    for k in columns:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(proba[:, k], (np.asarray(y) == classes[k]).astype(float))
        maps.append(np.vstack([iso.X_thresholds_, iso.y_thresholds_]))
    return maps


def apply_isotonic(proba, maps):
    """Map each class's probability by its isotonic map, then renormalise the rows."""
    if len(maps) == 1:
        positive = np.interp(proba[:, 1], maps[0][0], maps[0][1])
        return np.column_stack([1 - positive, positive])
    mapped = np.column_stack([np.interp(proba[:, k], m[0], m[1]) for k, m in enumerate(maps)])
    total = mapped.sum(axis=1, keepdims=True)
    uniform = np.full_like(mapped, 1 / mapped.shape[1])
    return np.divide(mapped, total, out=uniform, where=total > 0)


def _log(proba):
    # float64: a head on float32 features says float32, and a large T divides the gap
    # between two classes' log-probabilities below float32's resolution, tying them.
    return np.log(np.maximum(np.asarray(proba, dtype=np.float64), _FLOOR))


def _counts(y):
    classes, counts = np.unique(y, return_counts=True)
    return ", ".join(f"{c!r}: {n}" for c, n in zip(classes.tolist(), counts.tolist()))
