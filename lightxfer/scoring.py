"""``evaluate``: a fitted classifier on labelled texts -- accuracy, and how far its confidence holds.

Besides accuracy, macro-F1 and the confusion matrix, a model with ``predict_proba`` is
scored by :mod:`lightxfer.reliability`: expected calibration error (top label, 15
equal-mass bins), Brier score, log-loss, and what answering only above a confidence
threshold gives. :func:`plot_reliability` draws the reliability diagram and the
accuracy-coverage curve.
"""

import numpy as np
from sklearn.pipeline import Pipeline

from lightxfer import reliability
from lightxfer.evaluation import check_plot_path, save_figure

#: The confidence threshold ``evaluate`` reports coverage and accuracy at by default.
MIN_CONFIDENCE = 0.8


def evaluate(model, X, y, *, min_confidence=MIN_CONFIDENCE, target_accuracy=None):
    """Score a fitted classifier on labelled texts.

    Parameters
    ----------
    model : fitted classifier or Pipeline
    X : iterable of str
    y : array-like
        True labels.
    min_confidence : float in (0, 1], default=0.8
        Report the share of texts whose top probability reaches it (``coverage``) and
        the accuracy on them (``answered_accuracy``).
    target_accuracy : float in (0, 1], optional
        Also pick the lowest threshold whose answers reach this accuracy, and measure it
        on held-out folds of these texts
        (:func:`lightxfer.reliability.held_out_threshold`).

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``confusion`` (a DataFrame), and for a model with
        probabilities ``ece``, ``brier``, ``log_loss``, ``min_confidence``,
        ``coverage``, ``answered_accuracy``, ``proba``; with ``target_accuracy`` also
        ``threshold`` (None if no threshold reaches it), ``threshold_coverage`` and
        ``threshold_accuracy``.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> texts = ["a good film", "a bad film", "great fun", "dull and bad"] * 5
    >>> labels = ["pos", "neg", "pos", "neg"] * 5
    >>> scores = evaluate(make_classifier().fit(texts, labels), texts, labels)
    >>> scores["accuracy"], sorted(k for k in scores if k in ("ece", "brier", "log_loss"))
    (1.0, ['brier', 'ece', 'log_loss'])
    """
    import pandas as pd
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss

    min_confidence = reliability.check_min_confidence(min_confidence)
    if target_accuracy is not None:
        reliability.check_min_confidence(target_accuracy, "target_accuracy")
    head, features = model, X
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        features, head = model[:-1].transform(X), model[-1]
    y = np.asarray(y)
    predicted = head.predict(features)
    names = [str(c) for c in model.classes_]
    matrix = confusion_matrix(y, predicted, labels=model.classes_)
    scores = {
        "accuracy": accuracy_score(y, predicted),
        "macro_f1": f1_score(y, predicted, average="macro", zero_division=0),
        "confusion": pd.DataFrame(matrix, index=names, columns=names),
    }
    if not hasattr(head, "predict_proba"):
        return scores
    proba = head.predict_proba(features)
    confidence, correct = reliability.top_label(y, proba, model.classes_)
    coverage, answered = reliability.answered_accuracy(confidence, correct, min_confidence)
    scores.update(
        ece=reliability.expected_calibration_error(y, proba, model.classes_),
        brier=reliability.brier_score(y, proba, model.classes_),
        log_loss=float(log_loss(y, proba, labels=model.classes_)),
        min_confidence=min_confidence,
        coverage=coverage,
        answered_accuracy=answered,
        proba=proba,
    )
    if target_accuracy is not None:
        picked = reliability.held_out_threshold(confidence, correct, target_accuracy)
        scores.update(
            threshold=picked["threshold"],
            threshold_coverage=picked["coverage"],
            threshold_accuracy=picked["accuracy"],
        )
    return scores


def plot_reliability(y, proba, classes, path=None, *, min_confidence=None, title=None):
    """Draw the reliability diagram and the accuracy-coverage curve side by side.

    Left: accuracy against mean confidence of the top label in 15 equal-mass bins (on
    the diagonal: calibrated; below it: over-confident). Right: the accuracy of the
    texts answered against the share answered, as the confidence threshold falls;
    ``min_confidence`` is marked on it.

    Parameters
    ----------
    y : array-like
        True labels.
    proba : array-like of shape (n_texts, n_classes), or dict of str to such arrays
        Predicted probabilities; a dict draws one line per entry (e.g. before and after
        calibration), named by its key.
    classes : array-like
        The columns' labels (a model's ``classes_``).
    path : str or path, optional
        Write the figure there (.png, .pdf, .svg).
    min_confidence : float, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    # A bare Figure, not pyplot: no display needed, and a notebook's backend is left alone.
    from matplotlib.figure import Figure

    if path is not None:
        check_plot_path(path)
    lines = proba if isinstance(proba, dict) else {"model": proba}
    figure = Figure(figsize=(9, 4))
    left, right = figure.subplots(1, 2)
    left.plot([0, 1], [0, 1], ls="--", color="grey", label="calibrated")
    for name, values in lines.items():
        mean_confidence, accuracy = reliability.reliability_curve(y, values, classes)
        ece = reliability.expected_calibration_error(y, values, classes)
        (line,) = left.plot(mean_confidence, accuracy, marker="o", label=f"{name} (ECE {ece:.3f})")
        confidence, correct = reliability.top_label(y, values, classes)
        _, coverage, answered = reliability.accuracy_coverage(confidence, correct)
        right.plot(coverage, answered, color=line.get_color(), label=name)
        if min_confidence is not None:
            point = reliability.answered_accuracy(confidence, correct, min_confidence)
            right.plot(
                *point, marker="o", ls="", color=line.get_color(), label=f"  at {min_confidence:g}"
            )
    left.set(
        xlabel="mean confidence (top label)",
        ylabel="accuracy",
        title="reliability (15 equal-mass bins)",
        xlim=(0, 1.02),
        ylim=(0, 1.02),
    )
    left.legend(loc="upper left")
    right.set(
        xlabel="share of texts answered (coverage)",
        ylabel="accuracy on the texts answered",
        title="answering above a confidence threshold",
        xlim=(0, 1.02),
        ylim=(0, 1.02),
    )
    right.legend(loc="lower left")
    if title:
        figure.suptitle(title)
    if path is not None:
        save_figure(figure, path)
    else:
        figure.tight_layout()
    return figure
