"""``evaluate_transfer``: does a source model help a small target task? Learning curves say."""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from lightxfer.classifier import make_tfidf_baseline
from lightxfer.shared.validation import to_text_list
from lightxfer.transferring import transfer

TRANSFER, EMBEDDING, TFIDF = "transfer", "frozen embedding", "TF-IDF from scratch"
METRICS = {
    "accuracy": accuracy_score,
    "macro_f1": lambda y, p: f1_score(y, p, average="macro"),
}


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
    freeze="hidden",
    fine_tune=False,
    test_size=0.3,
    plot=None,
    progress=None,
    **head_params,
):
    """Compare transfer with two baselines on a target task, over training sizes and seeds.

    For each training size (examples per class) and seed, the same random training
    sample fits (a) the transferred model, ``transfer(source_model, head=head,
    freeze=freeze, fine_tune=fine_tune)``; (b) the same head on the source's frozen
    embedding layer alone; (c) TF-IDF + logistic regression from scratch. All are
    scored on the same test set.

    Parameters
    ----------
    source_model : fitted Pipeline
        See :func:`lightxfer.transfer`.
    X, y : sequence of str, sequence
        Target texts and labels. Without ``X_test``, a stratified ``test_size`` share is
        held out once (the same for every size and seed) and training samples are drawn
        from the rest.
    train_sizes : sequence of int or "all", default=(8, 32, 128, "all")
        Examples per class (a class with fewer uses all it has); ``"all"`` uses the
        whole training pool.
    n_seeds : int, default=5
        Random training samples per size.
    X_test, y_test : sequence, optional
        A given test set.
    head, freeze, fine_tune, **head_params
        The transferred model, as in :func:`lightxfer.transfer`.
    test_size : float, default=0.3
        Held-out share when ``X_test`` is not given.
    plot : str or path, optional
        Also write the learning curves to this PNG (see :func:`plot_transfer`).
    progress : bool, optional
        Show a progress bar (default: on a terminal).

    Returns
    -------
    pandas.DataFrame
        One row per method and size: ``method``, ``per_class``, ``n_train``, the mean
        and std over seeds of ``accuracy`` and ``macro_f1``, and for the transferred
        model ``gain`` (accuracy minus the frozen embedding's, paired by seed, mean) and
        ``verdict`` ("helps", "hurts: negative transfer" or "no clear difference": a
        gain within two standard errors of zero or under one point).
        ``table.attrs["scores"]`` holds every seed's scores (a list of records:
        ``pandas.DataFrame(table.attrs["scores"])``) and
        ``table.attrs["summary"]`` one plain sentence per size.
    """
    X, y = np.asarray(to_text_list(X), dtype=object), np.asarray(y)
    if X_test is None:
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=0
        )
    else:
        X_test, y_test = np.asarray(to_text_list(X_test), dtype=object), np.asarray(y_test)
    models = {
        TRANSFER: transfer(
            source_model, head=head, freeze=freeze, fine_tune=fine_tune, **head_params
        ),
        EMBEDDING: transfer(source_model, head=head, freeze="embedding", **head_params),
        TFIDF: make_tfidf_baseline(),
    }
    sizes = list(dict.fromkeys(train_sizes))
    rows = []
    steps = [(size, seed) for size in sizes for seed in range(n_seeds)]
    for size, seed in tqdm(steps, desc="transfer", unit=" fits", disable=_hide(progress)):
        train = sample_per_class(y, size, seed)
        for method, model in models.items():
            model = _seeded(clone(model), seed).fit(X[train], y[train])
            predicted = model.predict(X_test)
            scores = {name: metric(y_test, predicted) for name, metric in METRICS.items()}
            rows.append(
                {"method": method, "per_class": str(size), "seed": seed, "n_train": len(train)}
                | scores
            )
    scores = pd.DataFrame(rows)
    table = summarize(scores, sizes, list(models))
    if plot is not None:
        plot_transfer(table, plot)
    return table


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


def summarize(scores, sizes, methods):
    """Aggregate per-seed ``scores`` into the table :func:`evaluate_transfer` returns."""
    order = {str(size): i for i, size in enumerate(sizes)}
    grouped = scores.groupby(["method", "per_class"], sort=False)
    table = grouped.agg(
        n_train=("n_train", "mean"),
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", "std"),
        macro_f1_mean=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        n_seeds=("seed", "nunique"),
    ).reset_index()
    table["n_train"] = table["n_train"].round().astype(int)
    table[["gain", "verdict"]] = table.apply(
        lambda row: _verdict(scores, row), axis=1, result_type="expand"
    )
    table = table.sort_values(
        ["per_class", "method"],
        key=lambda col: col.map(order) if col.name == "per_class" else col.map(methods.index),
    ).reset_index(drop=True)
    # Plain records, not a DataFrame: pandas compares attrs when concatenating tables.
    table.attrs["scores"] = scores.to_dict(orient="records")
    table.attrs["summary"] = [
        _sentence(row) for row in table.itertuples() if row.method == TRANSFER
    ]
    return table


#: Smallest accuracy gain (one point) that counts as transfer helping or hurting.
MIN_GAIN = 0.01


def _verdict(scores, row):
    if row.method != TRANSFER:
        return np.nan, ""
    at_size = scores[scores["per_class"] == row.per_class].pivot(
        index="seed", columns="method", values="accuracy"
    )
    diff = (at_size[TRANSFER] - at_size[EMBEDDING]).to_numpy()
    gain = float(diff.mean())
    # Paired by seed (same training sample): a gain within two standard errors of zero,
    # or measured on a single seed, is not evidence either way; nor is one under a point,
    # which seeds that all train on the same full data (zero spread) would otherwise call.
    error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
    if abs(gain) <= max(2 * error, MIN_GAIN):
        return gain, "no clear difference"
    return gain, "helps" if gain > 0 else "hurts: negative transfer"


def _sentence(row):
    size = "all examples" if row.per_class == "all" else f"{row.per_class} examples per class"
    points = f"{abs(row.gain) * 100:.1f} points of accuracy"
    if row.verdict == "helps":
        return f"{size}: transfer helps, +{points} over the frozen embedding alone."
    if row.verdict.startswith("hurts"):
        return (
            f"{size}: transfer HURTS (negative transfer), -{points} against the frozen "
            "embedding alone."
        )
    return f"{size}: no clear difference from the frozen embedding alone ({row.gain * 100:+.1f})."


def format_table(table):
    """Return ``table`` as a markdown table with percentages (means ± std over seeds).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`evaluate_transfer`.

    Returns
    -------
    str
    """
    lines = [
        "| per class | method | accuracy | macro-F1 | gain vs frozen embedding | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        gain = "" if pd.isna(row.gain) else f"{row.gain * 100:+.1f}"
        lines.append(
            f"| {row.per_class} | {row.method} | {_pm(row.accuracy_mean, row.accuracy_std)} | "
            f"{_pm(row.macro_f1_mean, row.macro_f1_std)} | {gain} | {row.verdict} |"
        )
    return "\n".join(lines)


def _pm(mean, std):
    return f"{mean * 100:.1f} ± {0 if pd.isna(std) else std * 100:.1f}"


def plot_transfer(table, path, *, title=None, ax=None):
    """Draw accuracy against training size for each method (mean ± std band).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`evaluate_transfer`.
    path : str or path, optional
        Write a PNG here.
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it (e.g. one panel of a figure) instead of a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    # A bare Figure, not pyplot: no display needed, and a notebook's backend is left alone.
    from matplotlib.figure import Figure

    own = ax is None
    if own:
        ax = Figure(figsize=(6, 4)).subplots()
    sizes = list(dict.fromkeys(table["per_class"]))
    for method, rows in table.groupby("method", sort=False):
        rows = rows.set_index("per_class").loc[[s for s in sizes if s in set(rows.per_class)]]
        x = [sizes.index(s) for s in rows.index]
        mean, std = rows["accuracy_mean"] * 100, rows["accuracy_std"].fillna(0) * 100
        ax.plot(x, mean, marker="o", label=method)
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_xlabel("training examples per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if own and path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=120)
    return ax


def _seeded(model, seed):
    # Heads with randomness (an MLP) get the seed too, so seeds vary the whole run.
    params = {k: seed for k in model.get_params() if k.endswith("random_state")}
    return model.set_params(**params)


def _hide(progress):
    return None if progress is None else not progress
