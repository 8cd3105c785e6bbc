"""How far a classifier's confidence can be trusted: calibration scores and confidence thresholds.

Everything here reads predicted probabilities against true labels, model-free (as
:func:`cleanlab.filter.find_label_issues` reads out-of-fold probabilities): the
*confidence* of a prediction is its top-label probability, and it is *calibrated* when,
among the predictions made with confidence about ``p``, a share ``p`` is right.

- :func:`expected_calibration_error`: that gap, averaged over :data:`ECE_BINS` bins of
  equal mass (each holds the same number of predictions, so no bin is a handful of texts);
- :func:`brier_score` and scikit-learn's ``log_loss``: proper scores of the whole vector;
- :func:`accuracy_coverage` and :func:`threshold_for_accuracy`: what answering only
  above a confidence threshold gives -- the share of texts answered (coverage) and the
  accuracy on them.
"""

from numbers import Real

import numpy as np

#: Bins of the expected calibration error, each holding the same number of predictions.
ECE_BINS = 15


def check_min_confidence(value, name="min_confidence"):
    """Return ``value`` as a float, or raise one line unless ``0 < value <= 1``.

    Examples
    --------
    >>> check_min_confidence(0.8)
    0.8
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a probability in (0, 1], e.g. 0.8; got {value!r}")
    return float(value)


def top_label(y, proba, classes):
    """Return ``(confidence, correct)``: each row's top probability and whether its label is right.

    Parameters
    ----------
    y : array-like of shape (n_texts,)
        True labels.
    proba : array-like of shape (n_texts, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,)

    Returns
    -------
    confidence : ndarray of float
    correct : ndarray of bool
    """
    proba = np.asarray(proba, dtype=float)
    predicted = np.asarray(classes)[np.argmax(proba, axis=1)]
    return proba.max(axis=1), predicted == np.asarray(y)


def expected_calibration_error(y, proba, classes, n_bins=ECE_BINS):
    """Top-label expected calibration error over ``n_bins`` equal-mass bins.

    The predictions are sorted by confidence and cut into ``n_bins`` bins of (nearly)
    equal size; the score is the mean over texts of ``|accuracy - mean confidence|`` of
    their bin. 0 is perfectly calibrated.

    Examples
    --------
    >>> proba = [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]]
    >>> round(expected_calibration_error([0, 1, 1, 1], proba, [0, 1], n_bins=2), 3)
    0.35
    """
    confidence, correct = top_label(y, proba, classes)
    if not len(confidence):
        return float("nan")
    bins = np.array_split(np.argsort(confidence, kind="stable"), min(n_bins, len(confidence)))
    gaps = [len(b) * abs(correct[b].mean() - confidence[b].mean()) for b in bins]
    return float(np.sum(gaps) / len(confidence))


def reliability_curve(y, proba, classes, n_bins=ECE_BINS):
    """Mean confidence and accuracy of each equal-mass bin: the reliability diagram's points.

    Returns
    -------
    confidence, accuracy : ndarray of shape (n_bins,)
    """
    confidence, correct = top_label(y, proba, classes)
    bins = np.array_split(np.argsort(confidence, kind="stable"), min(n_bins, len(confidence)))
    return (
        np.array([confidence[b].mean() for b in bins]),
        np.array([correct[b].mean() for b in bins]),
    )


def brier_score(y, proba, classes):
    """Mean squared error of the probability vector against the one-hot label.

    Summed over the classes (Brier's multi-class score, 0 to 2), and halved for two
    classes, so that it is the usual binary Brier score there (scikit-learn's
    ``brier_score_loss`` convention).

    Examples
    --------
    >>> brier_score(["a", "b"], [[0.8, 0.2], [0.4, 0.6]], ["a", "b"])  # (0.2**2 + 0.4**2) / 2
    0.1
    """
    proba = np.asarray(proba, dtype=float)
    onehot = np.asarray(y)[:, None] == np.asarray(classes)[None, :]
    score = np.mean(np.sum((proba - onehot) ** 2, axis=1))
    return round(float(score / 2 if len(classes) == 2 else score), 12)


def accuracy_coverage(confidence, correct):
    """What each threshold gives: answering only texts with ``confidence >= threshold``.

    Parameters
    ----------
    confidence : array-like of float
    correct : array-like of bool

    Returns
    -------
    thresholds : ndarray
        The distinct confidences, highest first.
    coverage : ndarray
        Share of texts answered at each threshold.
    accuracy : ndarray
        Accuracy on the texts answered.

    Examples
    --------
    >>> accuracy_coverage([0.9, 0.6, 0.9, 0.7], [True, False, True, False])[2].tolist()
    [1.0, 0.6666666666666666, 0.5]
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    # the last position of each distinct confidence: ties are answered together
    last = np.flatnonzero(np.append(np.diff(confidence) != 0, True))
    answered = last + 1
    right = np.cumsum(correct)[last]
    return confidence[last], answered / max(len(confidence), 1), right / answered


def threshold_for_accuracy(confidence, correct, target_accuracy):
    """The lowest confidence threshold whose answers are at least ``target_accuracy`` right.

    Lowest threshold: the most texts answered. ``None`` when no threshold reaches the
    target.

    Examples
    --------
    >>> threshold_for_accuracy([0.9, 0.6, 0.9, 0.7], [True, False, True, False], 0.9)
    0.9
    >>> threshold_for_accuracy([0.9, 0.6], [False, False], 0.9) is None
    True
    """
    target_accuracy = check_min_confidence(target_accuracy, "target_accuracy")
    thresholds, _, accuracy = accuracy_coverage(confidence, correct)
    reached = np.flatnonzero(accuracy >= target_accuracy - 1e-12)
    return float(thresholds[reached[-1]]) if len(reached) else None


def answered_accuracy(confidence, correct, threshold):
    """``(coverage, accuracy)`` of answering only at ``confidence >= threshold``.

    Accuracy is NaN when nothing is answered; a ``None`` threshold answers nothing.
    """
    confidence = np.asarray(confidence, dtype=float)
    answered = np.zeros(len(confidence), bool) if threshold is None else confidence >= threshold
    coverage = float(answered.mean()) if len(answered) else float("nan")
    accuracy = float(np.asarray(correct)[answered].mean()) if answered.any() else float("nan")
    return coverage, accuracy


def held_out_threshold(confidence, correct, target_accuracy, n_folds=5, random_state=0):
    """Pick the threshold for ``target_accuracy`` and measure it on texts it was not picked on.

    The threshold is picked on all texts (:func:`threshold_for_accuracy`); its coverage
    and accuracy are measured by cross-fitting: each of ``n_folds`` folds is answered
    with the threshold picked on the other folds, which is what a threshold picked on
    these texts will give on new ones (picked and measured on the same texts, the
    accuracy would reach the target by construction).

    Returns
    -------
    dict
        ``threshold`` (float or None), ``coverage`` and ``accuracy`` (on held-out folds).
    """
    from sklearn.model_selection import KFold

    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    n_folds = min(n_folds, len(confidence))
    answered = np.zeros(len(confidence), dtype=bool)
    if n_folds >= 2:
        for pick, measure in KFold(n_folds, shuffle=True, random_state=random_state).split(
            confidence
        ):
            threshold = threshold_for_accuracy(confidence[pick], correct[pick], target_accuracy)
            if threshold is not None:
                answered[measure] = confidence[measure] >= threshold
    return {
        "threshold": threshold_for_accuracy(confidence, correct, target_accuracy),
        "coverage": float(answered.mean()) if len(answered) else float("nan"),
        "accuracy": float(correct[answered].mean()) if answered.any() else float("nan"),
    }
