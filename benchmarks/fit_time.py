"""Benchmark: the cost of each model, fit seconds and predictions/s, side by side in one run.

Every model of the accuracy benchmark (``accuracy.build_methods``) plus untuned TF-IDF +
``LogisticRegression()`` and the recommended model with a search that scores every
n-gram weight (``lightxfer.ngram_search.WALK = False``, the rule before the walk) is
fitted on n texts of a task's training pool (models taking turns at each size, fastest
of ``--repeat``) and then predicts 2000 held-out texts. The in-process feature cache is
cleared before every fit and every prediction, so each encodes its texts itself; the
GloVe vectors are loaded before timing. With ``--encoder``, the MiniLM models too, their
embeddings read from the encoder cache (``accuracy.warm_encoder_cache``), so their
timings leave out encoding. With ``--encoder-ratio TASK ...``, the recommended model on
MiniLM fits each of those tasks' whole training set from the encoder cache, against the time
sentence-transformers' ``encode`` takes for 2000 of those texts, scaled linearly.

Run ``python benchmarks/fit_time.py``; results go to ``benchmarks/results/fit_time.json``
and the "cost" section of ``benchmarks/results/performance.md``.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import accuracy as bench  # the same models and data
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from throughput import write_section

from lightxfer import make_classifier, ngram_search
from lightxfer.shared.feature_cache import FEATURE_CACHE

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
UNTUNED = "TF-IDF 1-2 grams + LR, untuned"
EVERY_WEIGHT = "lightxfer recommended, every weight scored (no walk)"
N_PREDICT = 2000
#: Texts sentence-transformers encodes for the encoder ratio (scaled to the training set).
N_ENCODE = 2000


def untuned_tfidf():
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+")
    return Pipeline([("tfidf", vectorizer), ("head", LogisticRegression(max_iter=1000))])


class EveryWeight:
    """The recommended model, fitted with a search that scores every n-gram weight."""

    def __init__(self):
        self.model = make_classifier()

    def fit(self, X, y):
        walk, ngram_search.WALK = ngram_search.WALK, False
        try:
            self.model.fit(X, y)
        finally:
            ngram_search.WALK = walk
        return self

    def predict(self, X):
        return self.model.predict(X)


def methods(use_encoder):
    found = bench.build_methods(False, None, fasttext_ok=False, encoder_ok=use_encoder)
    found = {name: (lambda factory=factory: factory(0)) for name, factory in found.items()}
    return {UNTUNED: untuned_tfidf, EVERY_WEIGHT: EveryWeight, **found}


def run(args):
    rows = []
    for task in args.tasks:
        X, y, _, _ = bench.full_splits(args.data_dir, task, quick=False, max_folds=1)[0]
        X_pool, X_held, y_pool, _ = train_test_split(
            X, y, test_size=N_PREDICT, stratify=y, random_state=1
        )
        if args.encoder:
            bench.warm_encoder_cache(bench.texts_of([(X, y, X[:0], y[:0])]), args.encoder_cache)
        make_classifier().fit(X_pool[:20], y_pool[:20])  # the GloVe vectors, loaded once
        for size in args.sizes:
            n = min(size, len(y_pool))
            X_train, y_train = bench.cap(X_pool, y_pool, n, seed=0)
            best = {}
            for _ in range(args.repeat):
                for name, factory in methods(args.encoder).items():
                    fit, predict = time_one(factory, X_train, y_train, X_held, args.encoder)
                    old = best.get(name, (math.inf, math.inf))
                    best[name] = (min(old[0], fit), min(old[1], predict))
                    print(f"{task} {len(y_train):6d} {name[:50]:50s} fit {fit:7.2f} s", flush=True)
            for name, (fit, predict) in best.items():
                rows.append(
                    {"task": task, "n_train": len(y_train), "method": name}
                    | {"fit_s": round(fit, 3), "predict_per_s": round(N_PREDICT / predict, 1)}
                )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")  # so far
    return rows


def encoder_ratio(args):
    """Rows: the recommended MiniLM model's fit on a whole training set vs encoding it."""
    from lightxfer.shared import sentence_models

    rows = []
    for task in args.encoder_ratio:
        splits = bench.full_splits(args.data_dir, task, quick=False)
        bench.warm_encoder_cache(bench.texts_of(splits), args.encoder_cache)
        X, y = splits[0][0], splits[0][1]
        make_classifier(encoder=bench.ENCODER).fit(X[::50], y[::50])  # the model, loaded
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_classifier(encoder=bench.ENCODER).fit(X, y)
        fit = time.perf_counter() - start
        model = sentence_models.load(sentence_models.DEFAULT_MODEL).model
        sample = list(np.random.default_rng(0).permutation(X)[:N_ENCODE])
        model.encode(sample[:64], show_progress_bar=False)  # warm
        start = time.perf_counter()
        model.encode(sample, show_progress_bar=False)
        encode = (time.perf_counter() - start) * len(y) / len(sample)
        print(f"{task} {len(y)} MiniLM recommended fit {fit:.1f} s, encoding {encode:.1f} s")
        rows.append(
            {"task": task, "n_train": len(y), "fit_s": round(fit, 2), "n_encoded": len(sample)}
            | {"encode_s_scaled": round(encode, 1), "ratio": round(fit / encode, 3)}
        )
    return rows


def time_one(factory, X, y, X_held, keep_encoder_rows):
    """``(fit seconds, predict seconds)``, each from an empty feature cache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter
        if not keep_encoder_rows:
            FEATURE_CACHE.clear()
        model = factory()
        start = time.perf_counter()
        model.fit(X, y)
        fit = time.perf_counter() - start
        if not keep_encoder_rows:
            FEATURE_CACHE.clear()
        start = time.perf_counter()
        model.predict(X_held)
        return fit, time.perf_counter() - start


def markdown(rows, meta):
    lines = [
        "## Cost: fit time and prediction throughput",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Fit seconds (x untuned TF-IDF + LR in the same run) and predictions/s, torch and "
        f"BLAS at 1 thread, 2 cores shared with other jobs (load average "
        f"{meta['load_average'][0]:.1f} at the start, {meta['load_average'][1]:.1f} at the "
        f"end; `{meta['command']}`):",
        "",
    ]
    for task in dict.fromkeys(row["task"] for row in rows):
        part = [row for row in rows if row["task"] == task]
        sizes = list(dict.fromkeys(row["n_train"] for row in part))
        cell = {(row["method"], row["n_train"]): row for row in part}
        lines += [
            f"{task.upper()}:",
            "",
            "| model | "
            + " | ".join(f"fit, {n:,} texts" for n in sizes)
            + f" | predictions/s ({sizes[-1]:,} texts) |",
            "|---|" + "---:|" * (len(sizes) + 1),
        ]
        for method in dict.fromkeys(row["method"] for row in part):
            fits = []
            for n in sizes:
                seconds, base = cell[method, n]["fit_s"], cell[UNTUNED, n]["fit_s"]
                ratio = seconds / base
                fits.append(f"{seconds:.2f} s ({ratio:.{0 if ratio >= 10 else 1}f}x)")
            rate = cell[method, sizes[-1]]["predict_per_s"]
            lines.append(f"| {method} | " + " | ".join(fits) + f" | {rate:,.0f} |")
        lines.append("")
    if meta.get("encoder_ratio"):
        lines += [
            "The recommended model on MiniLM, fitted on a task's whole training set from the "
            "encoder cache, against encoding those texts (sentence-transformers `encode`, "
            f"{N_ENCODE} texts timed and scaled linearly, same threads; target 1.5x):",
            "",
            "| task | texts | fit | encoding | fit / encoding |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in meta["encoder_ratio"]:
            lines.append(
                f"| {row['task'].upper()} | {row['n_train']:,} | {row['fit_s']:.1f} s | "
                f"{row['encode_s_scaled']:.0f} s | {row['ratio']:.2f}x |"
            )
        lines.append("")
    return "\n".join(lines)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("LIGHTXFER_DATA_DIR"))
    parser.add_argument("--tasks", nargs="+", default=["sst2", "subj"], choices=bench.TASKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[200, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=1, help="fits per model; fastest kept")
    parser.add_argument("--encoder", action="store_true", help="the MiniLM models too")
    parser.add_argument(
        "--encoder-ratio",
        nargs="*",
        default=[],
        choices=bench.TASKS,
        help="tasks whose whole training set the MiniLM recommended model fits, timed "
        "against encoding it",
    )
    parser.add_argument(
        "--encoder-cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "lightxfer-bench-encoder",
        help="folder of the MiniLM embeddings of each task's texts (as accuracy.py)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "fit_time.json")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    load_at_start = os.getloadavg()[0]
    rows = run(args)
    ratios = encoder_ratio(args)
    command = "python benchmarks/fit_time.py " + " ".join(sys.argv[1:] if argv is None else argv)
    meta = {"load_average": [load_at_start, os.getloadavg()[0]], "command": command.strip()}
    meta["encoder_ratio"] = ratios
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    section = markdown(rows, meta)
    write_section(args.out.parent / "performance.md", "cost", section)
    print(section)


if __name__ == "__main__":
    main()
