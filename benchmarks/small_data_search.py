"""Benchmark: the recommended search on small data: its walk over the weights, and its cost.

Below 2000 training texts the search of ``make_classifier()`` scores (n-gram weight, C)
pairs by 3-fold CV, repeated with new shuffles on a few hundred texts
(``lightxfer.ngram_search.REPEAT_UNTIL``), and keeps the lightest weight within one
standard error of the best. The shipped search walks from the middle weights toward the
best one (``lightxfer.ngram_search.WALK``); this script fits it beside the search that
scores every weight (the rule before the walk), optionally the previous search (session
5: one ``LogisticRegression`` per fold and candidate), one shuffle, other ``REPEAT_UNTIL``
values, and always the frozen shared layer alone with a CV-tuned ``LogisticRegressionCV``
head, on k examples per class drawn from a task's training texts, timing each fit, and
scores them on held-out *training* texts (20% of the pool, at most 2000; for SUBJ and
MPQA the pool is the accuracy benchmark's fold-0 training part), so no test text
chooses the default. Every rule sees the same draws (seeds 10..; the accuracy benchmark
uses 0..4). With the encoder extra, the same on all-MiniLM-L6-v2.

Run from the repository root::

    python benchmarks/small_data_search.py
"""

import argparse
import json
import sys
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
SHIPPED, EVERY_WEIGHT = "shipped search (walk)", "every weight"
PREVIOUS, ONE_SHUFFLE, FROZEN = "previous search", "one shuffle", "frozen + LR-CV"


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
    EVERY_WEIGHT: {"WALK": False},
    PREVIOUS: {"REPEAT_UNTIL": 1000, "_fit_score": previous_fit_score, "WALK": False},
    ONE_SHUFFLE: {"REPEAT_UNTIL": 0},
}
#: Rules fitted unless ``--rules`` says otherwise (beside the frozen layer alone).
DEFAULT_RULES = (SHIPPED, EVERY_WEIGHT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_data_arguments(parser)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--seeds", type=int, default=6, help="draws per size (seeds 10..)")
    parser.add_argument("--no-encoder", action="store_true", help="skip MiniLM")
    parser.add_argument(
        "--rules",
        nargs="+",
        default=list(DEFAULT_RULES),
        choices=list(SETTINGS),
        help="search rules to fit beside the frozen layer alone",
    )
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
            rules = {rule: (recommended, SETTINGS[rule]) for rule in args.rules}
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


def markdown(rows, seconds, args):
    table = pd.DataFrame(rows)
    mean = table.groupby(["layer", "rule", "per_class", "task"])["accuracy"].mean()
    tasks = list(dict.fromkeys(table["task"]))
    lines = [
        "## The recommended search on small data: the walk over the weights and its cost",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Held-out training accuracy %, mean of {args.seeds} draws; fits take turns, 1 "
        f"thread, 2 cores shared with other jobs (`{args.command}`, {seconds:.0f} s):",
        "",
        "| shared layer | rule | per class | " + " | ".join(t.upper() for t in tasks) + " |",
        "|---|---|---|" + "---|" * len(tasks),
    ]
    for (layer, rule, k), part in mean.groupby(level=[0, 1, 2], sort=False):
        cells = [f"{part.loc[(layer, rule, k, t)]:.1f}" for t in tasks]
        lines.append(f"| {layer} | {rule} | {k} | " + " | ".join(cells) + " |")
    lines.append("")
    baseline = EVERY_WEIGHT if EVERY_WEIGHT in args.rules else args.rules[-1]
    for layer in dict.fromkeys(table["layer"]):
        by = mean.loc[layer].unstack("rule")
        part = table[table["layer"] == layer]
        seconds = part.groupby("rule")["seconds"].sum()
        for rule in by.columns.drop([baseline, FROZEN]):
            change = by[rule] - by[baseline]
            per_task = change.groupby(level="task").mean()
            worst = (by[rule] - by[FROZEN]).groupby(level="per_class").min()
            lines.append(
                f"- {layer}, {rule} minus {baseline}: mean {change.mean():+.2f} points over "
                "tasks and sizes; per task (mean over sizes) "
                + ", ".join(f"{t.upper()} {per_task[t]:+.2f}" for t in tasks)
                + f"; per task and size {change.min():+.1f} to {change.max():+.1f}; fit time "
                f"{seconds[rule] / seconds[baseline]:.2f}x; worst task vs the frozen layer "
                "alone, by examples per class: "
                + ", ".join(f"{k}: {worst[k]:+.1f}" for k in worst.index)
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    rows = run(args)
    write_rows(args.out, rows)
    args.command = "python benchmarks/small_data_search.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    args.command = args.command.strip()
    text = markdown(rows, time.perf_counter() - start, args)
    (args.out / "small_data_search.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
