"""``evaluate_transfer``: did transfer beat training from scratch on the target task?

For each training size and seed, the transferred model, the frozen shared layer alone
and the models trained from scratch (the recommended ``make_classifier()``, TF-IDF +
logistic regression and, when asked, ``make_classifier(encoder=...)``) fit the same
sample of target texts and are scored on the same test texts. Each comparison is a
paired difference of scores.

Without a test set, every labelled text is a test text: repeated stratified k-fold
cross-validation, the training sample drawn from the training folds, and the paired
differences of the ``repeats x folds`` splits judged by the corrected repeated k-fold
test of :mod:`lightxfer.paired_test` (the folds' training sets overlap, which a plain
t-test ignores). With a test set, the uncertainty adds the spread over seeds (other
training samples) to that of a finite test set. Either way the verdict says how large a
difference these data could have shown, and ``table.attrs["recommendation"]`` names the
model to use.

The verdict's score is accuracy on a balanced test set. On an imbalanced one (the
largest class holds at least :data:`IMBALANCE` more of the texts than an even share)
it is balanced accuracy, the mean of the per-class recalls, which a model predicting
one class for every text cannot raise above ``1 / n_classes``; and a model from scratch
that predicts one class for nearly every test text (:data:`ONE_CLASS_SHARE`) is shown
but never the verdict's yardstick.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from lightxfer.classifier import make_classifier, make_tfidf_baseline
from lightxfer.paired_test import corrected_test
from lightxfer.progress import progress_bar
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.fine_tuning import ContrastiveFineTuning
from lightxfer.shared.validation import check_labels, to_text_list
from lightxfer.transferring import (
    is_all_sources,
    resolve_source,
    reused_layers,
    split_source,
    transfer,
)

TRANSFER = "transfer"
EMBEDDING = "frozen shared layer"
RECOMMENDED = "recommended from scratch"
TFIDF = "TF-IDF from scratch"
ENCODER = "encoder from scratch"
FINE_TUNED = "fine-tuned encoder from scratch"
#: The models trained on the target texts alone; the best one is the verdict's yardstick.
SCRATCH = (RECOMMENDED, TFIDF, ENCODER, FINE_TUNED)
METRICS = {
    "accuracy": accuracy_score,
    "macro_f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0),
    "balanced_accuracy": balanced_accuracy_score,
}
#: A test set is imbalanced when its largest class exceeds an even share (``1 / n_classes``)
#: by this much; the verdict then compares balanced accuracy instead of accuracy.
IMBALANCE = 0.1
#: A model that predicts one class for at least this share of the test texts (mean over
#: seeds) is shown but never chosen as the best model from scratch.
ONE_CLASS_SHARE = 0.95
#: Fewest test texts for a verdict: below, one text moves accuracy by more than ten
#: points, too coarse for a standard error, and the verdict says "too little data to tell".
#: Above, the paired test itself says how large a difference the data could show.
MIN_TEST_SIZE = 10
#: Folds of the cross-validation without a test set: three times the fits of one
#: held-out split, with each fit on two thirds of the texts.
N_FOLDS = 3
#: Smallest accuracy difference (one point) that counts as one model beating another.
MIN_GAIN = 0.01
BETTER, WORSE, UNCLEAR, TOO_LITTLE, ONE_SAMPLE = (
    "transfer better",
    "transfer worse",
    "no clear difference",
    "too little data to tell",
    "one seed cannot tell",
)


def evaluate_transfer(
    source_model,
    X,
    y,
    *,
    train_sizes=(8, 32, 128, "all"),
    n_seeds=5,
    X_test=None,
    y_test=None,
    head="logreg",
    freeze="auto",
    fine_tune=False,
    encoder=None,
    fine_tune_encoder=False,
    n_folds=N_FOLDS,
    test_size=None,
    plot=None,
    title=None,
    progress=None,
    **head_params,
):
    """Compare transfer with training from scratch on a target task, over sizes and seeds.

    For each training size (examples per class) and seed, one random training sample
    fits (a) the transferred model, ``transfer(source_model, head=head, freeze=freeze,
    fine_tune=fine_tune)``; (b) the same head on the source's frozen shared layer alone,
    unless that is the same pipeline as (a); (c) the recommended ``make_classifier()``
    and (d) TF-IDF + logistic regression, both from scratch, and (e) with ``encoder``,
    ``make_classifier(encoder=encoder)`` from scratch. All are scored on the same test
    texts, and the best model from scratch at each size is the verdict's yardstick.

    Without ``X_test``, every labelled text is tested: each seed is one repeat of
    stratified ``n_folds``-fold cross-validation, the training sample is drawn from the
    training folds, and every text is predicted once per repeat. The verdict is then
    the corrected repeated k-fold test of :func:`lightxfer.paired_test.corrected_test`
    on the paired per-fold differences. Features are cached per text, so a shared layer
    embeds each text once for every fold, size and seed.

    Parameters
    ----------
    source_model : fitted Pipeline or str
        See :func:`lightxfer.transfer`; a name such as ``"sst2"`` is a shipped source,
        ``"all"`` every shipped source at once (the frozen encoder alone is then the
        shared-layer row).
    X, y : sequence of str, sequence
        Target texts and labels: the training pool, and without ``X_test`` the test
        texts too (cross-validated).
    train_sizes : sequence of int or "all", default=(8, 32, 128, "all")
        Examples per class (a class with fewer uses all it has); ``"all"`` uses the
        whole training pool. Sizes that give the same training texts for every seed are
        merged into one row, labelled e.g. ``"128/all"``.
    n_seeds : int, default=5
        Random training samples per size (without ``X_test``: repeats of the
        cross-validation). With a test set, a size whose sample is the whole pool for
        every seed is fitted once: another seed would train on the same texts.
    X_test, y_test : sequence, optional
        A given test set.
    head, freeze, fine_tune, **head_params
        The transferred model, as in :func:`lightxfer.transfer`.
    encoder : str or path, optional
        A sentence-transformers model (e.g. ``"all-MiniLM-L6-v2"``): also train
        ``make_classifier(encoder=encoder)`` from scratch (method ``"encoder from
        scratch"``), so the verdict is against the strongest model the user could
        train without a source. Each text is encoded once for all sizes and seeds.
    fine_tune_encoder : bool, default=False
        With ``encoder``, also train ``make_classifier(encoder=encoder, fine_tune=...)``
        from scratch (method ``"fine-tuned encoder from scratch"``): the encoder
        fine-tuned contrastively on each training sample, then a logistic regression.
        Slow: every fit trains the encoder (about a minute on 2 cores) and encodes the
        test texts anew.
    n_folds : int, default=3
        Folds of the cross-validation without ``X_test`` (at most the smallest class's
        count).
    test_size : float, optional
        Instead of cross-validating, hold out this stratified share once (the same for
        every size and seed) and draw the training samples from the rest.
    plot : str or path, optional
        Also write the learning curves here (PNG, PDF, SVG...); checked before any fit.
    title : str, optional
        Title of the plot; default names the source model and the target.
    progress : bool, optional
        Show a progress bar (default: on a terminal).

    Returns
    -------
    pandas.DataFrame
        One row per size and method: ``per_class``, ``method``, ``n_train`` (training
        texts per fit, mean) and ``n_test`` (texts tested), ``n_seeds``, ``n_folds``
        (0 for a held-out test set), the mean and std over seeds of ``accuracy``,
        ``macro_f1`` and ``balanced_accuracy``, ``majority`` (the share of the tested
        texts' largest class) and ``one_class`` (the model predicts one class for nearly
        every test text). Each other method's row also holds ``transfer_gain``
        (transfer's score minus this method's, paired by seed, mean; the score is
        ``table.attrs["metric"]``: accuracy, or balanced accuracy on imbalanced labels),
        ``transfer_gain_std`` (its std over seeds), ``transfer_gain_se`` (its standard
        error: the corrected repeated k-fold test's, or with a test set seeds and test
        texts; with one sampled seed, the test texts' alone), ``detectable`` (the
        smallest gain the test could call real), ``verdict`` ("transfer better",
        "transfer worse", "no clear difference" when the gain is within the test's
        uncertainty or under a point, "one seed cannot tell" when a single random sample
        of a held-out split was drawn, or "too little data to tell" below
        ``MIN_TEST_SIZE`` test texts) and ``best_scratch`` (the best from-scratch model
        at this size that does not predict one class: the verdict's yardstick).
        ``table.attrs`` holds ``"verdict"`` (one line: does transfer beat training from
        scratch, at which sizes, and the smallest difference these data can show),
        ``"recommendation"`` (one line: which model to use, by the same test),
        ``"tested"`` (how many texts were tested, and how), ``"summary"`` (the verdict,
        then one sentence per size), ``"metric"``, ``"reused"`` (which source layers
        were reused), ``"title"``, ``"models"`` (how to build each method's model) and
        ``"scores"`` (every seed's scores, as records).
    """
    if plot is not None:
        check_plot_path(plot)
    source_name = source_model if isinstance(source_model, str) else None
    source_model = resolve_source(source_model)  # a shipped source's name, e.g. "sst2"
    transferred = transfer(
        source_model, head=head, freeze=freeze, fine_tune=fine_tune, **head_params
    )
    X, y = np.asarray(to_text_list(X), dtype=object), check_labels(y)
    if X_test is None and test_size is not None:
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=0
        )
    cross_validated = X_test is None
    if cross_validated:
        X_eval, y_eval = X, y
        splits = cross_validation_splits(y, n_folds, n_seeds)
    else:
        X_test, y_test = np.asarray(to_text_list(X_test), dtype=object), check_labels(y_test)
        X_eval, y_eval = X_test, y_test
        splits = [(seed, np.arange(len(y)), np.arange(len(y_test))) for seed in range(n_seeds)]
    models = {TRANSFER: transferred}
    shared_alone = transfer(source_model, head=head, freeze="embedding", **head_params)
    if _step_types(shared_alone) != _step_types(transferred):
        models[EMBEDDING] = shared_alone  # else the same pipeline: nothing to compare
    models |= {RECOMMENDED: make_classifier(), TFIDF: make_tfidf_baseline()}
    if encoder is not None:
        SentenceEncoder(encoder).fit(X[:1])  # a bad name fails now, not after other fits
        models[ENCODER] = make_classifier(encoder=encoder)
        if fine_tune_encoder:
            tuning = ContrastiveFineTuning()  # an estimator: _seeded sets its random_state
            models[FINE_TUNED] = make_classifier(encoder=encoder, fine_tune=tuning)
    elif fine_tune_encoder:
        raise ValueError("fine_tune_encoder fine-tunes the encoder: pass encoder= too")
    steps = []
    for label, samples in training_samples(y, train_sizes, n_seeds, splits):
        units = [(seed, train, test, pool) for (seed, pool, test), train in zip(splits, samples)]
        if not cross_validated and all(len(train) == len(y) for _, train, _, _ in units):
            units = units[:1]  # every seed would train on all the texts: one fit says it all
        steps += [(label, *unit) for unit in units]
    metric = verdict_metric(y_eval)[0]
    outcomes = {}
    bar = progress_bar(progress, iterable=steps, desc="transfer", unit=" samples")
    for label, seed, train, test, _ in bar:
        bar.set_description(f"transfer, {label} per class")
        for method, model in models.items():
            predicted = _seeded(clone(model), seed).fit(X[train], y[train]).predict(X_eval[test])
            key = (label, method, seed)
            if key not in outcomes:
                outcomes[key] = {"predicted": np.empty(len(y_eval), dtype=object), "folds": []}
            outcomes[key]["predicted"][test] = predicted
            outcomes[key]["folds"].append(METRICS[metric](y_eval[test], predicted))
    rows = _score_rows(outcomes, steps, y_eval, metric, cross_validated)
    table = summarize(pd.DataFrame(rows), classes=_as_text(_class_index(y_eval)))
    table.attrs["reused"] = reused_layers(transferred)
    n_texts = len(y) + (0 if cross_validated else len(y_test))
    table.attrs["title"] = title or default_title(source_model, n_texts)
    table.attrs["models"] = model_names(source_name, encoder, head, freeze, fine_tune)
    table.attrs["recommendation"] = recommend([table])
    if plot is not None:
        plot_transfer(table, plot)
    return table


def _score_rows(outcomes, steps, y_eval, metric, cross_validated):
    """One record per size, method and seed: scores of the pooled predictions, per-fold scores."""
    rows = []
    for (label, method, seed), outcome in outcomes.items():
        units = [unit[2:] for unit in steps if unit[:2] == (label, seed)]
        n_train = np.mean([len(train) for train, _, _ in units])
        predicted = np.asarray(outcome["predicted"].tolist())
        correct = predicted == y_eval
        rows.append(
            {
                "method": method,
                "per_class": label,
                "seed": seed,
                "n_train": n_train,
                "n_test": len(y_eval),
                "n_folds": len(units) if cross_validated else 0,
                "sampled": any(len(train) < len(pool) for train, _, pool in units),
                "paired_se": _paired_se(
                    outcomes[(label, TRANSFER, seed)]["predicted"] == y_eval,
                    correct,
                    y_eval if metric == "balanced_accuracy" else None,
                )
                if method != TRANSFER
                else 0.0,
                "correct": _as_text(correct),
                "fold_scores": outcome["folds"],
                # Folds overlap through their pools; a smaller sample only overlaps less.
                "test_train": np.mean([len(test) / len(pool) for _, test, pool in units]),
                "metric": metric,
                "majority": verdict_metric(y_eval)[1],
                "top_share": _top_share(predicted),
            }
            | {name: score(y_eval, predicted) for name, score in METRICS.items()}
        )
    return rows


def cross_validation_splits(y, n_folds, n_seeds):
    """``[(seed, training pool, test fold), ...]``: ``n_seeds`` repeats of stratified k-fold.

    ``n_folds`` is lowered to the smallest class's count, so every fold holds every class.

    Examples
    --------
    >>> splits = cross_validation_splits(["a", "b"] * 6, n_folds=3, n_seeds=2)
    >>> [(seed, len(pool), len(test)) for seed, pool, test in splits][:3]
    [(0, 8, 4), (0, 8, 4), (0, 8, 4)]
    """
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    if counts.min() < 2:
        raise ValueError(
            "cross-validation needs at least 2 texts of every class (one to train on, one "
            f"to test); a class has {counts.min()}: give a test set or more labels"
        )
    n_folds = min(n_folds, int(counts.min()))
    splits = []
    for seed in range(n_seeds):
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        splits += [(seed, pool, test) for pool, test in folds.split(np.zeros(len(y)), y)]
    return splits


def training_samples(y, train_sizes, n_seeds, splits=None):
    """``[(label, [indices per split]), ...]``, merging sizes that pick the same texts.

    ``splits`` are ``(seed, pool, test)`` triples (see :func:`cross_validation_splits`);
    each sample is drawn from its split's pool with its seed. By default one split per
    seed whose pool is every text.

    Examples
    --------
    >>> y = ["a", "b"] * 4
    >>> [(label, len(samples[0])) for label, samples in training_samples(y, [2, 4, "all"], 3)]
    [('2', 4), ('4/all', 8)]
    """
    y = np.asarray(y)
    if splits is None:
        splits = [(seed, np.arange(len(y)), None) for seed in range(n_seeds)]
    groups = []
    for size in dict.fromkeys(train_sizes):
        samples = [pool[sample_per_class(y[pool], size, seed)] for seed, pool, _ in splits]
        if groups and all(np.array_equal(a, b) for a, b in zip(groups[-1][1], samples)):
            groups[-1] = (f"{groups[-1][0]}/{size}", samples)
        else:
            groups.append((str(size), samples))
    return groups


def sample_per_class(y, size, seed):
    """Return indices of ``size`` random examples of each class (all of a smaller class).

    Examples
    --------
    >>> sample_per_class(["a", "b", "a", "a", "b"], 2, seed=0).size
    4
    >>> sample_per_class(["a", "b", "a"], "all", seed=0).tolist()
    [0, 1, 2]
    """
    y = np.asarray(y)
    if size == "all":
        return np.arange(len(y))
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"train sizes must be positive integers or 'all', got {size!r}")
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == label))[:size] for label in np.unique(y)]
    return np.sort(np.concatenate(picked))


def verdict_metric(y_test):
    """``(metric, majority)``: the verdict's score for ``y_test`` and its largest class's share.

    Examples
    --------
    >>> verdict_metric(["a", "b"] * 5)
    ('accuracy', 0.5)
    >>> verdict_metric(["a"] * 7 + ["b"] * 3)
    ('balanced_accuracy', 0.7)
    """
    counts = np.unique(np.asarray(y_test), return_counts=True)[1]
    majority = float(counts.max() / counts.sum())
    imbalanced = majority - 1 / len(counts) >= IMBALANCE - 1e-9
    return ("balanced_accuracy" if imbalanced else "accuracy"), majority


def _top_share(predicted):
    """Share of the predictions that are the most predicted class."""
    return float(np.unique(predicted, return_counts=True)[1].max() / len(predicted))


def _paired_se(a, b, classes=None):
    """Standard error, over test texts, of the score of ``a`` minus that of ``b``.

    ``a`` and ``b`` say which test texts each model got right; the score is accuracy,
    or with ``classes`` (the true labels) balanced accuracy, an equally weighted mean of
    the classes' accuracies.
    """
    diff = a.astype(float) - b.astype(float)
    if not len(diff):
        return np.inf
    if classes is None:
        return float(diff.std() / np.sqrt(len(diff)))
    groups = [diff[np.asarray(classes) == c] for c in np.unique(classes)]
    variance = sum(g.var() / len(g) for g in groups) / len(groups) ** 2
    return float(np.sqrt(variance))


def summarize(scores, classes=None):
    """Aggregate per-seed ``scores`` into the table :func:`evaluate_transfer` returns.

    ``scores`` has one row per method, size and seed, with the columns of
    ``table.attrs["scores"]``: ``method``, ``per_class``, ``seed``, ``n_train``,
    ``n_test``, ``sampled`` (the training set is a sample of the pool),
    ``paired_se`` (see :func:`_paired_se`), ``accuracy`` and ``macro_f1``, and where
    known ``balanced_accuracy``, ``metric`` (the verdict's score, see
    :func:`verdict_metric`), ``majority``, ``top_share`` (of the predictions, the
    most predicted class's share), ``n_folds`` (0 for a held-out test set),
    ``fold_scores`` (the verdict's score on each test fold), ``test_train`` (test
    texts per fold over training texts per fit) and ``correct`` (which tested texts
    the model got right, as ``"0"``/``"1"`` characters). Scores without them are
    judged on accuracy, on a held-out test set. ``classes`` (one character per tested
    text, its class) lets balanced accuracy be compared text by text.
    """
    scores = scores.copy()
    defaults = {"metric": "accuracy", "majority": np.nan, "top_share": 0.0, "n_folds": 0}
    defaults |= {"balanced_accuracy": np.nan, "correct": None, "test_train": np.nan}
    for column, value in defaults.items():
        if column not in scores:
            scores[column] = value
    metric = scores["metric"].iloc[0]
    grouped = scores.groupby(["per_class", "method"], sort=False)
    table = grouped.agg(
        n_train=("n_train", "mean"),
        n_test=("n_test", "first"),
        n_seeds=("seed", "nunique"),
        n_folds=("n_folds", "first"),
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", "std"),
        macro_f1_mean=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        balanced_accuracy_mean=("balanced_accuracy", "mean"),
        balanced_accuracy_std=("balanced_accuracy", "std"),
        majority=("majority", "first"),
        top_share=("top_share", "mean"),
    ).reset_index()
    table["n_train"] = table["n_train"].round().astype(int)
    table["one_class"] = table["top_share"] >= ONE_CLASS_SHARE
    table = table.drop(columns="top_share")
    compared = table.apply(
        lambda row: _compare(scores, row, metric, classes), axis=1, result_type="expand"
    )
    columns = ["transfer_gain", "transfer_gain_std", "transfer_gain_se", "detectable", "verdict"]
    table[columns] = compared
    is_scratch = table["method"].isin(SCRATCH)
    # A model predicting one class is never the yardstick, unless every one does.
    one_class = is_scratch & table["one_class"]
    every_one = one_class.groupby(table["per_class"]).transform("sum") == is_scratch.groupby(
        table["per_class"]
    ).transform("sum")
    usable = is_scratch & (~table["one_class"] | every_one)
    best = table[usable].groupby("per_class", sort=False)[f"{metric}_mean"].idxmax()
    table["best_scratch"] = table.index.isin(best.to_numpy())
    # Plain records, not a DataFrame: pandas compares attrs when concatenating tables.
    table.attrs["scores"] = scores.to_dict(orient="records")
    table.attrs["classes"] = classes
    table.attrs["metric"] = metric
    table.attrs["tested"] = how_tested(table)
    table.attrs["verdict"] = headline(table)
    fitted_once = [
        label
        for label, rows in scores.groupby("per_class", sort=False)
        if rows["seed"].nunique() == 1 and not rows["sampled"].any()
    ]
    table.attrs["summary"] = (
        [table.attrs["verdict"]]
        + [_size_sentence(rows, metric) for _, rows in table.groupby("per_class", sort=False)]
        + _caveats(table, fitted_once if scores["seed"].nunique() > 1 else [])
    )
    return table


def how_tested(table):
    """How many texts were tested, and how: ``"36 texts, 3-fold cross-validation x 5 ..."``."""
    n_test, n_folds = int(table["n_test"].iloc[0]), int(table["n_folds"].max())
    if n_folds:
        repeats = int(table["n_seeds"].max())
        return (
            f"{n_test} texts, each predicted once in each of {repeats} "
            f"repeat{'s' if repeats > 1 else ''} of {n_folds}-fold cross-validation"
        )
    return f"{n_test} held-out test texts"


def _caveats(table, fitted_once=()):
    """Sentences on what the table cannot show: imbalance, one-class models, one seed."""
    lines = []
    if table.attrs["metric"] == "balanced_accuracy":
        majority = table["majority"].iloc[0]
        lines.append(
            f"The tested labels are imbalanced: the largest class holds {majority:.0%} of the "
            "texts, the accuracy of predicting that class for every text. The verdict "
            "compares balanced accuracy (the mean of the per-class recalls), which such a "
            "model cannot raise above chance."
        )
    one_class = table[table["one_class"] & table["method"].isin(SCRATCH)]
    for method, rows in one_class.groupby("method", sort=False):
        lines.append(
            f"{method} predicts one class for nearly every test text at "
            f"{_sizes(list(rows['per_class']))}: shown, never the yardstick."
        )
    if fitted_once:
        lines.append(
            f"At {_sizes(fitted_once)} every seed would train on the same texts, all of "
            "them: each model is fitted once, so there is no spread over seeds to show "
            "(the ± of the gain is the test set's alone)."
        )
    if (table["verdict"] == ONE_SAMPLE).any():
        lines.append(
            "One seed draws one training sample per size: the ± covers the test set's "
            "noise only, not how much another sample would change the scores, so no "
            "verdict is given there; use 3 or more seeds."
        )
    return lines


def _compare(scores, row, metric="accuracy", classes=None):
    """``(gain, std over seeds, standard error, detectable, verdict)`` of transfer vs ``row``."""
    if row.method == TRANSFER:
        return np.nan, np.nan, np.nan, np.nan, ""
    at_size = scores[scores["per_class"] == row.per_class]
    gain, spread, se, detectable = paired_difference(at_size, TRANSFER, row.method, metric, classes)
    mine = at_size[at_size["method"] == row.method]
    # One sample of many possible ones says nothing about the others: its standard
    # error is the test set's alone, and it gets no verdict.
    one_sample = not row.n_folds and len(mine) == 1 and mine["sampled"].any()
    if row.n_test < MIN_TEST_SIZE:
        return gain, spread, se, detectable, TOO_LITTLE
    if one_sample:
        return gain, spread, se, detectable, ONE_SAMPLE
    if abs(gain) <= max(detectable, MIN_GAIN):
        return gain, spread, se, detectable, UNCLEAR
    return gain, spread, se, detectable, BETTER if gain > 0 else WORSE


def paired_difference(at_size, a, b, metric="accuracy", classes=None):
    """``(gain, std over seeds, standard error, detectable)`` of method ``a``'s score minus ``b``'s.

    ``at_size`` holds the scores of one training size (see :func:`summarize`). Cross-
    validated scores are judged by the corrected repeated k-fold test
    (:func:`lightxfer.paired_test.corrected_test`) on the per-fold differences. On a
    held-out test set, the standard error adds the spread over seeds to the test
    texts' own noise, and a gain beyond two standard errors is detectable; the seeds
    share one test set, so its noise does not average out over them.
    """
    score = at_size.pivot(index="seed", columns="method", values=metric)
    diff = (score[a] - score[b]).to_numpy()
    gain = float(diff.mean())
    spread = float(diff.std(ddof=1)) if len(diff) > 1 else np.nan
    mine, theirs = (at_size[at_size["method"] == m].set_index("seed") for m in (a, b))
    if theirs["n_folds"].iloc[0]:
        differences = np.concatenate(
            [
                np.subtract(mine.at[s, "fold_scores"], theirs.at[s, "fold_scores"])
                for s in score.index
            ]
        )
        se, detectable = corrected_test(differences, theirs["test_train"].mean())
        return gain, spread, se, detectable
    seeds_se = spread / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    if isinstance(theirs["correct"].iloc[0], str) and isinstance(mine["correct"].iloc[0], str):
        groups = None if metric == "accuracy" or classes is None else _from_text(classes)
        test_se = np.mean(
            [
                _paired_se(
                    _from_text(mine.at[s, "correct"]), _from_text(theirs.at[s, "correct"]), groups
                )
                for s in score.index
            ]
        )
    elif a == TRANSFER:  # scores that only know each model's standard error against transfer
        test_se = theirs["paired_se"].mean()
    else:
        test_se = float(np.hypot(mine["paired_se"].mean(), theirs["paired_se"].mean()))
    se = float(np.hypot(seeds_se, test_se))
    return gain, spread, se, 2 * se


def _as_text(values):
    """Small integers (which texts a model got right, their classes) as one compact string.

    A string, unlike a list, is not copied with the table's ``attrs``.
    """
    return "".join(chr(48 + int(v)) for v in values)


def _from_text(text):
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) - 48


def _class_index(y):
    return np.unique(y, return_inverse=True)[1]


def headline(table):
    """One plain line: at which sizes transfer beats training from scratch, or not.

    It ends with the smallest difference these data could have shown.
    """
    best = table[table["best_scratch"]]
    verdicts = dict(zip(best["per_class"], best["verdict"]))
    if not verdicts:
        return ""
    if set(verdicts.values()) == {TOO_LITTLE}:
        n_test = int(best["n_test"].iloc[0])
        return (
            f"Too little data to tell whether transfer beats training from scratch: "
            f"{n_test} test texts, at least {MIN_TEST_SIZE} needed."
        )
    sizes = {v: [s for s, verdict in verdicts.items() if verdict == v] for v in verdicts.values()}
    labels = list(verdicts)
    if BETTER not in sizes and WORSE not in sizes:
        if ONE_SAMPLE in sizes:
            return (
                "One seed cannot tell whether transfer beats training from scratch: one "
                "training sample per size; use 3 or more seeds."
            )
        return (
            "No clear difference between transfer and training from scratch at any size."
            + _detectable(best)
        )
    parts = []
    if BETTER in sizes:
        better = sizes[BETTER]
        part = f"transfer beats training from scratch at {_sizes(better)}"
        if better == labels[: len(better)] and len(better) < len(labels):
            part += ", not beyond"
        parts.append(part)
    if WORSE in sizes:
        parts.append(f"training from scratch beats transfer at {_sizes(sizes[WORSE])}")
    if UNCLEAR in sizes:
        parts.append(f"no clear difference at {_sizes(sizes[UNCLEAR])}")
    if ONE_SAMPLE in sizes:
        parts.append(f"one seed cannot tell at {_sizes(sizes[ONE_SAMPLE])}")
    line = "; ".join(parts)
    return line[0].upper() + line[1:] + "." + _detectable(best)


def _detectable(best):
    """`` With 36 texts tested, differences under about 12 points cannot be told apart.``

    The smallest detectable difference at the largest training size, and the largest
    one at the other sizes when it is larger.
    """
    judged = best[best["verdict"].isin([BETTER, WORSE, UNCLEAR])]
    points = judged["detectable"].to_numpy(dtype=float) * 100
    if not len(points) or not np.isfinite(points[-1]):
        return ""
    line = f" With {int(best['n_test'].iloc[0])} texts tested, differences under about "
    line += f"{points[-1]:.0f} point{'' if round(points[-1]) == 1 else 's'}"
    worst = np.argmax(np.where(np.isfinite(points), points, -1))
    if points[worst] - points[-1] >= 1.5:
        line += f" ({points[worst]:.0f} at {_size(judged['per_class'].iloc[worst])})"
    return line + " cannot be told apart."


def recommend(tables):
    """One line: which model to use for these data, by the verdict's paired test.

    Every model of every table is a candidate at the largest training size, except one
    that predicts one class for nearly every text; the tables must come from
    :func:`evaluate_transfer` on the same target, sizes and seeds (so every model saw
    the same folds and training samples), e.g. one per source. The best mean score is
    recommended; the line says by how much it beats the nearest model it beats clearly,
    and which cannot be told apart from it.

    Parameters
    ----------
    tables : sequence of pandas.DataFrame

    Returns
    -------
    str
    """
    first = tables[0]
    metric, classes = first.attrs["metric"], first.attrs.get("classes")
    largest = first.groupby("per_class", sort=False)["n_train"].max().idxmax()
    frames, seen = [], set()
    for table in tables:
        names = table.attrs.get("models", {})
        here = table[table["per_class"] == largest]
        usable = here.loc[~here["one_class"] | here["method"].eq(TRANSFER), "method"]
        scores = pd.DataFrame(table.attrs["scores"])
        for method in usable:
            name = names.get(method, method)
            if name in seen or (method != TRANSFER and method in seen):
                continue  # the same model, fitted on the same samples, in another table
            seen |= {name, method}
            rows = scores[(scores["per_class"] == largest) & (scores["method"] == method)]
            frames.append(rows.assign(method=name))
    at_size = pd.concat(frames)
    means = at_size.groupby("method", sort=False)[metric].mean()
    best = means.idxmax()
    beaten, tied = [], []
    for name in means.index.drop(best):
        gain, _, se, detectable = paired_difference(at_size, best, name, metric, classes)
        (beaten if gain > max(detectable, MIN_GAIN) else tied).append((gain, se, name))
    n_test, n_folds = int(at_size["n_test"].iloc[0]), int(at_size["n_folds"].max())
    where = f"your {n_test} texts" if n_folds else f"your {n_test} test texts"
    line = f"Use {best}: {means[best] * 100:.1f}% {metric.replace('_', ' ')} on {where}"
    if beaten:
        gain, se, name = min(beaten)
        line += f", {gain * 100:.1f} ± {se * 100:.1f} points above {name}"
    if tied:
        others = _join([name for _, _, name in tied])
        line += f"; {others} cannot be told apart from it"
    return line + "."


def _sizes(labels):
    """``["8", "32", "all"]`` -> ``"8 and 32 per class and all training texts"``."""
    numbers = [label for label in labels if label.isdigit()]
    words = [f"{_join(numbers)} per class"] if numbers else []
    words += [_size(label) for label in labels if not label.isdigit()]
    return _join(words)


def _size(label):
    if label == "all":
        return "all training texts"
    if label.endswith("/all"):
        return f"{label.removesuffix('/all')} per class (= all training texts)"
    return f"{label} per class"


def _join(words):
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _size_sentence(rows, metric="accuracy"):
    """One size: transfer vs the best from-scratch model, and vs the frozen shared layer."""
    first = rows.iloc[0]
    mine = rows[rows["method"] == TRANSFER].iloc[0]
    score = f"{metric}_mean"
    text = (
        f"{_size(first.per_class)}, {first.n_train} training and {first.n_test} test texts: "
        f"transfer {mine[score] * 100:.1f}%"
        + ("" if metric == "accuracy" else " balanced accuracy")
    )
    for _, row in rows[rows["best_scratch"] | (rows["method"] == EMBEDDING)].iterrows():
        text += f"; {row.method} {row[score] * 100:.1f}%, {_points(row)}: {row.verdict}"
    return text + "."


def _points(row):
    return f"{row.transfer_gain * 100:+.1f} ± {row.transfer_gain_se * 100:.1f} points"


def model_names(source=None, encoder=None, head="logreg", freeze="auto", fine_tune=False):
    """How to build each method's model in Python, e.g. ``{"transfer": "transfer('sst2')"}``.

    Examples
    --------
    >>> model_names("sst2", freeze="embedding")["transfer"]
    "transfer('sst2', freeze='embedding')"
    """
    options = {"head": head, "freeze": freeze, "fine_tune": fine_tune}
    defaults = {"head": "logreg", "freeze": "auto", "fine_tune": False}
    shown = [f"{k}={v!r}" for k, v in options.items() if v != defaults[k]]
    source = "source" if source is None else repr(source)
    alone = [*(f"head={head!r}" for _ in [1] if head != "logreg"), "freeze='embedding'"]
    return {
        TRANSFER: f"transfer({', '.join([source, *shown])})",
        EMBEDDING: f"transfer({', '.join([source, *alone])})",
        RECOMMENDED: "make_classifier()",
        TFIDF: "make_tfidf_baseline() (TF-IDF)",
        ENCODER: f"make_classifier(encoder={encoder!r})",
        FINE_TUNED: f"make_classifier(encoder={encoder!r}, fine_tune=True)",
    }


def _step_types(pipeline):
    return [(name, type(step)) for name, step in pipeline.steps]


def default_title(source_model, n_target):
    """``"transfer: EmbeddingVectorizer + MLPClassifier source -> target (N texts)"``."""
    if is_all_sources(source_model):
        return f"transfer: every shipped source → target ({n_target} texts)"
    prefix, classifier = split_source(source_model)
    names = [type(step).__name__ for _, step in prefix.steps] + [type(classifier).__name__]
    return f"transfer: {' + '.join(names)} source → target ({n_target} texts)"


def format_table(table):
    """Return ``table`` as a markdown table with percentages (means ± std over seeds).

    On an imbalanced test set the accuracy header names the majority class's share and
    a balanced-accuracy column follows macro-F1; a model that predicts one class is
    marked "(predicts one class)"; the verdict's yardstick is in bold. A line below the
    table says how many texts were tested, and how.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`evaluate_transfer`.

    Returns
    -------
    str
    """
    balanced = table.attrs.get("metric") == "balanced_accuracy"
    accuracy = "accuracy"
    if balanced:
        accuracy = f"accuracy (majority class: {table['majority'].iloc[0]:.0%})"
    lines = [
        f"| per class | train | test | method | {accuracy} | macro-F1 | "
        + ("balanced accuracy | " if balanced else "")
        + "transfer gain ± SE | verdict |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if balanced else ""),
    ]
    for row in table.itertuples():
        gain = "" if pd.isna(row.transfer_gain) else _points(row).removesuffix(" points")
        method = f"**{row.method}**" if row.best_scratch else row.method
        if getattr(row, "one_class", False):
            method += " (predicts one class)"
        balanced_cell = (
            f"{_pm(row.balanced_accuracy_mean, row.balanced_accuracy_std)} | " if balanced else ""
        )
        lines.append(
            f"| {row.per_class} | {row.n_train} | {row.n_test} | {method} | "
            f"{_pm(row.accuracy_mean, row.accuracy_std)} | "
            f"{_pm(row.macro_f1_mean, row.macro_f1_std)} | {balanced_cell}{gain} | {row.verdict} |"
        )
    if "tested" in table.attrs:
        lines += ["", f"Tested: {table.attrs['tested']}."]
    return "\n".join(lines)


def _pm(mean, std):
    # One seed has no spread: the mean alone, rather than a made-up "± 0".
    return f"{mean * 100:.1f}" if pd.isna(std) else f"{mean * 100:.1f} ± {std * 100:.1f}"


#: Line style, marker and colour of each method: no line hides another, and a method
#: looks the same in every panel.
STYLES = {
    TRANSFER: {"marker": "o", "linestyle": "-", "linewidth": 2.5, "color": "C0"},
    EMBEDDING: {"marker": "s", "linestyle": "--", "color": "C1"},
    RECOMMENDED: {"marker": "^", "linestyle": "-.", "color": "C2"},
    TFIDF: {"marker": "v", "linestyle": ":", "color": "C3"},
    ENCODER: {"marker": "D", "linestyle": (0, (5, 1, 1, 1)), "color": "C4"},
    FINE_TUNED: {"marker": "P", "linestyle": (0, (3, 1, 1, 1, 1, 1)), "color": "C5"},
}


def plot_transfer(table, path, *, title=None, ax=None):
    """Draw the verdict's score against training size for each method.

    Methods are drawn with their own marker and line style, shifted slightly apart
    along the x axis, so that methods with equal scores stay visible. Two bands are
    shaded, ± 1 standard error over seeds (the legend says so): transfer's and that of
    the model from scratch most often the verdict's yardstick. The score is accuracy,
    or balanced accuracy on an imbalanced test set (``table.attrs["metric"]``).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`evaluate_transfer`.
    path : str or path, optional
        Write the figure here (format from the extension; folders are created).
    title : str, optional
        Default: ``table.attrs["title"]``, which names the source and the target.
    ax : matplotlib Axes, optional
        Draw into it (e.g. one panel of a figure) instead of a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax, own = new_axes(path, ax)
    sizes = list(dict.fromkeys(table["per_class"]))
    methods = list(dict.fromkeys(table["method"]))
    metric = table.attrs.get("metric", "accuracy")
    shaded = {TRANSFER, *table.loc[table["best_scratch"], "method"].mode()[:1]}
    for i, method in enumerate(methods):
        rows = table[table["method"] == method].set_index("per_class").loc[sizes]
        x = np.arange(len(sizes)) + 0.04 * (i - (len(methods) - 1) / 2)
        mean = rows[f"{metric}_mean"] * 100
        se = rows[f"{metric}_std"].fillna(0) * 100 / np.sqrt(rows["n_seeds"])
        (line,) = ax.plot(x, mean, label=method, **STYLES.get(method, {"marker": "o"}))
        if method in shaded:
            ax.fill_between(x, mean - se, mean + se, alpha=0.15, color=line.get_color())
    n_train = table.groupby("per_class", sort=False)["n_train"].first()
    ax.set_xticks(range(len(sizes)), [f"{s}\n({n_train[s]} texts)" for s in sizes])
    ax.set_xlabel("training examples per class")
    ax.set_ylabel(f"test {metric.replace('_', ' ')} (%)")
    ax.grid(alpha=0.3)
    ax.legend(title="shaded: ± 1 standard error over seeds", title_fontsize="small")
    title = title or table.attrs.get("title")
    if title:
        ax.set_title(title)
    if own and path is not None:
        save_figure(ax.figure, path)
    return ax


def new_axes(path, ax):
    """``(ax, own)``: the caller's axes, or one of a new bare figure (``own``), once ``path`` is checked.

    A bare ``Figure``, not pyplot: no display needed, and a notebook's backend is left alone.
    """
    from matplotlib.figure import Figure

    if path is not None:
        check_plot_path(path)
    if ax is not None:
        return ax, False
    return Figure(figsize=(6, 4)).subplots(), True


def save_figure(figure, path):
    """Lay ``figure`` out and write it to ``path`` (its folders created)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def check_plot_path(path):
    """Raise a one-line error unless a figure can be written to ``path``."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    check_output_path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise ValueError(f"{path}: unknown plot format {path.suffix!r} (use .png, .pdf or .svg)")


def check_output_path(path):
    """Raise a one-line error unless a file can be created (with its folders) at ``path``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: no permission to write in {folder}")


def _seeded(model, seed):
    # Steps with randomness (an MLP, a search's folds) get the seed too, so seeds vary the
    # whole run; a frozen step is left alone (its parameters cannot be set).
    params = model.get_params()
    frozen = tuple(f"{k}__" for k, v in params.items() if isinstance(v, FrozenEstimator))
    seeded = {k: seed for k in params if k.endswith("random_state") and not k.startswith(frozen)}
    return model.set_params(**seeded)
