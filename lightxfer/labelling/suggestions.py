"""``suggest``: the texts of a pool to label next, ranked, each with its reason."""

import numpy as np
import pandas as pd

from lightxfer.labelling import query_strategies
from lightxfer.labelling.features import is_fitted, pool_features
from lightxfer.shared.validation import to_text_list

STRATEGY_NAMES = ("auto", *query_strategies.STRATEGIES)


def suggest(model, texts, n=20, labelled=None, strategy="auto", random_state=0):
    """Return the ``n`` texts of ``texts`` to label next, ranked, with the reason for each.

    ``strategy="auto"`` picks by the model. An unfitted model, before any label: a cold
    start, one typical text of each of ``n`` k-means regions of the shared layer's
    features (``"representative"``). A fitted model: the texts it is least sure about
    (the smallest margin between its two likeliest classes, "breaking ties"), spread over
    distinct uncertain regions (``"diverse-margin"``), beside texts drawn at random whose
    share of the batch falls from all to a quarter over the first 8 batches
    (``"explore-margin"``): a weak model's uncertain texts can all be of one class.
    Distances use the frozen shared layer's cached features, so a round costs one
    ``predict_proba`` of the pool, most of which is cached after the first round.

    Parameters
    ----------
    model : Pipeline or None
        A lightxfer model, fitted on the labelled texts so far or unfitted (its shared
        layer is then fitted on ``texts``, without labels). ``None``:
        ``make_classifier()`` unfitted.
    texts : sequence of str
        The pool: labelled and unlabelled texts.
    n : int, default=20
        How many texts to suggest.
    labelled : array-like of int or of bool, optional
        Positions in ``texts`` (or a mask over them) of the texts already labelled,
        never suggested again.
    strategy : {"auto", "representative", "explore-margin", "diverse-margin", "margin", \
"random"}, default="auto"
        ``"margin"`` is plain breaking ties (small-text's ``BreakingTies``);
        ``"random"`` the baseline. The margin strategies need a fitted model.
    random_state : int, RandomState or None, default=0
        Seeds k-means and random sampling.

    Returns
    -------
    pandas.DataFrame
        One row per suggestion, first to label first: ``index`` (position in
        ``texts``), ``text`` and ``reason``.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> pool = ["a good film", "a great film", "a bad film", "an awful film", "what a plot"]
    >>> first = suggest(make_classifier(pooling="mean"), pool, n=2)
    >>> list(first.columns)
    ['index', 'text', 'reason']
    """
    texts = to_text_list(texts)
    labelled = _labelled_positions(labelled, len(texts))
    unlabelled = np.setdiff1d(np.arange(len(texts)), labelled)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    if n > len(unlabelled):
        raise ValueError(
            f"cannot suggest {n} texts: the pool has only {len(unlabelled)} unlabelled "
            f"texts (of {len(texts)}); ask for fewer"
        )
    if model is None:
        from lightxfer.classifier import make_classifier

        model = make_classifier()
    fitted = is_fitted(model)
    chooser = _strategy(strategy, fitted, model)
    features = pool_features(model, texts) if chooser.needs_features else None
    probabilities = None
    if chooser.needs_model:
        probabilities = np.zeros((len(texts), len(model.classes_)))
        probabilities[unlabelled] = model.predict_proba([texts[i] for i in unlabelled])
    positions, reasons = chooser.query(features, probabilities, unlabelled, n, random_state)
    return pd.DataFrame(
        {"index": positions, "text": [texts[i] for i in positions], "reason": reasons}
    )


def _strategy(name, fitted, model):
    if name not in STRATEGY_NAMES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGY_NAMES)}; got {name!r}")
    if name == "auto":
        name = "explore-margin" if fitted else "representative"
    cls = query_strategies.STRATEGIES[name]
    if not cls.needs_model:
        return cls()
    if not fitted:
        raise ValueError(
            f"strategy {name!r} needs a fitted model: fit it on the texts labelled so far, "
            "or start with strategy='representative'"
        )
    if len(model.classes_) < 2:
        raise ValueError(
            f"the model knows one class only ({model.classes_.tolist()[0]!r}): label texts "
            "of another class first"
        )
    return cls(classes=list(model.classes_))


def _labelled_positions(labelled, n_texts):
    """Positions of the labelled texts, from positions or a boolean mask; checked."""
    if labelled is None:
        return np.zeros(0, dtype=np.intp)
    labelled = np.asarray(labelled)
    if labelled.dtype == bool:
        if labelled.shape != (n_texts,):
            raise ValueError(
                f"labelled is a mask of {labelled.size} values for {n_texts} texts; "
                "give one per text, or positions"
            )
        return np.flatnonzero(labelled)
    if labelled.size == 0:
        return np.zeros(0, dtype=np.intp)
    if labelled.ndim != 1 or labelled.dtype.kind not in "iu":
        raise TypeError("labelled must be positions (whole numbers) or a boolean mask of texts")
    outside = labelled[(labelled < 0) | (labelled >= n_texts)]
    if len(outside):
        raise ValueError(
            f"labelled position {int(outside[0])} is not in the pool of {n_texts} texts"
        )
    return np.unique(labelled)
