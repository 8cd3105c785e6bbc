"""Benchmark: which texts to label next -- lightxfer's strategy vs random and breaking ties.

Pool-based simulation on the five tasks, on GloVe (mean pooling) and on frozen
all-MiniLM-L6-v2: a first batch of 16 texts, then batches of 16 up to 256 labels, a
logistic-regression head (the plain pipeline's, ``LogisticRegression(max_iter=1000)``)
refitted after each batch and scored on the test split (SUBJ, MPQA: the accuracy
benchmark's held-out first fold). Methods, all on the same features and seeds:

- ``random``: random first batch, random batches;
- ``lightxfer``: ``suggest``'s ``"auto"``: k-means cold start, then
  ``ExploreThenMargin``: texts drawn at random (most of the batch at first, a quarter
  from 128 labels on) beside breaking ties with the diversity term;
- ``lightxfer, no exploration``: the same cold start, then only breaking ties with the
  diversity term (``"diverse-margin"``);
- ``small-text breaking ties``: small-text's ``BreakingTies`` from a random first batch
  (its usual set-up), when small-text is installed (``pip install small-text``).

The pool is at most ``--pool`` training texts (a stratified sample), the test split at
most ``--test`` texts. Also times one ``lightxfer.suggest`` round on 10,000 pool texts
whose encoder features are cached (SST-5 and TREC pools), for the plain encoder model
and the recommended one. Writes ``results/active_learning.{json,md,png}``.

Run from the repository root::

    nice -n 10 python benchmarks/active_learning.py
"""

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import accuracy as bench  # the same data and encoder cache
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import lightxfer
from lightxfer.labelling import query_strategies

OUT = Path(__file__).resolve().parent / "results"
RANDOM, OURS, NO_EXPLORATION, SMALL_TEXT = (
    "random",
    "lightxfer",
    "lightxfer, no exploration",
    "small-text breaking ties",
)
LAYERS = ("glove", "minilm")
FIRST, BATCH, BUDGET = 16, 16, 256
MULTI_CLASS = ("sst5", "trec")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_data_arguments(parser)
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pool", type=int, default=5000, help="most pool texts per task")
    parser.add_argument("--test", type=int, default=1000, help="most test texts per task")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--encoder-cache",
        default=str(Path(tempfile.gettempdir()) / "lightxfer-bench-encoder"),
        help="folder of the MiniLM embeddings, reused across runs",
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the 10,000-text round")
    return parser.parse_args(argv)


def task_data(task, data_dir, pool, test):
    """``(X_pool, y_pool, X_test, y_test)``: stratified samples of one split of ``task``."""
    X, y, X_test, y_test = bench.full_splits(data_dir, task, quick=False, max_folds=1)[0]
    return (*_sample(X, y, pool), *_sample(X_test, y_test, test))


def _sample(X, y, n):
    if len(y) <= n:
        return X, y
    X, _, y, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=0)
    return X, y


def features(texts, layer, encoder_cache):
    """The frozen shared layer's features of ``texts``: GloVe mean pooling or MiniLM."""
    texts = list(texts)
    if layer == "glove":
        return lightxfer.EmbeddingVectorizer().fit_transform(texts)
    bench.warm_encoder_cache(texts, Path(encoder_cache))
    return lightxfer.SentenceEncoder(bench.ENCODER).fit(texts[:1]).transform(texts)


def small_text_query(model, F, unlabelled, labelled, y, n):
    """small-text's ``BreakingTies`` on the same features and head."""
    from small_text.query_strategies import BreakingTies

    class Head:  # small-text asks its classifier for predict_proba(dataset)
        def predict_proba(self, rows):
            return model.predict_proba(rows)

    return BreakingTies().query(Head(), F, unlabelled, labelled, y, n)


def simulate(method, F, y, F_test, y_test, seed):
    """Return ``[(labels, accuracy, query seconds), ...]`` of one labelling run."""
    rng = np.random.default_rng(seed)
    everything = np.arange(len(y))
    if method in (OURS, NO_EXPLORATION):
        labelled, _ = query_strategies.Representative().query(F, None, everything, FIRST, seed)
    else:
        labelled = rng.choice(everything, FIRST, replace=False)
    labelled = list(labelled)
    curve = []
    while True:
        classes = np.unique(y[labelled])
        model = None
        if len(classes) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = LogisticRegression(max_iter=1000).fit(F[labelled], y[labelled])
            accuracy = model.score(F_test, y_test)
        else:  # one class seen: the model can only say that class
            accuracy = float(np.mean(y_test == classes[0]))
        start = time.perf_counter()
        if len(labelled) >= BUDGET:
            curve.append((len(labelled), accuracy, 0.0))
            break
        unlabelled = np.setdiff1d(everything, labelled)
        if method == RANDOM or model is None:
            new = rng.choice(unlabelled, BATCH, replace=False)
        elif method == SMALL_TEXT:
            new = small_text_query(model, F, unlabelled, np.array(labelled), y[labelled], BATCH)
        else:
            proba = np.zeros((len(y), len(model.classes_)))
            proba[unlabelled] = model.predict_proba(F[unlabelled])
            strategy = (
                query_strategies.ExploreThenMargin
                if method == OURS
                else query_strategies.DiverseBreakingTies
            )
            new, _ = strategy().query(F, proba, unlabelled, BATCH, seed)
        curve.append((len(labelled), accuracy, time.perf_counter() - start))
        labelled += list(new)
    return curve


def methods():
    try:
        import small_text  # noqa: F401
    except ImportError:
        print("small-text is not installed: its breaking ties is left out", flush=True)
        return [RANDOM, OURS, NO_EXPLORATION]
    return [RANDOM, OURS, NO_EXPLORATION, SMALL_TEXT]


def round_time(args, pools):
    """Seconds of one ``suggest`` round on 10,000 pool texts with cached encoder features."""
    from lightxfer import make_classifier, suggest

    texts = list(dict.fromkeys(t for task in ("sst5", "trec") for t in pools[task][0]))[:10_000]
    train_texts, train_labels = pools["sst5"][0][:64], pools["sst5"][1][:64]
    labelled = np.arange(64)  # the SST-5 pool comes first
    bench.warm_encoder_cache(texts, Path(args.encoder_cache))
    times = {}
    for name, model in [
        ("frozen MiniLM + LR", make_classifier(encoder=bench.ENCODER, head="logreg")),
        ("MiniLM recommended", make_classifier(encoder=bench.ENCODER)),
    ]:
        model.fit(list(train_texts), train_labels)
        suggest(model, texts, n=16, labelled=labelled)  # the pool's rows join the cache
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            suggest(model, texts, n=16, labelled=labelled)
            seconds.append(time.perf_counter() - start)
        times[name] = float(np.median(seconds))
        print(f"suggest round, {len(texts)} pool texts, {name}: {times[name]:.2f} s", flush=True)
    return {"n_pool": len(texts), "seconds": times}


def run(args):
    rows, pools = [], {}
    for task in args.tasks:
        X, y, X_test, y_test = task_data(task, args.data_dir, args.pool, args.test)
        pools[task] = (X, y)
        for layer in args.layers:
            F = features(np.concatenate([X, X_test]), layer, args.encoder_cache)
            F, F_test = F[: len(X)], F[len(X) :]
            start = time.perf_counter()
            for method in methods():
                for seed in range(args.seeds):
                    for labels, accuracy, seconds in simulate(method, F, y, F_test, y_test, seed):
                        rows.append(
                            {
                                "task": task,
                                "layer": layer,
                                "method": method,
                                "seed": seed,
                                "labels": labels,
                                "accuracy": round(100 * accuracy, 2),
                                "query_seconds": round(seconds, 4),
                            }
                        )
            print(f"{task} {layer}: {time.perf_counter() - start:.0f} s", flush=True)
    timing = None
    if not args.no_timing and "minilm" in args.layers and {"sst5", "trec"} <= set(pools):
        timing = round_time(args, pools)
    return rows, timing


def summary(rows):
    """Per layer, task and method: mean curve, labels to random's 256, worst gap to random."""
    table = pd.DataFrame(rows).groupby(["layer", "task", "method", "labels"])["accuracy"].mean()
    out = []
    for (layer, task, method), curve in table.groupby(level=[0, 1, 2]):
        curve = curve.droplevel([0, 1, 2])
        random = table.loc[(layer, task, RANDOM)]
        reached = curve.index[curve >= random.loc[BUDGET]]
        out.append(
            {
                "layer": layer,
                "task": task,
                "method": method,
                **{f"at {n}": curve.loc[n] for n in (16, 32, 64, 128, 256)},
                "labels to random's 256": int(reached[0]) if len(reached) else None,
                "worst gap to random": float((curve - random).min()),
            }
        )
    return pd.DataFrame(out)


def markdown(table, timing, args):
    lines = [
        "## Active learning: which texts to label next",
        "",
        f"`nice -n 10 python benchmarks/active_learning.py` (pool <= {args.pool} training "
        f"texts, test <= {args.test}, {args.seeds} seeds, first batch {FIRST}, batches of "
        f"{BATCH} to {BUDGET} labels, logistic regression on the frozen features). Test "
        "accuracy (%), mean over seeds; *labels to random's 256*: the first labels count at "
        "which the method's mean reaches random sampling's mean accuracy at 256 labels (— "
        "never); *worst gap*: its lowest difference to random over all steps (points). "
        "The exploration schedule of `ExploreThenMargin` was chosen on held-out training "
        "texts (a 4000/1000 split of the pools, 4 seeds), not on these test texts.",
        "",
    ]
    for layer in dict.fromkeys(table["layer"]):
        part = table[table["layer"] == layer].drop(columns="layer")
        lines += [f"### {layer}", "", _markdown_table(part), ""]
        lines += _targets(part)
        lines.append("")
    lines += [
        "Uncertainty sampling is no sure win here. The cold start gains most (one typical "
        "text per region beats 16 random ones on most tasks); after it, breaking ties gains "
        "on TREC, SUBJ and MPQA and little or nothing on the sentiment of SST-2 and SST-5, "
        "where the texts a model is least sure about are often truly ambiguous (and SST-5's "
        "five grades are noisy). Without "
        "exploration, one batch of a weak model's uncertain texts can be all of one class "
        "(the 'no exploration' rows fall 18 points below random at 32 labels on MPQA).",
        "",
    ]
    if timing:
        times = ", ".join(f"{name} {s:.2f} s" for name, s in timing["seconds"].items())
        lines += [
            f"One `suggest` round (n=16) on {timing['n_pool']} pool texts whose encoder "
            f"features are cached (median of 3): {times}. Target: under 1 s.",
            "",
        ]
    lines.append("![active learning curves](active_learning.png)")
    return "\n".join(lines) + "\n"


def _targets(part):
    """The issue's targets for lightxfer's strategy, each with its measured value."""
    ours = part[part["method"] == OURS].set_index("task")
    random = part[part["method"] == RANDOM].set_index("task")
    ratio = (ours["labels to random's 256"].fillna(BUDGET) / BUDGET).mean()
    lines = [
        f"- labels needed to reach random's accuracy at {BUDGET}, mean over tasks: "
        f"{ratio:.2f}x (target <= 0.7x; a task never reaching it counts 1.0x)"
    ]
    for task in MULTI_CLASS:
        if task in ours.index:
            gain = ours.loc[task, "at 64"] - random.loc[task, "at 64"]
            lines.append(f"- {task} at 64 labels: {gain:+.1f} points over random (target +3)")
    worst = ours["worst gap to random"]
    lines.append(
        f"- worst gap to random at any step: {worst.min():+.1f} points ({worst.idxmin()}; "
        "target >= -0.5)"
    )
    return lines


def _markdown_table(part):
    header = "| " + " | ".join(part.columns) + " |"
    lines = [header, "|" + "---|" * len(part.columns)]
    for row in part.itertuples(index=False):
        cells = [_cell(name, value) for name, value in zip(part.columns, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(column, value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if column.startswith("labels"):
        return str(int(value))
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def plot(rows, path):
    from matplotlib.figure import Figure

    table = pd.DataFrame(rows).groupby(["layer", "task", "method", "labels"])["accuracy"].mean()
    layers = list(dict.fromkeys(table.index.get_level_values(0)))
    tasks = list(dict.fromkeys(table.index.get_level_values(1)))
    figure = Figure(figsize=(3.2 * len(tasks), 2.8 * len(layers)))
    axes = figure.subplots(len(layers), len(tasks), squeeze=False)
    for i, layer in enumerate(layers):
        for j, task in enumerate(tasks):
            ax = axes[i, j]
            for method in dict.fromkeys(table.loc[(layer, task)].index.get_level_values(0)):
                curve = table.loc[(layer, task, method)]
                ax.plot(curve.index, curve.values, label=method, marker=".")
            ax.set_title(f"{task}, {layer}", fontsize="small")
            ax.set_xlabel("labels")
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize="x-small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv=None):
    args = parse_args(argv)
    rows, timing = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    table = summary(rows)
    (args.out / "active_learning.json").write_text(
        json.dumps(
            {
                "columns": list(rows[0]),
                "rows": [list(row.values()) for row in rows],  # one list per row: compact
                "timing": timing,
                "pool": args.pool,
                "test": args.test,
            }
        )
    )
    (args.out / "active_learning.md").write_text(markdown(table, timing, args))
    plot(rows, args.out / "active_learning.png")
    print(markdown(table, timing, args))


if __name__ == "__main__":
    main()
