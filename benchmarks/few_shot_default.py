"""Few-shot by default: the recommended model on the encoder against its parts and SetFit.

Leave-one-out over the five shipped tasks, as ``benchmarks/shipped_sources.py`` (the same
targets, fair sources, draws ``accuracy.sample_per_class`` and test sets): each task is
the target in turn, its sources the shipped heads that share no text with it, less those
for research use only (MPQA's), which ``sources="auto"`` leaves out. Rows, on the same
draws:

- frozen MiniLM + LR: the frozen encoder under a CV-tuned logistic regression;
- previous default: ``make_classifier(encoder=..., sources=False, fine_tune=False)``;
- sources only: ``make_classifier(encoder=..., sources=[fair], fine_tune=False)``;
- fine-tuned only: ``make_classifier(encoder=..., fine_tune=True)``;
- fine-tuned + sources: ``make_classifier(encoder=..., fine_tune=True, sources=[fair])``;
- default: ``make_classifier(encoder=..., sources=[fair])``, i.e. ``fine_tune="auto"``:
  what ``make_classifier(encoder=...)`` does with ``sources="auto"`` on a new task;
- SetFit: the rows of ``benchmarks/results/shipped_sources.json`` (SetFit 1.2 on the same
  draws and test sets, 8 per class), where they exist.

The three fine-tuned rows share one fine-tuning per draw (the same settings: lightxfer
keeps a fit's result per process), so their fit seconds after the first are head fits.
Rows go to ``--work``/rows.jsonl as they finish (a rerun resumes); the summary to
``few_shot_default.json`` and ``.md``::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/few_shot_default.py --sizes 8,16,32
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy
import shipped_sources

from lightxfer import make_classifier
from lightxfer.source_models.shipped import NAMES, RESEARCH_ONLY

ROOT = Path(__file__).resolve().parents[1]
ENCODER = "all-MiniLM-L6-v2"
LR = "frozen MiniLM + LR"
DEFAULT = "default"
SETFIT = "SetFit"


def methods_for(sources):
    """Every row's model, given the target's fair sources that ``"auto"`` would take."""
    return {
        LR: lambda: make_classifier(encoder=ENCODER, head=accuracy._lr_cv()),
        "previous default": lambda: make_classifier(
            encoder=ENCODER, sources=False, fine_tune=False
        ),
        "sources only": lambda: make_classifier(encoder=ENCODER, sources=sources, fine_tune=False),
        "fine-tuned only": lambda: make_classifier(encoder=ENCODER, fine_tune=True),
        "fine-tuned + sources": lambda: make_classifier(
            encoder=ENCODER, fine_tune=True, sources=sources
        ),
        DEFAULT: lambda: make_classifier(encoder=ENCODER, sources=sources),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(NAMES), help="target tasks")
    parser.add_argument("--sizes", default="8,16,32", help="examples per class")
    parser.add_argument("--seeds", type=int, default=5, help="draws per size (5)")
    parser.add_argument(
        "--methods", help="run only rows whose name contains one of these (comma-separated)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="write the report from --work's rows"
    )
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/lightxfer-few-shot"), help="rows (resumable)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/tmp/lightxfer-bench-encoder"), help="encoder cache"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    log = args.work / "rows.jsonl"
    done = {_key(row) for row in _read(log)}
    data, fair = {}, {}
    for target in targets:
        splits = accuracy.full_splits(None, target, quick=False)
        X_pool, y_pool, X_test, y_test = data[target] = splits[0]
        leakage = shipped_sources.leakage_into(target, X_pool, X_test)
        found = shipped_sources.fair_sources(target, leakage)
        fair[target] = [name for name in found if name not in RESEARCH_ONLY]
        if not args.report_only:
            accuracy.warm_encoder_cache(accuracy.texts_of(splits), args.cache_dir)
    # Size after size, draw after draw, every target: a run cut short still compares the
    # rows on the same draws of every task.
    for k in [] if args.report_only else sizes:
        for seed in range(args.seeds):
            for target in targets:
                X_pool, y_pool, X_test, y_test = data[target]
                X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                for method, build in methods_for(fair[target]).items():
                    if args.methods and not any(m in method for m in args.methods.split(",")):
                        continue
                    row = {"target": target, "method": method, "per_class": k, "seed": seed}
                    if _key(row) in done:
                        continue
                    start = time.perf_counter()
                    model = build().fit(X, y)
                    row["fit_seconds"] = time.perf_counter() - start
                    row["accuracy"] = 100.0 * float(np.mean(model.predict(X_test) == y_test))
                    row["chosen"] = model.chosen_
                    with log.open("a") as out:
                        out.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    rows = [
        r
        for r in _read(log) + setfit_rows(ROOT / "benchmarks" / "results")
        if r["target"] in targets
    ]
    write(args, rows, fair)
    return 0


def setfit_rows(out):
    """SetFit's rows of the shipped-sources run (the same draws and test sets)."""
    path = out / "shipped_sources.json"
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    return [row for row in rows if row["method"] == SETFIT]


def summary(frame):
    """Per size: each row's mean over draws per target, mean over targets, worst vs LR."""
    tables = {}
    for k, part in frame.groupby("per_class"):
        ours = part[part["method"] != SETFIT]
        draws = ours.groupby(["target", "seed"])["method"].nunique()
        complete = draws[draws == ours["method"].nunique()].index
        if LR not in set(ours["method"]):
            continue
        # Only draws every row finished (SetFit joins on those it ran).
        keep = part.set_index(["target", "seed"]).index.isin(complete)
        part = part[keep]
        table = part.pivot_table(index="method", columns="target", values="accuracy")
        seconds = part.groupby("method")["fit_seconds"].median()
        if SETFIT in table.index and table.loc[SETFIT].isna().any():
            table = table.drop(SETFIT)
        table["mean"] = table.mean(axis=1)
        gain = table.drop(columns="mean").sub(table.loc[LR].drop("mean"), axis=1)
        table["vs LR"] = table["mean"] - table.loc[LR, "mean"]
        table["worst vs LR"] = gain.min(axis=1)
        table["fit s"] = seconds
        tables[int(k)] = (table, len(complete))
    return tables


def write(args, rows, fair):
    frame = pd.DataFrame(rows)
    tables = summary(frame)
    lines = [
        "## Few-shot by default",
        "",
        "Test accuracy %, mean over draws.",
        "",
        "`benchmarks/few_shot_default.py`: leave-one-out over the five shipped tasks, each "
        "target's sources the shipped heads that share no text with it, less MPQA's "
        "(research use only, left out by `sources='auto'`): "
        + "; ".join(f"{t}: {', '.join(s) or 'none'}" for t, s in fair.items())
        + ". The same draws and test sets as `shipped_sources.py` (SetFit's rows are "
        "that run's, 8 per class). *fit s*: median seconds of one fit, 1 torch thread, "
        "on 2 shared cores (other jobs running); the fine-tuned rows share one "
        "fine-tuning per draw, so only the first of them pays it.",
        "",
    ]
    for k, (table, n_draws) in tables.items():
        lines += [f"**{k} per class** ({n_draws} draws over the targets)", ""]
        columns = list(table.columns)
        lines.append("| method | " + " | ".join(columns) + " |")
        lines.append("|---|" + "---:|" * len(columns))
        order = [m for m in [LR, *methods_for([]).keys(), SETFIT] if m in table.index]
        for method in dict.fromkeys(order):
            cells = [f"{table.loc[method, c]:.1f}" for c in columns]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    chosen = frame[frame["method"] == DEFAULT].dropna(subset=["chosen"])
    if len(chosen):
        tuned = chosen.groupby("per_class")["chosen"].apply(
            lambda c: np.mean([bool(x.get("fine_tuned")) for x in c])
        )
        used = chosen.groupby("per_class")["chosen"].apply(
            lambda c: np.mean([any(x.get("sources", {}).values()) for x in c])
        )
        lines.append(
            "The default fine-tuned on "
            + ", ".join(f"{100 * v:.0f}% of the draws at {k}" for k, v in tuned.items())
            + " per class, and kept its sources on "
            + ", ".join(f"{100 * v:.0f}% at {k}" for k, v in used.items())
            + "."
        )
    ours = frame[frame["method"].isin(["sources only", "previous default"])]
    if ours["method"].nunique() == 2:
        seconds = ours.pivot_table(
            index=["target", "per_class", "seed"], columns="method", values="fit_seconds"
        ).dropna()
        ratio = seconds["sources only"] / seconds["previous default"]
        by_size = ratio.groupby(level="per_class").median()
        lines.append(
            "Fit with the sources (their weight validated) against without, median of the "
            "per-draw ratios: "
            + ", ".join(f"{v:.2f}x at {k}" for k, v in by_size.items())
            + f" per class (range {ratio.min():.2f}-{ratio.max():.2f}x)."
        )
    payload = {"command": "python " + " ".join(sys.argv), "fair": fair, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "few_shot_default.json").write_text(json.dumps(payload, indent=1) + "\n")
    (args.out / "few_shot_default.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _key(row):
    return row["target"], row["method"], int(row["per_class"]), int(row["seed"])


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


if __name__ == "__main__":
    sys.exit(main())
