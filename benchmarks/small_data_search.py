"""Benchmark: how the recommended search repeats its folds on small data, and its cost.

Below 2000 training texts the search of ``make_classifier()`` scores every (n-gram
weight, C) by 3-fold CV and keeps the lightest weight within one standard error of the
best. On a few dozen texts one shuffle of the folds is luck; the shipped search repeats
the folds with new shuffles (``lightxfer.ngram_search.REPEAT_UNTIL``). This script fits
the shipped search, the previous one (session 5: repeats up to 1000 validation
predictions, one ``LogisticRegression`` per fold and candidate), one shuffle, optionally other ``REPEAT_UNTIL`` values, and the frozen shared
layer alone with a CV-tuned ``LogisticRegressionCV`` head, on k examples per class
drawn from a task's training texts, timing each fit, and scores them on held-out
*training* texts (20% of the pool, at most 2000; for SUBJ and MPQA the pool is the
accuracy benchmark's fold-0 training part), so no test text chooses the default. Draws use
seeds 10.. (the accuracy benchmark uses 0..4). With the encoder extra, the same on
all-MiniLM-L6-v2.

Run from the repository root::

    python benchmarks/small_data_search.py
"""

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import accuracy as bench  # the same data, draws and baselines
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier

from lightxfer import make_classifier, ngram_search

ROOT = Path(__file__).resolve().parents[1]
SIZES = (8, 16, 32, 64, 128)
SHIPPED, PREVIOUS = "shipped search", "previous search"
ONE_SHUFFLE, FROZEN = "one shuffle", "frozen + LR-CV"


def previous_fit_score(X_train, y_train, X_valid, y_valid, C):
    """The search's fit and score up to session 5: one estimator per fold and candidate."""
    dual = X_train.shape[1] > X_train.shape[0]
    tol = ngram_search.DUAL_TOL if dual else 1e-4
    model = LogisticRegression(
        solver="liblinear", C=C, dual=dual, tol=tol, max_iter=1000, random_state=0
    )
    model = model if len(np.unique(y_train)) == 2 else OneVsRestClassifier(model)
    return model.fit(X_train, y_train).score(X_valid, y_valid)


#: Search settings of each rule (ngram_search globals); the shipped rule keeps its own.
SETTINGS = {
    SHIPPED: {},
    PREVIOUS: {"REPEAT_UNTIL": 1000, "_fit_score": previous_fit_score},
    ONE_SHUFFLE: {"REPEAT_UNTIL": 0},
    FROZEN: {},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        help="folder with your own copy of the task CSVs (default: $LIGHTXFER_DATA_DIR, else "
        "the datasets shipped with lightxfer)",
    )
    parser.add_argument("--tasks", nargs="+", default=list(bench.TASKS), choices=bench.TASKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--seeds", type=int, default=6, help="draws per size (seeds 10..)")
    parser.add_argument("--no-encoder", action="store_true", help="skip MiniLM")
    parser.add_argument(
        "--repeat-until",
        nargs="*",
        type=int,
        default=[],
        help="also fit the shipped search with these REPEAT_UNTIL values",
    )
    parser.add_argument(
        "--encoder-cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "lightxfer-bench-encoder",
        help="folder of the MiniLM embeddings of each task's texts (as accuracy.py)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def shared_layers(use_encoder):
    """Shared-layer name -> (recommended factory, frozen-only factory)."""
    layers = {"GloVe": (make_classifier, bench.frozen("mean"))}
    if use_encoder:
        layers["MiniLM"] = (
            lambda: make_classifier(encoder=bench.ENCODER),
            lambda: make_classifier(encoder=bench.ENCODER, head=bench._lr_cv()),
        )
    return layers


def held_out_pool(data_dir, task):
    """``(X_pool, X_held, y_pool, y_held)``: draws come from the pool, scores from held."""
    X, y, _, _ = bench.full_splits(data_dir, task, quick=False, max_folds=1)[0]
    size = min(2000, len(y) // 5)
    return train_test_split(X, y, test_size=size, stratify=y, random_state=1)


def score(factory, X, y, X_held, y_held, settings):
    """``(held-out accuracy %, fit seconds)`` of one fit under the search ``settings``."""
    saved = {name: getattr(ngram_search, name) for name in settings}
    vars(ngram_search).update(settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of tiny fits
            start = time.perf_counter()
            model = factory().fit(X, y)
            seconds = time.perf_counter() - start
            return 100 * model.score(X_held, y_held), seconds
    finally:
        vars(ngram_search).update(saved)


def run(args):
    use_encoder = not args.no_encoder and bench._has_encoder()
    rows = []
    for task in args.tasks:
        X_pool, X_held, y_pool, y_held = held_out_pool(args.data_dir, task)
        if use_encoder:
            # The texts accuracy.py caches embeddings for: its cache file serves both.
            texts = bench.texts_of(bench.full_splits(args.data_dir, task, quick=False))
            bench.warm_encoder_cache(texts, args.encoder_cache)
        for layer, (recommended, frozen) in shared_layers(use_encoder).items():
            rules = {rule: (recommended, settings) for rule, settings in SETTINGS.items()}
            rules[FROZEN] = (frozen, {})
            for value in args.repeat_until:
                rules[f"REPEAT_UNTIL={value}"] = (recommended, {"REPEAT_UNTIL": value})
            for k in args.sizes:
                for seed in range(10, 10 + args.seeds):
                    X, y = bench.sample_per_class(X_pool, y_pool, k, seed)
                    for rule, (factory, settings) in rules.items():
                        accuracy, seconds = score(factory, X, y, X_held, y_held, settings)
                        rows.append(
                            {"task": task, "layer": layer, "per_class": k, "seed": seed}
                            | {"rule": rule, "accuracy": round(accuracy, 2)}
                            | {"seconds": round(seconds, 3)}
                        )
                print(f"{task:5s} {layer:6s} {k:4d} per class done", flush=True)
                write_rows(args.out, rows)  # a long run keeps what it has measured
    return rows


def write_rows(out, rows):
    out.mkdir(parents=True, exist_ok=True)
    (out / "small_data_search.json").write_text(json.dumps(rows, indent=1) + "\n")


def markdown(rows, seconds, n_seeds):
    table = pd.DataFrame(rows)
    mean = table.groupby(["layer", "rule", "per_class", "task"])["accuracy"].mean()
    tasks = list(dict.fromkeys(table["task"]))
    lines = [
        "## The recommended search on small data: repeated folds and their cost",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Held-out training accuracy %, mean of {n_seeds} draws "
        f"(`python benchmarks/small_data_search.py`, {seconds:.0f} s):",
        "",
        "| shared layer | rule | per class | " + " | ".join(t.upper() for t in tasks) + " |",
        "|---|---|---|" + "---|" * len(tasks),
    ]
    for (layer, rule, k), part in mean.groupby(level=[0, 1, 2], sort=False):
        cells = [f"{part.loc[(layer, rule, k, t)]:.1f}" for t in tasks]
        lines.append(f"| {layer} | {rule} | {k} | " + " | ".join(cells) + " |")
    lines.append("")
    for layer in dict.fromkeys(table["layer"]):
        by = mean.loc[layer].unstack("rule")
        part = table[table["layer"] == layer]
        seconds = part.groupby("rule")["seconds"].sum()
        for rule in by.columns.drop([PREVIOUS, FROZEN]):
            change = by[rule] - by[PREVIOUS]
            worst = (by[rule] - by[FROZEN]).groupby(level="per_class").min()
            lines.append(
                f"- {layer}, {rule} minus the previous search: mean {change.mean():+.2f} "
                f"points over tasks and sizes (per task and size {change.min():+.1f} to "
                f"{change.max():+.1f}); fit time {seconds[rule] / seconds[PREVIOUS]:.2f}x; "
                "worst task vs the frozen layer alone, by examples per class: "
                + ", ".join(f"{k}: {worst[k]:+.1f}" for k in worst.index)
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    rows = run(args)
    write_rows(args.out, rows)
    text = markdown(rows, time.perf_counter() - start, args.seeds)
    (args.out / "small_data_search.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
