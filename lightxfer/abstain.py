""" "Not sure" as an answer: predictions below a confidence threshold are marked, not guessed.

``model.predict(texts, min_confidence=0.8)`` on a pipeline from
:func:`lightxfer.make_classifier` (an :class:`AbstainingPipeline`), and
:func:`predict_or_abstain` on any classifier with ``predict_proba`` (e.g. a model saved
by an older lightxfer), return the label where the top probability reaches the
threshold and :data:`NOT_SURE` elsewhere. The probabilities are worth thresholding when
they are calibrated: ``make_classifier(calibrate=True)``
(:class:`lightxfer.calibration.CalibratedHead`).
"""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from lightxfer.calibration import METHODS, CalibratedHead
from lightxfer.chosen import choices
from lightxfer.reliability import check_min_confidence
from lightxfer.shared.validation import training_texts

#: The label of a text the model is not sure about (an empty cell in ``lightxfer predict``).
NOT_SURE = None


def predict_or_abstain(model, X, min_confidence):
    """Labels of ``X``, and :data:`NOT_SURE` where the top probability is below ``min_confidence``.

    A pipeline's shared layers transform the texts once for both the labels and the
    probabilities.

    Parameters
    ----------
    model : fitted classifier or Pipeline with predict_proba
    X : iterable of str
    min_confidence : float in (0, 1]

    Returns
    -------
    ndarray of object
        Labels, with ``None`` for the texts the model is not sure about.
    """
    min_confidence = check_min_confidence(min_confidence)
    head = model
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        X, head = model[:-1].transform(X), model[-1]
    if not hasattr(head, "predict_proba"):
        raise TypeError(
            f"min_confidence needs probabilities, and the model's {type(head).__name__} has "
            "no predict_proba: use a probabilistic head such as the default 'logreg'"
        )
    labels = head.predict(X)
    confident = head.predict_proba(X).max(axis=1) >= min_confidence
    return np.where(confident, np.asarray(labels).astype(object), NOT_SURE)


class AbstainingPipeline(Pipeline):
    """A scikit-learn ``Pipeline`` whose ``predict`` may answer "not sure".

    It is a ``Pipeline`` (``clone``, ``GridSearchCV`` and model files treat it as one)
    with two additions:

    - ``predict(X, min_confidence=p)`` returns :data:`NOT_SURE` (``None``) for the texts
      whose top probability is below ``p``;
    - ``fit`` of a pipeline whose head is a :class:`lightxfer.calibration.CalibratedHead`
      and whose shared layer is tuned on the training labels (a step parameter
      ``fine_tune``, e.g. a fine-tuned :class:`lightxfer.SentenceEncoder`) makes the
      held-out predictions of the calibration map with clones of the whole pipeline,
      one per fold (``cv`` of the head, no repeats): the tuned layer separates the
      texts it was tuned on far better than new ones, so the head's own held-out fits
      on its features would make the map over-confident. It costs ``cv`` more fits.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> texts = ["a good film", "a bad film", "great fun", "dull and bad"] * 5
    >>> labels = ["pos", "neg", "pos", "neg"] * 5
    >>> model = make_classifier(C=0.01).fit(texts, labels)
    >>> model.predict(["good fun", "so bad"], min_confidence=0.99).tolist()
    [None, None]
    """

    def predict(self, X, min_confidence=None, **params):
        """Predict labels; with ``min_confidence``, :data:`NOT_SURE` below it.

        Parameters
        ----------
        X : iterable of str
        min_confidence : float in (0, 1], optional
            Answer only where the top (calibrated, if the head is) probability reaches it.
        **params
            As ``Pipeline.predict`` (not with ``min_confidence``).

        Returns
        -------
        ndarray
            Labels; an object array with ``None`` where not sure.
        """
        if min_confidence is None:
            return super().predict(X, **params)
        if params:
            raise TypeError(
                f"min_confidence cannot be combined with other predict parameters ({', '.join(params)})"
            )
        return predict_or_abstain(self, X, min_confidence)

    @property
    def chosen_(self):
        """What ``fit`` chose (fine-tuning, sources, n-gram weight): :func:`lightxfer.chosen.choices`."""
        check_is_fitted(self)
        return choices(self)

    def fit(self, X, y=None, **params):
        """Fit every step, as ``Pipeline.fit`` (see the class for a calibrated, tuned layer)."""
        name, head = self.steps[-1]
        if isinstance(head, CalibratedHead) and y is not None and tunes_on_labels(self):
            params = {**params, f"{name}__held_out": self._held_out_proba(X, np.asarray(y))}
        return super().fit(X, y, **params)

    def _held_out_proba(self, X, y):
        """Held-out probabilities of uncalibrated whole-pipeline clones, one per fold."""
        texts = np.asarray(training_texts(X, y), dtype=object)
        name, head = self.steps[-1]
        classes, counts = np.unique(y, return_counts=True)
        if np.sum(counts >= 2) < 2:
            return None  # the head says why it cannot calibrate
        # A class seen once only falls in one held-out part; the others set the folds.
        n_folds = int(min(head.cv, counts[counts >= 2].min()))
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=head.random_state)
        parts, labels = [], []
        for train, valid in folds.split(texts, y):
            fold = Pipeline([*clone(self).steps[:-1], (name, clone(head._head()))])
            fold.fit(texts[train], y[train])
            proba = np.zeros((len(valid), len(classes)))
            proba[:, np.searchsorted(classes, fold.classes_)] = fold.predict_proba(texts[valid])
            parts.append(proba)
            labels.append(y[valid])
        return np.concatenate(parts), np.concatenate(labels)


def tunes_on_labels(pipeline):
    """Tell whether a step of ``pipeline`` is set to tune itself on the training labels.

    Such a step names it by a parameter ``fine_tune`` that is set (at any depth, e.g.
    ``embedding__shared__fine_tune``).
    """
    return any(
        key.rpartition("__")[2] == "fine_tune" and value not in (None, False)
        for key, value in pipeline.get_params(deep=True).items()
    )


def classifier_pipeline(pipeline, calibrate=False):
    """``pipeline``'s steps as an :class:`AbstainingPipeline`, its head calibrated if asked.

    Parameters
    ----------
    pipeline : Pipeline
        Unfitted, with its head last.
    calibrate : bool or {"temperature", "isotonic", "auto"}, default=False
        ``True`` is the default method of :class:`lightxfer.calibration.CalibratedHead`.

    Returns
    -------
    AbstainingPipeline
    """
    steps = list(pipeline.steps)
    if calibrate is not False:
        if calibrate is not True and calibrate not in METHODS:
            raise ValueError(
                f"calibrate must be True, False or one of {METHODS}, got {calibrate!r}"
            )
        name, head = steps[-1]
        method = {} if calibrate is True else {"method": calibrate}
        steps[-1] = (name, CalibratedHead(head, **method))
    return AbstainingPipeline(steps)
