"""``learning_curve``: accuracy measured at growing numbers of labels, and forecast beyond.

Measured: in each fold of a stratified K-fold split, models are fitted on growing,
nested, class-balanced prefixes of the training part and scored on the held-out part.
Forecast: the error rate of such curves falls about as a power of the number of labels
(Hestness et al. 2017; Figueroa et al. 2012), a straight line in log-log axes; the line
fitted to the largest measured sizes, with its prediction interval, says what twice or four
times the labels should reach, and where another doubling buys less than a point.
"""

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from lightxfer.evaluation import new_axes, save_figure
from lightxfer.progress import progress_bar
from lightxfer.shared.validation import check_labels, to_text_list

#: Measured sizes (the largest) the forecast is fitted to.
FITTED_SIZES = 3
#: Accuracy gained by one more doubling of the labels below which the curve has flattened.
FLAT_GAIN = 0.01
#: Multiples of the labels beyond which ``flattens_at`` is not given.
FAR = 1000


def learning_curve(
    model,
    texts,
    labels,
    *,
    sizes=None,
    forecast=(1, 2, 4),
    cv=5,
    level=0.8,
    random_state=0,
    progress=None,
):
    """Return measured and forecast accuracy against the number of labels.

    Parameters
    ----------
    model : estimator or None
        An unfitted lightxfer model, cloned for every fit; ``None``: ``make_classifier()``.
    texts : sequence of str
    labels : array-like of shape (len(texts),)
    sizes : sequence of int, optional
        Training sizes to measure. Default: the training part of a fold, halved while
        it keeps at least 2 texts per class and 8 in all (at most 6 sizes).
    forecast : sequence of float, default=(1, 2, 4)
        Multiples of ``len(texts)`` to forecast: 1 is the model fitted on all the labels
        (the largest measured size is one fold short of them).
    cv : int, default=5
        Folds (fewer when a class has fewer texts).
    level : float, default=0.8
        Probability that a forecast's interval holds the accuracy of one fit at its size.
    random_state : int, default=0
        Shuffles the folds and the order in which texts join the training part.
    progress : bool, optional
        Show a bar over the fits; by default on a terminal.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``n_labels``, ``kind`` (``"measured"`` or ``"forecast"``),
        ``accuracy``, and ``low`` and ``high``: for a measured size the mean over folds
        ± one standard error, for a forecast its ``level`` interval. ``attrs`` holds
        ``"flattens_at"`` (labels from which one more doubling gains less than one
        point, by the forecast; ``None`` beyond 1000 times the labels), ``"exponent"`` (the power law's) and ``"level"``.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> from lightxfer.datasets import load_dataset
    >>> texts, labels = load_dataset("sst2", "dev")
    >>> curve = learning_curve(make_classifier(pooling="mean"), texts[:200], labels[:200])
    >>> curve["kind"].unique().tolist()
    ['measured', 'forecast']
    """
    texts = to_text_list(texts)
    labels = check_labels(labels)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label per text")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"every text has the label {classes.tolist()[0]!r}: a curve needs 2 classes"
        )
    folds = min(cv, int(counts.min()))
    if folds < 2:
        raise ValueError(
            f"class {classes.tolist()[counts.argmin()]!r} has a single text: a learning curve needs "
            "at least 2 texts of every class"
        )
    if model is None:
        from lightxfer.classifier import make_classifier

        model = make_classifier()
    splits = list(
        StratifiedKFold(folds, shuffle=True, random_state=random_state).split(texts, labels)
    )
    n_train = min(len(train) for train, _ in splits)
    sizes = _sizes(sizes, n_train, len(classes))
    rng = check_random_state(random_state)
    scores = np.empty((folds, len(sizes)))
    with progress_bar(progress, total=scores.size, desc="learning curve", unit=" fits") as bar:
        for fold, (train, test) in enumerate(splits):
            order = train[balanced_order(labels[train], rng)]
            held_out = [texts[i] for i in test]
            for j, size in enumerate(sizes):
                fitted = clone(model).fit([texts[i] for i in order[:size]], labels[order[:size]])
                scores[fold, j] = fitted.score(held_out, labels[test])
                bar.update()
    # The curve bends as it flattens: its latest slope forecasts best (on training data,
    # benchmarks/label_issues.py), so the law is fitted to the largest sizes only.
    recent = slice(-FITTED_SIZES, None)
    law = PowerLaw(level=level).fit(np.repeat([sizes[recent]], folds, axis=0), scores[:, recent])
    mean, se = scores.mean(axis=0), scores.std(axis=0, ddof=1) / np.sqrt(folds)
    targets = np.array([round(m * len(texts)) for m in forecast], dtype=int)
    accuracy, low, high = law.predict(targets)
    table = pd.DataFrame(
        {
            "n_labels": np.concatenate([sizes, targets]),
            "kind": ["measured"] * len(sizes) + ["forecast"] * len(targets),
            "accuracy": np.concatenate([mean, accuracy]),
            "low": np.concatenate([mean - se, low]),
            "high": np.concatenate([mean + se, high]),
        }
    )
    flat = law.flattens_at()
    # A forecast a thousand times beyond the data says nothing: no answer rather than a guess.
    flat = flat if flat <= FAR * len(texts) else None
    table.attrs.update(flattens_at=flat, exponent=law.exponent_, level=level)
    return table


def forecast_summary(curve):
    """One line saying what more labels should buy, from :func:`learning_curve`'s table.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"n_labels": [100, 200], "kind": ["forecast"] * 2,
    ...                       "accuracy": [0.8, 0.84], "low": [0.75, 0.78], "high": [0.85, 0.9]})
    >>> curve.attrs.update(flattens_at=3000, level=0.8)
    >>> forecast_summary(curve)
    'forecast: 80.0% (75.0-85.0%) at 100, 84.0% (78.0-90.0%) at 200 labels (80% intervals); one more doubling gains under 1 point from about 3000 labels'
    """
    ahead = curve[curve["kind"] == "forecast"]
    parts = [
        f"{row.accuracy:.1%} ({100 * row.low:.1f}-{100 * row.high:.1f}%) at {row.n_labels}"
        for row in ahead.itertuples()
    ]
    level = curve.attrs.get("level", 0.8)
    line = f"forecast: {', '.join(parts)} labels ({level:.0%} intervals)"
    flat = curve.attrs.get("flattens_at")
    if flat is None:
        line += "; still over 1 point per doubling at 1000x the labels"
    elif flat:
        line += f"; one more doubling gains under 1 point from about {flat} labels"
    return line


class PowerLaw:
    """Error rate ``a * n**-b``, fitted by least squares in log-log axes.

    Parameters
    ----------
    level : float, default=0.8
        Probability of the prediction interval: that it holds one new measurement.

    Examples
    --------
    >>> law = PowerLaw().fit([100, 200, 400], [0.6, 0.7, 0.775])
    >>> round(float(law.predict([800])[0][0]), 3)
    0.831
    """

    def __init__(self, level=0.8):
        self.level = level

    def fit(self, sizes, accuracy):
        """Fit to accuracies measured at ``sizes`` (arrays of the same shape)."""
        x = np.log(np.asarray(sizes, dtype=float).ravel())
        z = np.log(np.clip(1 - np.asarray(accuracy, dtype=float).ravel(), 1e-4, None))
        self.x_mean_, self.sxx_, self.n_points_ = x.mean(), ((x - x.mean()) ** 2).sum(), len(x)
        slope = ((x - self.x_mean_) * (z - z.mean())).sum() / self.sxx_ if self.sxx_ else 0.0
        # An error rate that grows with more labels is noise: call the curve flat then.
        self.exponent_ = max(-slope, 0.0)
        self.intercept_ = z.mean() + self.exponent_ * self.x_mean_
        residuals = z - (self.intercept_ - self.exponent_ * x)
        dof = max(self.n_points_ - 2, 1)
        self.residual_std_ = np.sqrt((residuals**2).sum() / dof)
        self.dof_ = dof
        return self

    def predict(self, sizes):
        """Return ``(accuracy, low, high)`` at ``sizes``: the forecast and its interval."""
        x = np.log(np.asarray(sizes, dtype=float))
        z = self.intercept_ - self.exponent_ * x
        leverage = 1 / self.n_points_ + ((x - self.x_mean_) ** 2 / self.sxx_ if self.sxx_ else 0)
        half = stats.t.ppf(0.5 + self.level / 2, self.dof_) * self.residual_std_
        half = half * np.sqrt(1 + leverage)
        # An error rate above 1 is no accuracy: a wide interval stops at 0.
        low = np.clip(1 - np.exp(z + half), 0, 1)
        return 1 - np.exp(z), low, 1 - np.exp(z - half)

    def flattens_at(self, gain=FLAT_GAIN):
        """Labels from which doubling them gains less than ``gain`` accuracy."""
        if self.exponent_ == 0:
            return 0
        # error(n) - error(2n) = error(n) * (1 - 2**-b) < gain
        shrink = 1 - 2.0**-self.exponent_
        log_n = (self.intercept_ - np.log(gain / shrink)) / self.exponent_
        return int(np.ceil(np.exp(min(log_n, 50.0))))


def balanced_order(labels, random_state=None):
    """Return an order of ``labels``' positions whose every prefix keeps the class shares.

    Two texts of each class come first, then each class's texts spread over the order in
    proportion to its share, so a prefix of any length is a stratified sample.
    """
    rng = check_random_state(random_state)
    keys = np.empty(len(labels))
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        rank = np.arange(len(members))
        keys[members] = np.where(
            rank < 2, rank - 2.0, (rank + rng.random(len(members))) / len(members)
        )
    return np.argsort(keys, kind="stable")


def _sizes(sizes, n_train, n_classes):
    smallest = max(2 * n_classes, 8)
    if sizes is None:
        found = [n_train]
        while found[-1] // 2 >= smallest and len(found) < 6:
            found.append(found[-1] // 2)
        sizes = sorted(found)
    sizes = np.unique(np.asarray(sizes, dtype=int))
    if sizes[0] < 2 * n_classes or sizes[-1] > n_train:
        raise ValueError(
            f"sizes must lie between {2 * n_classes} (2 per class) and {n_train} (a fold's "
            f"training part); got {sizes.tolist()}"
        )
    if len(sizes) < 2:
        raise ValueError(
            f"a learning curve needs 2 sizes or more; with {n_train} training texts per fold "
            "there is room for one: label more texts"
        )
    return sizes


def plot_learning_curve(curve, path=None, *, title=None, ax=None):
    """Draw measured accuracy and the forecast with its interval against labels (log axis).

    Parameters
    ----------
    curve : pandas.DataFrame
        From :func:`learning_curve`.
    path : str or path, optional
        Write the figure here (format from the extension; folders are created).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import ScalarFormatter

    ax, own = new_axes(path, ax)
    measured = curve[curve["kind"] == "measured"]
    ahead = curve[curve["kind"] == "forecast"]
    ax.errorbar(
        measured["n_labels"],
        measured["accuracy"] * 100,
        yerr=(measured["high"] - measured["accuracy"]) * 100,
        fmt="o-",
        capsize=3,
        label="measured (± 1 standard error over folds)",
    )
    if len(ahead):
        start = measured.iloc[[-1]]
        x = np.concatenate([start["n_labels"], ahead["n_labels"]])
        ax.plot(
            x,
            np.concatenate([start["accuracy"], ahead["accuracy"]]) * 100,
            "s--",
            label="forecast (power law)",
        )
        ax.fill_between(
            x,
            np.concatenate([start["accuracy"], ahead["low"]]) * 100,
            np.concatenate([start["accuracy"], ahead["high"]]) * 100,
            alpha=0.2,
            label=f"{curve.attrs.get('level', 0.8):.0%} interval",
        )
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("labelled texts")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if own and path is not None:
        save_figure(ax.figure, path)
    return ax
