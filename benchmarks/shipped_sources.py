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
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy

import lightxfer
from lightxfer import make_classifier, transfer
from lightxfer.shipped_sources import NAMES, load_source

ROOT = Path(__file__).resolve().parents[1]
ENCODER = "all-MiniLM-L6-v2"
LR = "frozen MiniLM + LR"
RECOMMENDED = "recommended"
WITH_SOURCES = "recommended + sources"
LR_SOURCES = "LR + sources"
SETFIT = "SetFit"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(NAMES), help="target tasks")
    parser.add_argument("--sizes", default="8,32", help="examples per class (8,32)")
    parser.add_argument("--seeds", type=int, default=3, help="training samples per size (3)")
    parser.add_argument(
        "--methods",
        help="rerun only methods whose name contains one of these (comma-separated); the "
        "other rows are kept from shipped_sources.json in --out",
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
        help="SetFit's draws and results (a rerun resumes)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/tmp/lightxfer-bench-encoder"), help="encoder cache"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def fair_sources(target, leakage):
    """The sources that may serve ``target``: not itself, and sharing none of its texts.

    ``leakage`` maps ``"source → target"`` to the overlap counts of :func:`overlap`.
    """
    return [s for s in NAMES if s != target and max(leakage[f"{s} → {target}"]) == 0]


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


def main(argv=None):
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    setfit = start_setfit(args)
    rows, leakage = [], {}
    chosen = [m.strip() for m in args.methods.split(",")] if args.methods else None
    if chosen:
        previous = json.loads((args.out / "shipped_sources.json").read_text())["rows"]
        rows = [r for r in previous if not any(m in r["method"] for m in chosen)]
    for target in targets:
        splits = accuracy.full_splits(None, target, quick=False)
        X_pool, y_pool, X_test, y_test = splits[0]
        for name in NAMES:
            if name != target:
                leakage[f"{name} → {target}"] = overlap(name, np.concatenate([X_pool, X_test]))
        sources = fair_sources(target, leakage)
        print(f"target {target}: fair sources {sources}", flush=True)
        accuracy.warm_encoder_cache(accuracy.texts_of(splits), args.cache_dir)
        X_test, y_test = accuracy.cap(X_test, y_test, args.test_rows)
        for method, build in methods_for(sources).items():
            if chosen and not any(m in method for m in chosen):
                continue
            for k in sizes:
                for seed in range(args.seeds):
                    X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                    start = time.perf_counter()
                    model = build().fit(X, y)
                    seconds = time.perf_counter() - start
                    score = 100.0 * float(np.mean(model.predict(X_test) == y_test))
                    weight = _sources_weight(model)
                    rows.append(
                        {
                            "target": target,
                            "method": method,
                            "per_class": k,
                            "seed": seed,
                            "accuracy": score,
                            "fit_seconds": seconds,
                            "sources_weight": weight,
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    if setfit is not None:
        setfit.wait()
    rows = [row for row in rows if row["method"] != SETFIT] + setfit_rows(args.work)
    write(args, rows, leakage)
    return 0


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
        "machine": "2 shared CPU cores, loaded by other jobs; 1 thread, nice 10",
    }
    leak = {key: {"exact": e, "normalised": n} for key, (e, n) in leakage.items()}
    payload = {"meta": meta, "leakage": leak, "rows": rows}
    (args.out / "shipped_sources.json").write_text(json.dumps(payload, indent=1) + "\n")
    (args.out / "shipped_sources.md").write_text(markdown(pd.DataFrame(rows), leak, meta))
    print(f"wrote shipped_sources.json and .md to {args.out}")


def markdown(frame, leak, meta):
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
        "the sources' hidden layers appended, their weight 0 or 1 chosen by validation on "
        "the training texts), *LR + sources* (the same block under the CV-tuned LR), and "
        "*transfer from X* (`transfer(load_source(X), head=<CV-tuned LR>)`: the frozen "
        "encoder and X's frozen hidden layer).",
        "",
        f"Scale: {meta['seeds']} seeds; sizes {meta['sizes']} per class (16, 128 and full "
        "data not run, for time); the given test split (SST-2, SST-5, TREC) or fold 0 of "
        "the stratified 10-fold split (SUBJ, MPQA); "
        + (f"test sets capped at {meta['test_rows']} rows; " if meta["test_rows"] else "")
        + f"{meta['machine']}. SetFit was not run.",
        "",
    ]
    table = frame.pivot_table(
        index=["target", "per_class"], columns="method", values="accuracy", aggfunc="mean"
    )
    order = [LR, RECOMMENDED, WITH_SOURCES, LR_SOURCES]
    order += sorted(c for c in table.columns if c not in order)
    table = table[[c for c in order if c in table.columns]]
    lines.append("| target | per class | " + " | ".join(table.columns) + " |")
    lines.append("| --- | --- |" + " --- |" * len(table.columns))
    for (target, k), row in table.iterrows():
        cells = ["" if np.isnan(v) else f"{v:.1f}" for v in row]
        lines.append(f"| {target} | {k} | " + " | ".join(cells) + " |")
    lines.append("")
    means = frame.groupby(["per_class", "method"])["accuracy"].mean().unstack()
    for k, row in means.iterrows():
        gain = row[WITH_SOURCES] - row[LR]
        worst = (
            table.xs(k, level="per_class")[WITH_SOURCES] - table.xs(k, level="per_class")[LR]
        ).min()
        lines.append(
            f"- {k} per class, mean over targets: recommended + sources {row[WITH_SOURCES]:.1f}, "
            f"frozen MiniLM + LR {row[LR]:.1f} ({gain:+.1f}; worst target {worst:+.1f}), "
            f"recommended {row[RECOMMENDED]:.1f}."
        )
    seconds = frame.groupby("method")["fit_seconds"].median()
    lines.append(
        f"- Median fit seconds (warm encoder cache): recommended {seconds[RECOMMENDED]:.2f}, "
        f"recommended + sources {seconds[WITH_SOURCES]:.2f} "
        f"({seconds[WITH_SOURCES] / seconds[RECOMMENDED]:.2f}x)."
    )
    weights = frame[frame["method"] == WITH_SOURCES].groupby(["target", "per_class"])
    lines.append(
        "- Sources weight chosen (recommended + sources), mean: "
        + ", ".join(f"{t} {k}: {w:.2f}" for (t, k), w in weights["sources_weight"].mean().items())
    )
    lines += ["", "Text overlap, source training texts ∩ target texts (exact / normalised):", ""]
    lines += [f"- {key}: {v['exact']} / {v['normalised']}" for key, v in leak.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
