"""Benchmark: what the recommended model's character n-grams buy in accuracy and cost in fit time.

The recommended model (``make_classifier()``, GloVe) with its default character 2-5
grams beside the same model without character n-grams
(``embedding__char_ngram_range=None``, word 1-2 grams only) and with cheaper character
blocks (3-5 and 3-4 grams, ``char_min_df=2`` as the default), fitted on the same draws
of the five tasks: k examples per class from the accuracy benchmark's training pools
(``accuracy.sample_per_class``, seeds 0..) and the full training data (the given split;
fold 0 of the 10-fold CV for SUBJ and MPQA), scored on the test texts of
``accuracy.full_splits``. Variants take turns on each draw, each fit timed from an empty
feature cache (the GloVe vectors loaded before timing); on the full data untuned TF-IDF +
LR (``fit_time.untuned_tfidf``) is timed beside them, so each variant's fit time is also
a ratio to it, measured in the same run.

With ``--held-out`` the draws come from the small-data search benchmark's pool and are
scored on its held-out *training* texts (``small_data_search.held_out_pool``: 20% of the
training pool, at most 2000; seeds 10..), and "all" is the rest of the pool, so no test
text takes part in choosing a default; results go to ``char_ngrams_held_out.*``.

Run from the repository root::

    python benchmarks/char_ngrams.py                      # ~6 min on 2 shared cores
    python benchmarks/char_ngrams.py --held-out --variants "chars 3-4"
    python benchmarks/char_ngrams.py --tasks trec --sizes 8 --seeds 1 --out /tmp/chars
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import accuracy as bench  # the same data and draws
import pandas as pd
from fit_time import UNTUNED, untuned_tfidf
from small_data_search import held_out_pool

from lightxfer import make_classifier
from lightxfer.shared.feature_cache import FEATURE_CACHE

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
DEFAULT = "chars 2-5 (default)"
#: Variant name -> ``char_ngram_range`` of the recommended model's HybridVectorizer.
VARIANTS = {DEFAULT: (2, 5), "no chars": None, "chars 3-5": (3, 5), "chars 3-4": (3, 4)}
SIZES = (8, 32, 128)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_data_arguments(parser)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument(
        "--seeds", type=int, default=5, help="draws per size (seeds 0.., as accuracy.py)"
    )
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME"
    )
    parser.add_argument("--no-full-data", action="store_true", help="few-shot sizes only")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="score on held-out training texts instead of the test texts",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="full-data fits per model, taking turns; fastest kept"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    return parser.parse_args(argv)


def variant(char_ngram_range):
    return lambda: make_classifier().set_params(embedding__char_ngram_range=char_ngram_range)


def fit_and_score(factory, X, y, X_test, y_test):
    """``(test accuracy %, fit seconds, fitted model)``; the fit starts from an empty cache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of tiny fits
        FEATURE_CACHE.clear()
        model = factory()
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        return 100 * model.score(X_test, y_test), seconds, model


def draws(args, X_pool, y_pool):
    """``(per_class, seed, X, y)`` of every few-shot draw, then the full training data."""
    for k in args.sizes:
        for seed in range(10, 10 + args.seeds) if args.held_out else range(args.seeds):
            yield (k, seed, *bench.sample_per_class(X_pool, y_pool, k, seed))
    if not args.no_full_data:
        yield "all", 0, X_pool, y_pool


def run(args):
    rows = []
    methods = {name: variant(VARIANTS[name]) for name in args.variants}
    for task in args.tasks:
        if args.held_out:
            X_pool, X_test, y_pool, y_test = held_out_pool(args.data_dir, task)
        else:
            X_pool, y_pool, X_test, y_test = bench.full_splits(
                args.data_dir, task, quick=False, max_folds=1
            )[0]
        make_classifier().fit(X_pool[::50], y_pool[::50])  # the GloVe vectors, loaded once
        for k, seed, X, y in draws(args, X_pool, y_pool):
            found, repeat = dict(methods), 1
            if k == "all":
                found[UNTUNED], repeat = untuned_tfidf, args.repeat
            best = {}
            for _ in range(repeat):  # the fits are deterministic: only their time varies
                for name, factory in found.items():
                    accuracy, seconds, model = fit_and_score(factory, X, y, X_test, y_test)
                    if name not in best or seconds < best[name][1]:
                        best[name] = accuracy, seconds, model.named_steps.get("embedding")
            for name, (accuracy, seconds, vectorizer) in best.items():
                rows.append(
                    {"task": task, "variant": name, "per_class": k, "seed": seed}
                    | {"n_train": len(y), "accuracy": round(accuracy, 2)}
                    | {"fit_s": round(seconds, 3)}
                    | _search_choice(vectorizer)
                )
            print(f"{task:5s} {k!s:>4s} per class, seed {seed} done", flush=True)
            write_rows(args, rows, {})  # a long run keeps what it has measured
    return rows


def _search_choice(vectorizer):
    """The n-gram weight the search chose and the width of the character block."""
    if vectorizer is None:
        return {}
    chars = vectorizer.ngram_vectorizers_.get("chars")
    return {
        "ngram_weight": vectorizer.ngram_weight_,
        "char_features": len(chars.vocabulary_) if chars is not None else 0,
    }


def result_name(args):
    return "char_ngrams_held_out" if args.held_out else "char_ngrams"


def write_rows(args, rows, meta):
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "rows": rows}
    (args.out / f"{result_name(args)}.json").write_text(json.dumps(payload, indent=1) + "\n")


def markdown(rows, meta, args):
    table = pd.DataFrame(rows)
    table["per_class"] = table["per_class"].astype(str)
    variants = [v for v in args.variants if v in set(table["variant"])]
    tasks = list(dict.fromkeys(table["task"]))
    sizes = list(dict.fromkeys(table["per_class"]))
    accuracy = table.groupby(["task", "per_class", "variant"])["accuracy"].mean().unstack()
    lines = [
        "## Character n-grams in the recommended model: accuracy bought, fit time paid"
        + (", on held-out training texts" if args.held_out else ""),
        "",
        __doc__.split("\n\n")[2 if args.held_out else 1].replace("\n", " "),
        "",
        f"{'Held-out training' if args.held_out else 'Test'} accuracy %, mean of {args.seeds} draws per few-shot size (one fit on the full "
        "data); 1 thread, 2 cores shared with other jobs (load average "
        f"{meta['load_average'][0]:.1f} at the start, {meta['load_average'][1]:.1f} at the "
        f"end; `{meta['command']}`, {meta['wall_seconds']:.0f} s):",
        "",
        "| task | per class | " + " | ".join(variants) + " |",
        "|---|---|" + "---:|" * len(variants),
    ]
    for task in tasks:
        for k in sizes:
            cells = [f"{accuracy.loc[(task, k), v]:.1f}" for v in variants]
            lines.append(f"| {task.upper()} | {k} | " + " | ".join(cells) + " |")
    mean = accuracy.groupby(level="per_class").mean()
    for k in sizes:
        cells = [f"**{mean.loc[k, v]:.2f}**" for v in variants]
        lines.append(f"| mean | {k} | " + " | ".join(cells) + " |")
    lines += ["", "Change vs the default, per size: mean over tasks (worst task):", ""]
    lines += ["| variant | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for v in variants[1:]:
        change = (accuracy[v] - accuracy[DEFAULT]).unstack("per_class")
        cells = [f"{change[k].mean():+.2f} ({change[k].min():+.1f})" for k in sizes]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    full = table[table["per_class"] == "all"]
    if not full.empty:
        seconds = full.pivot_table(index="task", columns="variant", values="fit_s")
        n_train = full.groupby("task")["n_train"].first()
        lines += [
            "",
            f"Fit seconds on the full training data, fastest of {args.repeat} turns (x untuned "
            "TF-IDF + LR, same run):",
            "",
            "| task | texts | " + " | ".join([*variants, UNTUNED]) + " |",
            "|---|---:|" + "---:|" * (len(variants) + 1),
        ]
        for task in tasks:
            base = seconds.loc[task, UNTUNED]
            cells = [
                f"{seconds.loc[task, v]:.2f} s ({seconds.loc[task, v] / base:.1f}x)"
                for v in variants
            ]
            lines.append(
                f"| {task.upper()} | {n_train[task]:,} | "
                + " | ".join(cells)
                + f" | {base:.2f} s |"
            )
        ratio = seconds[variants].div(seconds[UNTUNED], axis=0).mean()
        lines.append(
            "| mean ratio | | " + " | ".join(f"{ratio[v]:.1f}x" for v in variants) + " | 1x |"
        )
    few = table[(table["per_class"] != "all") & table["variant"].isin(variants)]
    if not few.empty:
        total = few.groupby("variant")["fit_s"].sum()
        lines += [
            "",
            "Few-shot fit seconds, all draws summed, x the default: "
            + ", ".join(f"{v} {total[v] / total[DEFAULT]:.2f}x" for v in variants[1:])
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if DEFAULT not in args.variants:
        args.variants.insert(0, DEFAULT)  # every change is measured against it
    args.variants.sort(key=list(VARIANTS).index)
    load_at_start, start = os.getloadavg()[0], time.perf_counter()
    rows = run(args)
    command = "python benchmarks/char_ngrams.py " + " ".join(sys.argv[1:] if argv is None else argv)
    meta = {
        "command": command.strip(),
        "load_average": [load_at_start, os.getloadavg()[0]],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "seeds": args.seeds,
        "repeat": args.repeat,
        "sizes": args.sizes,
        "variants": {name: VARIANTS[name] for name in args.variants},
    }
    write_rows(args, rows, meta)
    text = markdown(rows, meta, args)
    (args.out / f"{result_name(args)}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
