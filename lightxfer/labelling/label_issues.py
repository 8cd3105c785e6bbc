"""``label_issues``: the labels that look wrong, ranked, by confident learning.

The model's out-of-fold class probabilities (each text scored by a model that never saw
it) go to cleanlab's ``find_label_issues`` (Northcutt et al., JAIR 2021): it estimates,
per pair of classes, how many labels of one are really the other, and flags that many of
the least likely labels, each at its own class's threshold. The caller owns the model;
cleanlab does the statistics. cleanlab is an optional extra (``lightxfer[labels]``).
"""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from lightxfer.exceptions import require
from lightxfer.shared.validation import check_labels, to_text_list


def label_issues(model, texts, labels, *, cv=5, random_state=0):
    """Return the rows whose label looks wrong, most suspect first.

    Parameters
    ----------
    model : estimator or None
        An unfitted lightxfer model (cloned for each fold); ``None``:
        ``make_classifier()``.
    texts : sequence of str
    labels : array-like of shape (len(texts),)
    cv : int, default=5
        Folds of the out-of-fold probabilities (fewer when a class has fewer texts).
    random_state : int, default=0
        Shuffles the folds.

    Returns
    -------
    pandas.DataFrame
        The flagged rows: ``index`` (position in ``texts``), ``text``, ``label``,
        ``predicted`` (the likeliest class out of fold) and ``score`` (cleanlab's
        self-confidence, the probability of the given label: lower is more suspect),
        most suspect first. Empty when no label looks wrong.

    Raises
    ------
    lightxfer.exceptions.MissingExtraError
        cleanlab is not installed.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> texts = ["good", "great", "fine film", "bad", "awful", "poor film"] * 2
    >>> labels = ["pos", "pos", "pos", "neg", "neg", "neg"] * 2
    >>> labels[0] = "neg"  # a wrong label
    >>> issues = label_issues(make_classifier(pooling="mean"), texts, labels, cv=2)
    >>> list(issues.columns)
    ['index', 'text', 'label', 'predicted', 'score']
    """
    require("cleanlab", "labels")
    probabilities, classes, codes = out_of_fold_probabilities(
        model, texts, labels, cv=cv, random_state=random_state
    )
    texts = to_text_list(texts)
    ranked, scores = rank_issues(codes, probabilities)
    return pd.DataFrame(
        {
            "index": ranked,
            "text": [texts[i] for i in ranked],
            "label": classes[codes[ranked]],
            "predicted": classes[probabilities[ranked].argmax(axis=1)],
            "score": scores[ranked].round(4),
        }
    )


def out_of_fold_probabilities(model, texts, labels, *, cv=5, random_state=0):
    """Return ``(probabilities, classes, codes)``: each text scored by a model that never saw it.

    ``codes`` are the labels as column numbers of ``probabilities`` (``classes[codes]``
    gives them back).
    """
    texts = to_text_list(texts)
    labels = check_labels(labels)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label per text")
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"every text has the label {classes.tolist()[0]!r}: finding wrong labels needs at least "
            "2 classes"
        )
    folds = min(cv, int(counts.min()))
    if folds < 2:
        rare = classes.tolist()[counts.argmin()]
        raise ValueError(
            f"class {rare!r} has a single text: out-of-fold probabilities need at least 2 "
            "texts of every class"
        )
    if model is None:
        from lightxfer.classifier import make_classifier

        model = make_classifier()
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    probabilities = cross_val_predict(
        clone(model), texts, codes, cv=splitter, method="predict_proba"
    )
    return probabilities, classes, codes


def rank_issues(codes, probabilities):
    """Return ``(ranked, scores)``: flagged rows most suspect first, every row's score.

    Parameters
    ----------
    codes : ndarray of int
        Labels as column numbers of ``probabilities``.
    probabilities : ndarray of shape (n_texts, n_classes)
        Out-of-fold probabilities.
    """
    filtering = require("cleanlab.filter", "labels")
    ranking = require("cleanlab.rank", "labels")
    ranked = filtering.find_label_issues(
        codes, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1
    )
    scores = ranking.get_label_quality_scores(codes, probabilities, method="self_confidence")
    return np.asarray(ranked, dtype=np.intp), scores
