"""Leave-one-out: does reusing the shipped source heads help a small target task?

Each shipped task is the target in turn; the sources are the other shipped heads
(``lightxfer/data/sources``) whose training texts share no text with the target's texts
(training pool and test), by exact match and after lower-casing and collapsing white
space. That rules out SST-2 and SST-5 for each other (one treebank) and SUBJ with either
(SUBJ's Rotten Tomatoes snippets include ~1,300 SST sentences). The counts are written
with the results. For each target, size (examples per
class) and seed, every model trains on the same sample of the target's training pool
(the given training split, or the training part of fold 0 of the stratified 10-fold
split of benchmarks/accuracy.py) and is scored on the same test texts:

- frozen MiniLM + LR: the frozen encoder under a CV-tuned logistic regression;
- recommended: ``make_classifier(encoder=...)``, today's recommended model;
- recommended + sources: ``make_classifier(encoder=..., sources=[...])``;
- transfer from <source>: ``transfer(load_source(name), head=<CV-tuned LR>)``, the
  source's frozen hidden layer under a new head;
- LR + sources: ``make_classifier(encoder=..., sources=[...], head=<CV-tuned LR>)``.

Run from the repository root (texts are encoded once, cached in --cache-dir)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/shipped_sources.py
"""

import argparse
import functools
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy

import lightxfer
from lightxfer import SentenceEncoder, SourceBlocks, make_classifier, transfer
from lightxfer.source_models.shipped import NAMES, load_source

ROOT = Path(__file__).resolve().parents[1]
ENCODER = "all-MiniLM-L6-v2"
LR = "frozen MiniLM + LR"
RECOMMENDED = "recommended"
WITH_SOURCES = "recommended + sources"
LR_SOURCES = "LR + sources"
SETFIT = "SetFit"
ALL_FAIR = "transfer from all (fair) sources"
#: ``--sizes`` value for the whole training pool (one draw: it is the same for every seed).
FULL = "full"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(NAMES), help="target tasks")
    parser.add_argument(
        "--sizes", default="8,16,32,128,full", help="examples per class, or 'full' (all)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="training samples per size (5)")
    parser.add_argument(
        "--methods", help="run only methods whose name contains one of these (comma-separated)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="write the report from --work's rows"
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="only time recommended vs recommended + sources side by side (fastest of 3, "
        "taking turns) on --targets, --sizes and --seeds; the report then includes it",
    )
    parser.add_argument("--test-rows", type=int, help="stratified cap on each test set")
    parser.add_argument(
        "--setfit-python",
        help="Python of an environment with setfit (benchmarks/setfit_runner.py): SetFit "
        "runs beside, on the same draws of --setfit-targets at --setfit-sizes",
    )
    parser.add_argument("--setfit-targets", default="sst2,subj", help="SetFit targets")
    parser.add_argument("--setfit-sizes", default="8", help="SetFit examples per class")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/lightxfer-shipped-sources"),
        help="every fit's row, and SetFit's draws and results (a rerun resumes)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/tmp/lightxfer-bench-encoder"), help="encoder cache"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def leakage_into(target, X_pool, X_test):
    """``{"source → target": overlap}`` of every other shipped source with the target's texts."""
    texts = np.concatenate([X_pool, X_test])
    return {f"{name} → {target}": overlap(name, texts) for name in NAMES if name != target}


def fair_sources(target, leakage):
    """The sources that may serve ``target``: not itself, and sharing none of its texts.

    ``leakage`` maps ``"source → target"`` to the overlap counts of :func:`overlap`.
    """
    return [s for s in NAMES if s != target and max(leakage[f"{s} → {target}"]) == 0]


@functools.cache
def source_texts(name):
    """The texts a shipped source head was trained on (see benchmarks/train_sources.py)."""
    return accuracy.full_splits(None, name, quick=False)[0][0]


def _normal(text):
    return re.sub(r"\s+", " ", str(text).strip().lower())


def overlap(source, target_texts):
    """``(exact, normalised)``: how many distinct target texts the source was trained on."""
    texts = source_texts(source)
    exact = len(set(map(str, target_texts)) & set(map(str, texts)))
    normal = len({_normal(t) for t in target_texts} & {_normal(t) for t in texts})
    return exact, normal


def methods_for(sources):
    methods = {
        LR: lambda: make_classifier(encoder=ENCODER, head=accuracy._lr_cv()),
        RECOMMENDED: lambda: make_classifier(encoder=ENCODER),
        WITH_SOURCES: lambda: make_classifier(encoder=ENCODER, sources=sources),
        LR_SOURCES: lambda: make_classifier(
            encoder=ENCODER, sources=sources, head=accuracy._lr_cv()
        ),
    }
    # transfer("all") restricted to the fair sources: every block at weight 1, no search.
    methods[ALL_FAIR] = lambda: Pipeline(
        [
            ("embedding", SourceBlocks(SentenceEncoder(), sources=sources, weight=1.0)),
            ("head", accuracy._lr_cv()),
        ]
    )
    for name in sources:
        methods[f"transfer from {name}"] = lambda name=name: transfer(
            load_source(name), head=accuracy._lr_cv()
        )
    return methods


def start_setfit(args):
    """Write SetFit's draws (the same as every other method's) and start it beside; or None."""
    if not args.setfit_python:
        return None
    jobs = []
    sizes = [int(s) for s in args.setfit_sizes.split(",")]
    for target in [t.strip() for t in args.setfit_targets.split(",") if t.strip()]:
        X_pool, y_pool, X_test, y_test = accuracy.full_splits(None, target, quick=False)[0]
        X_test, y_test = accuracy.cap(X_test, y_test, args.test_rows)
        for k in sizes:
            for seed in range(args.seeds):
                X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                name = f"{target}-{k}-{seed}"
                path = args.work / "draws" / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                draw = {"X": X, "y": y, "X_test": X_test, "y_test": y_test}
                path.write_text(json.dumps({key: v.tolist() for key, v in draw.items()}))
                job = {"job": name, "target": target, "per_class": k, "seed": seed}
                jobs.append({**job, "draw": str(path)})
    (args.work / "setfit_jobs.json").write_text(json.dumps(jobs))
    runner = Path(__file__).with_name("setfit_runner.py")
    log = (args.work / "setfit.log").open("a")
    command = [args.setfit_python, str(runner), str(args.work / "setfit_jobs.json")]
    return subprocess.Popen(
        [*command, str(args.work / "setfit.jsonl"), "1"], stdout=log, stderr=log
    )


def setfit_rows(work):
    """SetFit's finished rows in this benchmark's row format."""
    path = work / "setfit.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        keep = ("target", "per_class", "seed", "accuracy")
        rows.append(
            {
                **{key: row[key] for key in keep},
                "method": SETFIT,
                "fit_seconds": row["fit_seconds"],
                "sources_weight": None,
            }
        )
    return rows


def time_pairs(args, targets, sizes):
    """Fit seconds of recommended and recommended + sources, side by side, per draw."""
    rows = []
    for target in targets:
        splits = accuracy.full_splits(None, target, quick=False)
        X_pool, y_pool, X_test, _ = splits[0]
        accuracy.warm_encoder_cache(accuracy.texts_of(splits), args.cache_dir)
        methods = methods_for(fair_sources(target, leakage_into(target, X_pool, X_test)))
        for k in sizes:
            for seed in range(args.seeds):
                X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                best = {RECOMMENDED: np.inf, WITH_SOURCES: np.inf}
                for _ in range(3):
                    for method in best:
                        start = time.perf_counter()
                        methods[method]().fit(X, y)
                        best[method] = min(best[method], time.perf_counter() - start)
                rows.append({"target": target, "per_class": k, "seed": seed, **best})
                print(json.dumps(rows[-1]), flush=True)
    (args.out / "shipped_sources_timing.json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None):
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [s if s == FULL else int(s) for s in args.sizes.split(",")]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.timing:
        time_pairs(args, targets, sizes)
        return 0
    chosen = [m.strip() for m in args.methods.split(",")] if args.methods else None
    log = args.work / "rows.jsonl"
    done = {_key(row) for row in _read_rows(log)}
    setfit = None if args.report_only else start_setfit(args)
    leakage = {}
    for target in targets:
        splits = accuracy.full_splits(None, target, quick=False)
        X_pool, y_pool, X_test, y_test = splits[0]
        leakage.update(leakage_into(target, X_pool, X_test))
        sources = fair_sources(target, leakage)
        print(f"target {target}: fair sources {sources}", flush=True)
        if args.report_only:
            continue
        accuracy.warm_encoder_cache(accuracy.texts_of(splits), args.cache_dir)
        X_test, y_test = accuracy.cap(X_test, y_test, args.test_rows)
        methods = {
            name: build
            for name, build in methods_for(sources).items()
            if not chosen or any(m in name for m in chosen)
        }
        # Size after size, seed after seed, every method on each draw: a run cut short
        # still compares the methods on the same draws (and a rerun resumes).
        for k in sizes:
            for seed in range(1 if k == FULL else args.seeds):
                X, y = (
                    (X_pool, y_pool)
                    if k == FULL
                    else accuracy.sample_per_class(X_pool, y_pool, k, seed)
                )
                for method, build in methods.items():
                    row = {"target": target, "method": method, "per_class": k, "seed": seed}
                    if _key(row) in done:
                        continue
                    start = time.perf_counter()
                    model = build().fit(X, y)
                    row["fit_seconds"] = time.perf_counter() - start
                    row["accuracy"] = 100.0 * float(np.mean(model.predict(X_test) == y_test))
                    row["sources_weight"] = _sources_weight(model)
                    with log.open("a") as out:
                        out.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    if setfit is not None:
        setfit.wait()
    rows = _read_rows(log) + setfit_rows(args.work)
    rows = [row for row in rows if row["target"] in targets]
    write(args, rows, leakage)
    return 0


def _key(row):
    return row["target"], row["method"], str(row["per_class"]), row["seed"]


def _read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _sources_weight(model):
    step = model.named_steps["embedding"]  # SourceBlocks, or a HybridVectorizer over one
    for blocks in (step, getattr(step, "shared_", None)):
        if hasattr(blocks, "weights_"):
            return dict(zip(blocks.sources_, blocks.weights_.tolist()))
    return None


def write(args, rows, leakage):
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python " + " ".join(sys.argv),
        "seeds": args.seeds,
        "sizes": args.sizes,
        "test_rows": args.test_rows,
        "python": platform.python_version(),
        "lightxfer": lightxfer.__version__,
        "machine": "2 shared CPU cores, loaded by other jobs; 1 thread, nice 5",
    }
    leak = {key: {"exact": e, "normalised": n} for key, (e, n) in leakage.items()}
    timing = args.out / "shipped_sources_timing.json"
    if timing.is_file():
        meta["timing"] = json.loads(timing.read_text())
    payload = {"meta": meta, "leakage": leak, "rows": rows}
    (args.out / "shipped_sources.json").write_text(json.dumps(payload, indent=1) + "\n")
    (args.out / "shipped_sources.md").write_text(markdown(pd.DataFrame(rows), leak, meta))
    print(f"wrote shipped_sources.json and .md to {args.out}")


def markdown(frame, leak, meta):
    frame = frame.assign(size=frame["per_class"].map(_size_label))
    sizes = sorted(frame["size"].unique(), key=_size_order)
    seeds = frame.groupby("size")["seed"].nunique()
    lines = [
        "## Shipped sources, leave-one-out (test accuracy %, mean over seeds)",
        "",
        "`benchmarks/train_sources.py` trains the five shipped source heads "
        "(`make_classifier(encoder='all-MiniLM-L6-v2', head='mlp')` on each shipped task); "
        "`benchmarks/shipped_sources.py` makes each task the target in turn, with the other "
        "heads as sources. **Fair pairs** (no text shared by exact or normalised match, "
        "counted below): TREC and MPQA serve every target; SST-2, SST-5 and SUBJ never "
        "serve each other (SST-2 and SST-5 are one treebank, and SUBJ's Rotten Tomatoes "
        "snippets include ~1,300 SST sentences). So SST-2, SST-5 and SUBJ have two sources "
        "(TREC, MPQA), TREC and MPQA four. Rows: *frozen MiniLM + LR* (CV-tuned logistic "
        "regression on the frozen encoder), *recommended* (`make_classifier(encoder=...)`), "
        "*recommended + sources* (`make_classifier(encoder=..., sources=[fair sources])`: "
        "each source's hidden layer appended if validation on the training texts says it "
        "helps), *LR + sources* (the same layer under the CV-tuned LR), *transfer from X* "
        "(`transfer(load_source(X), head=<CV-tuned LR>)`: the frozen encoder and X's frozen "
        "hidden layer), *transfer from all (fair) sources* (as `transfer('all')`, but only "
        "the fair sources: every block at weight 1 under the CV-tuned LR), and *SetFit* (SetFit 1.2 on the same all-MiniLM-L6-v2 files, its "
        "classic recipe: `benchmarks/setfit_runner.py`, same draws, where it was run).",
        "",
        "Scale: sizes (examples per class, seeds) "
        + ", ".join(f"{size} ({seeds[size]})" for size in sizes)
        + "; the given test split (SST-2, SST-5, TREC) or fold 0 of the stratified 10-fold "
        "split (SUBJ, MPQA); "
        + (f"test sets capped at {meta['test_rows']} rows; " if meta["test_rows"] else "")
        + f"{meta['machine']}.",
        "",
    ]
    table = frame.pivot_table(
        index=["target", "size"], columns="method", values="accuracy", aggfunc="mean"
    )
    table = table.reindex(sorted(table.index, key=lambda i: (i[0], _size_order(i[1]))))
    order = [LR, RECOMMENDED, WITH_SOURCES, LR_SOURCES, SETFIT, ALL_FAIR]
    order += sorted(c for c in table.columns if c not in order)
    table = table[[c for c in order if c in table.columns]]
    lines.append("| target | per class | " + " | ".join(table.columns) + " |")
    lines.append("| --- | --- |" + " --- |" * len(table.columns))
    for (target, size), row in table.iterrows():
        cells = ["" if np.isnan(v) else f"{v:.1f}" for v in row]
        lines.append(f"| {target} | {size} | " + " | ".join(cells) + " |")
    lines.append("")
    for size in sizes:
        part = table.xs(size, level="size").dropna(subset=[LR, WITH_SOURCES])
        gain = part[WITH_SOURCES] - part[LR]
        lines.append(
            f"- {'all training data' if size == FULL else f'{size} per class'}, mean over "
            f"{len(part)} targets: recommended + sources "
            f"{part[WITH_SOURCES].mean():.1f}, frozen MiniLM + LR {part[LR].mean():.1f} "
            f"({gain.mean():+.1f}; worst target {gain.min():+.1f}, {gain.idxmin()}), "
            f"recommended {part[RECOMMENDED].mean():.1f}."
        )
        draws = frame[(frame["size"] == size) & frame["method"].isin([LR, WITH_SOURCES, SETFIT])]
        draws = draws.pivot_table(
            index=["target", "seed"], columns="method", values="accuracy"
        ).dropna()
        if SETFIT in draws:  # on the draws SetFit finished, per target, then over targets
            ran = draws.groupby("target").mean()
            lines.append(
                f"  SetFit on {', '.join(ran.index)} ({len(draws)} draws): "
                f"{ran[SETFIT].mean():.1f}; on the same draws recommended + sources "
                f"{ran[WITH_SOURCES].mean():.1f}, frozen MiniLM + LR {ran[LR].mean():.1f}."
            )
    timing = meta.get("timing")
    if timing:
        pairs = pd.DataFrame(timing)
        ratio = pairs[WITH_SOURCES] / pairs[RECOMMENDED]
        lines.append(
            f"- Fit time, timed side by side (fastest of 3, warm encoder cache; "
            f"{', '.join(sorted(pairs['target'].unique()))} at "
            f"{', '.join(map(str, sorted(pairs['per_class'].unique())))} per class, "
            f"{pairs['seed'].nunique()} draws each): recommended + sources takes "
            f"{ratio.median():.2f}x the recommended model's time (median; range "
            f"{ratio.min():.2f}-{ratio.max():.2f}x; recommended "
            f"{pairs[RECOMMENDED].median():.2f} s median)."
        )
    full = frame[frame["size"] == FULL].pivot_table(
        index="target", columns="method", values="fit_seconds"
    )
    if not full.empty:
        ratio = full[WITH_SOURCES] / full[RECOMMENDED]
        lines.append(
            "- Fit time with all the training data (one fit each, back to back in one run): "
            "recommended + sources takes "
            + ", ".join(f"{t} {r:.1f}x" for t, r in ratio.items())
            + " the recommended model's time."
        )
    seconds = frame.groupby("method")["fit_seconds"].median()
    if SETFIT in seconds:
        lines.append(f"- SetFit's fit: {seconds[SETFIT]:.0f} s median (1 torch thread).")
    kept = frame[frame["method"] == WITH_SOURCES].dropna(subset=["sources_weight"])
    share = {}
    for (target, size), group in kept.groupby(["target", "size"]):
        for source in group["sources_weight"].iloc[0]:
            used = np.mean([w[source] > 0 for w in group["sources_weight"]])
            share[f"{target} {size}"] = share.get(f"{target} {size}", []) + [f"{source} {used:.0%}"]
    lines.append(
        "- Sources kept (recommended + sources, share of draws): "
        + "; ".join(f"{key}: {', '.join(value)}" for key, value in share.items())
    )
    lines += ["", "Text overlap, source training texts ∩ target texts (exact / normalised):", ""]
    lines += [f"- {key}: {v['exact']} / {v['normalised']}" for key, v in leak.items()]
    return "\n".join(lines) + "\n"


def _size_label(per_class):
    return str(per_class)


def _size_order(label):
    return (label == FULL, int(label) if label != FULL else 0)


if __name__ == "__main__":
    sys.exit(main())
