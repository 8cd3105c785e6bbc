"""Benchmark: how the recommended model should decide which shipped sources to use.

Leave-one-out over the five shipped tasks, fair sources only (as in
``benchmarks/shipped_sources.py``), on the same draws (``accuracy.sample_per_class``).
On each draw every subset of the target's sources is scored once: its validation
accuracy on the search's own splits (``ngram_search.validation_splits`` and
``path_accuracy``: the encoder's features and each source's hidden layer, every block
at unit RMS norm) and its test accuracy under ``LogisticRegression`` at the C its
validation path chose. The decision rules are then replayed from those scores, so each
is measured on exactly the same fits:

- *one weight*: all sources or none, the lightest within z standard errors of the best
  (``SourceBlocks``' rule at z = 0.5);
- *one norm*: the same with one RMS norm for all the sources' blocks together;
- *each source*: each source kept if it alone beats the encoder by z SE;
- *every subset*: the lightest subset within z SE of the best;
- *one weight, one shuffle*: the shipped rule decided on one shuffle of the 3-fold CV
  instead of the search's repeated folds (a fifth of its fits on small data).

``--vectors`` asks the other question of the issue: would source heads trained on the
default GloVe vectors (``make_classifier(head="mlp")`` on each shipped task) help a
GloVe target? Frozen GloVe mean + CV-tuned LR against the same plus the sources kept
by the *each source* rule at half an SE.

Run from the repository root (MiniLM embeddings read from the encoder cache)::

    OMP_NUM_THREADS=1 python benchmarks/source_rules.py [--vectors]
"""

import argparse
import itertools
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy
from shipped_sources import fair_sources, leakage_into

from lightxfer import EmbeddingVectorizer, SentenceEncoder, make_classifier, ngram_search
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.ngram_search import CS
from lightxfer.source_models.shipped import NAMES, read_source

ROOT = Path(__file__).resolve().parents[1]
Z = (0.25, 0.5, 1.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,16,32", help="examples per class")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--vectors", action="store_true", help="the GloVe question instead")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/tmp/lightxfer-bench-encoder"), help="encoder cache"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    return parser.parse_args(argv)


def target_data(target, cache_dir):
    """Pool and test embeddings of ``target`` and its fair sources' hidden layers."""
    splits = accuracy.full_splits(None, target, quick=False)
    X_pool, y_pool, X_test, y_test = splits[0]
    sources = fair_sources(target, leakage_into(target, X_pool, X_test))
    accuracy.warm_encoder_cache(accuracy.texts_of(splits), cache_dir)
    encoder = SentenceEncoder()
    pool = np.asarray(encoder.fit_transform(list(X_pool)), np.float64)
    test = np.asarray(encoder.transform(list(X_test)), np.float64)
    hidden = []
    for name in sources:
        arrays = read_source(name)[0]
        coef, intercept = (
            arrays[k].astype(np.float64) for k in ("hidden_coef", "hidden_intercept")
        )
        layer = FrozenHiddenLayers([coef], [intercept]).fit(pool)
        hidden.append((layer.transform(pool), layer.transform(test)))
    return sources, pool, y_pool, test, y_test, hidden


def one_shuffle_splits(y):
    """The search's splits without the repeats on small data (``REPEAT_UNTIL=0``)."""
    saved, ngram_search.REPEAT_UNTIL = ngram_search.REPEAT_UNTIL, 0
    try:
        return ngram_search.validation_splits(y)
    finally:
        ngram_search.REPEAT_UNTIL = saved


def score_subsets(E, y, E_test, y_test, hidden, joint_norm=False, splits=None, subsets=None):
    """``{subset: (validation accuracy, test accuracy)}``, subsets as '0101' strings."""
    splits = ngram_search.validation_splits(y) if splits is None else splits
    norms = [ngram_search.rms_norm(train) for train, _ in hidden]
    scores = {}
    for subset in subsets or itertools.product((0, 1), repeat=len(hidden)):
        used = [block for block, keep in zip(hidden, subset) if keep]
        norm = (
            ngram_search.rms_norm(np.hstack([train for train, _ in used]))
            if used and joint_norm
            else None
        )
        train = [E / ngram_search.rms_norm(E)]
        test = [E_test / ngram_search.rms_norm(E)]
        for (block, block_test), n, keep in zip(hidden, norms, subset):
            if keep:
                train.append(block / (norm or n))
                test.append(block_test / (norm or n))
        train, test = np.hstack(train), np.hstack(test)
        path = ngram_search.path_accuracy(train, y, splits, list(CS))
        C = CS[int(np.nanargmax(path))]
        model = LogisticRegression(C=C, max_iter=2000).fit(train, y)
        key = "".join(map(str, subset))
        scores[key] = (float(np.nanmax(path)), 100 * float(np.mean(model.predict(test) == y_test)))
    return scores, ngram_search.n_validated(splits)


def standard_error(accuracy_, n_valid):
    return np.sqrt(accuracy_ * (1 - accuracy_) / n_valid)


def one_weight(scores, n_valid, z):
    k = len(next(iter(scores)))
    none, every = scores["0" * k][0], scores["1" * k][0]
    return "1" * k if every > none + z * standard_error(max(none, every), n_valid) else "0" * k


def each_source(scores, n_valid, z):
    k = len(next(iter(scores)))
    base = scores["0" * k][0]
    singles = ["".join("1" if j == i else "0" for j in range(k)) for i in range(k)]
    margin = z * standard_error(base, n_valid)
    return "".join("1" if scores[s][0] > base + margin else "0" for s in singles)


def every_subset(scores, n_valid, z):
    top = max(v for v, _ in scores.values())
    lightest_first = sorted(scores, key=lambda s: s.count("1"))
    return next(s for s in lightest_first if scores[s][0] >= top - z * standard_error(top, n_valid))


RULES = {"one weight": one_weight, "each source": each_source, "every subset": every_subset}


def run_rules(args, sizes):
    rows = []
    for target in NAMES:
        sources, pool, y_pool, test, y_test, hidden = target_data(target, args.cache_dir)
        print(f"{target}: fair sources {sources}", flush=True)
        for k in sizes:
            for seed in range(args.seeds):
                index, y = accuracy.sample_per_class(np.arange(len(y_pool)), y_pool, k, seed)
                blocks = [(train[index], test_) for train, test_ in hidden]
                lr = LogisticRegressionCV(Cs=list(CS), cv=5, max_iter=1000).fit(pool[index], y)
                row = {"target": target, "per_class": k, "seed": seed}
                row["frozen MiniLM + LR"] = 100 * float(np.mean(lr.predict(test) == y_test))
                scores, n_valid = score_subsets(pool[index], y, test, y_test, blocks)
                joint, _ = score_subsets(pool[index], y, test, y_test, blocks, joint_norm=True)
                for z in Z:
                    for name, rule in RULES.items():
                        row[f"{name}, {z} SE"] = scores[rule(scores, n_valid, z)][1]
                    row[f"one norm, {z} SE"] = joint[one_weight(joint, n_valid, z)][1]
                # The shipped rule on one shuffle; its pick is scored as above.
                ends = [(0,) * len(blocks), (1,) * len(blocks)]
                splits = one_shuffle_splits(y)
                shuffle, _ = score_subsets(
                    pool[index], y, test, y_test, blocks, splits=splits, subsets=ends
                )
                pick = one_weight(shuffle, ngram_search.n_validated(splits), 0.5)
                row["one weight, 0.5 SE, one shuffle"] = scores[pick][1]
                row["candidates"] = len(scores)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return pd.DataFrame(rows)


def run_vectors(args, sizes):
    """GloVe: source heads trained on the shipped tasks, reused on the other tasks."""
    glove = EmbeddingVectorizer().fit(["a"])
    heads = {}
    for name in NAMES:
        X, y, _, _ = accuracy.full_splits(None, name, quick=False)[0]
        heads[name] = FrozenHiddenLayers.from_mlp(
            make_classifier(head="mlp").fit(X, y).named_steps["head"]
        )
    rows = []
    for target in NAMES:
        X_pool, y_pool, X_test, y_test = accuracy.full_splits(None, target, quick=False)[0]
        leakage = leakage_into(target, X_pool, X_test)
        pool = glove.transform(X_pool).astype(np.float64)
        test = glove.transform(X_test).astype(np.float64)
        hidden = [
            (heads[n].fit(pool).transform(pool), heads[n].transform(test))
            for n in fair_sources(target, leakage)
        ]
        for k in sizes:
            for seed in range(args.seeds):
                index, y = accuracy.sample_per_class(np.arange(len(y_pool)), y_pool, k, seed)
                blocks = [(train[index], test_) for train, test_ in hidden]
                scores, n_valid = score_subsets(pool[index], y, test, y_test, blocks)
                lr = LogisticRegressionCV(Cs=list(CS), cv=5, max_iter=1000).fit(pool[index], y)
                row = {"target": target, "per_class": k, "seed": seed}
                row["frozen GloVe + LR"] = 100 * float(np.mean(lr.predict(test) == y_test))
                row["+ GloVe sources, each source 0.5 SE"] = scores[
                    each_source(scores, n_valid, 0.5)
                ][1]
                rows.append(row)
                print(json.dumps(row), flush=True)
    return pd.DataFrame(rows)


def markdown(frame, baseline, title):
    methods = [c for c in frame.columns if c not in ("target", "per_class", "seed", "candidates")]
    table = frame.groupby(["target", "per_class"])[methods].mean()
    gain = table.sub(table[baseline], axis=0)
    lines = [f"## {title}", "", f"Gain over {baseline} in test accuracy points: mean over the "
             f"five leave-one-out targets (worst target), {frame['seed'].nunique()} draws "
             "per size.", ""]  # fmt: skip
    sizes = sorted(frame["per_class"].unique())
    lines.append("| rule | " + " | ".join(f"{k} per class" for k in sizes) + " |")
    lines.append("| --- |" + " ---: |" * len(sizes))
    for method in methods:
        if method == baseline:
            continue
        cells = [
            f"{gain.xs(k, level='per_class')[method].mean():+.2f} "
            f"({gain.xs(k, level='per_class')[method].min():+.2f})"
            for k in sizes
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if "candidates" in frame:
        per_target = frame.groupby("target")["candidates"].first()
        lines += [
            "",
            "Subsets scored per draw: " + ", ".join(f"{t} {n}" for t, n in per_target.items()),
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="sklearn")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.vectors:
        frame, name = run_vectors(args, sizes), "source_rules_glove"
        text = markdown(frame, "frozen GloVe + LR", "Source heads on GloVe, leave-one-out")
    else:
        frame, name = run_rules(args, sizes), "source_rules"
        text = markdown(frame, "frozen MiniLM + LR", "How to decide which sources to use")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(frame.to_json(orient="records", indent=1) + "\n")
    (args.out / f"{name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
