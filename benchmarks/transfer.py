"""Benchmark: SST-2 as source, MPQA and SUBJ as targets, few examples per class.

Trains an MLP on SST-2 (the source task), then for each target compares, over training
sizes and seeds: the source's frozen hidden layer + a new logistic-regression head, the
same with the hidden layer fine-tuned, the same head on the frozen embedding alone, and
TF-IDF + logistic regression from scratch. Writes JSON, markdown and a PNG.

Run from the repository root::

    nice -n 5 python benchmarks/transfer.py
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import sklearn
from matplotlib.figure import Figure

import lightxfer
from lightxfer.datasets import load_dataset
from lightxfer.evaluation import TRANSFER, evaluate_transfer, format_table, plot_transfer

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"mpqa": "MPQA (opinion polarity)", "subj": "SUBJ (subjectivity)"}
FINE_TUNED = "fine-tuned"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        help="folder with your own sst2_train.csv, sst2_test.csv, mpqa.csv, subj.csv "
        "(default: $LIGHTXFER_DATA_DIR, else the datasets shipped with lightxfer)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="random samples per size (5)")
    parser.add_argument(
        "--sizes", default="8,32,128,all", help="examples per class, comma-separated (8,32,128,all)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from lightxfer.cli.commands.transfer import parse_sizes

    sizes = parse_sizes(args.sizes)
    source_train = load_dataset("sst2", "train", as_frame=True, data_dir=args.data_dir)
    source_test = load_dataset("sst2", "test", as_frame=True, data_dir=args.data_dir)
    start = time.perf_counter()
    # Explicit options (not the recommended default) so the benchmark stays reproducible.
    source = lightxfer.make_classifier(pooling="mean", head="mlp")
    source.fit(source_train["text"], source_train["label"])
    source_seconds = time.perf_counter() - start
    source_accuracy = source.score(source_test["text"], source_test["label"])
    print(f"source: SST-2 test accuracy {source_accuracy:.1%} ({source_seconds:.0f} s)")

    results = {}
    for name in TARGETS:
        target = load_dataset(name, as_frame=True, data_dir=args.data_dir)
        start = time.perf_counter()
        table = compare(source, target["text"], target["label"], sizes, args.seeds)
        print(f"\n{TARGETS[name]} ({time.perf_counter() - start:.0f} s)\n{format_table(table)}")
        print("\n".join(table.attrs["summary"]))
        results[name] = table
    source_info = {
        "task": "sst2",
        "model": "make_classifier(pooling='mean', head='mlp')",
        "train_rows": len(source_train),
        "test_accuracy": source_accuracy,
        "fit_seconds": source_seconds,
    }
    write(args, sizes, results, source_info)
    return 0


def compare(source, X, y, sizes, seeds):
    """Frozen-hidden transfer and its baselines, plus the fine-tuned rows, in one table."""
    options = {"train_sizes": sizes, "n_seeds": seeds, "progress": False}
    frozen = evaluate_transfer(source, X, y, **options)
    tuned = evaluate_transfer(source, X, y, fine_tune=True, **options)
    tuned_rows = tuned[tuned["method"] == TRANSFER].assign(method=FINE_TUNED)
    summaries = frozen.attrs["summary"], tuned.attrs["summary"]
    scores = pd.DataFrame(frozen.attrs["scores"]), pd.DataFrame(tuned.attrs["scores"])
    table = pd.concat([frozen, tuned_rows])
    order = {size: i for i, size in enumerate(map(str, sizes))}
    methods = [TRANSFER, FINE_TUNED, "frozen embedding", "TF-IDF from scratch"]
    table = table.sort_values(
        ["per_class", "method"],
        key=lambda col: col.map(order) if col.name == "per_class" else col.map(methods.index),
    ).reset_index(drop=True)
    tuned_scores = scores[1][scores[1]["method"] == TRANSFER].assign(method=FINE_TUNED)
    table.attrs["scores"] = pd.concat([scores[0], tuned_scores]).to_dict(orient="records")
    table.attrs["summary"] = [f"frozen hidden layer, {s}" for s in summaries[0]] + [
        f"fine-tuned, {s}" for s in summaries[1]
    ]
    return table


def write(args, sizes, results, source_info):
    args.out.mkdir(parents=True, exist_ok=True)
    command = (
        "nice -n 5 python benchmarks/transfer.py"
        + (f" --seeds {args.seeds}" if args.seeds != 5 else "")
        + (f" --sizes {args.sizes}" if args.sizes != "8,32,128,all" else "")
    )
    environment = {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "lightxfer": lightxfer.__version__,
        "machine": platform.machine(),
    }
    payload = {
        "command": command,
        "source": source_info,
        "sizes": [str(s) for s in sizes],
        "seeds": args.seeds,
        "test_split": "stratified 30% held out once (random_state=0), same for every size/seed",
        "environment": environment,
        "targets": {
            name: {
                "table": table.to_dict(orient="records"),
                "scores": table.attrs["scores"],
                "summary": table.attrs["summary"],
            }
            for name, table in results.items()
        },
    }
    (args.out / "transfer.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    figure = Figure(figsize=(11, 4))
    for ax, (name, table) in zip(figure.subplots(1, len(results)), results.items()):
        plot_transfer(table, None, title=f"SST-2 → {TARGETS[name]}", ax=ax)
    figure.tight_layout()
    figure.savefig(args.out / "transfer.png", dpi=120)
    (args.out / "transfer.md").write_text(markdown(payload, results))
    print(f"\nwrote transfer.json, transfer.md and transfer.png to {args.out}")


def markdown(payload, results):
    source = payload["source"]
    lines = [
        "## Transfer: SST-2 → MPQA and SUBJ",
        "",
        f"Source: `{source['model']}` trained on the {source['train_rows']:,} SST-2 training sentences "
        f"({source['test_accuracy']:.1%} SST-2 test accuracy). Each target keeps a stratified "
        "30% test split; for every size, each of "
        f"{payload['seeds']} seeds draws the training examples per class from the rest, and "
        "all methods train on that same sample. Methods: **transfer** = the source MLP's "
        "frozen hidden layer + a new logistic regression; **fine-tuned** = the source MLP's "
        "hidden layer trained further (new output layer, early stopping); **frozen "
        "embedding** = the same logistic regression on the frozen embedding layer alone; "
        "**TF-IDF from scratch** = word 1-2-gram TF-IDF + logistic regression. Accuracy and "
        "macro-F1 in %, mean ± std over seeds; *gain* is accuracy minus the frozen "
        "embedding's, paired by seed, and the verdict needs it beyond two standard errors.",
        "",
        "![learning curves](transfer.png)",
        "",
    ]
    for name, table in results.items():
        lines += [f"### {TARGETS[name]}", "", format_table(table), ""]
        lines += [f"- {sentence}" for sentence in table.attrs["summary"]] + [""]
    env = ", ".join(f"{k} {v}" for k, v in payload["environment"].items())
    lines += [
        f"Made with `{payload['command']}` ({env}); per-seed scores are in `transfer.json`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
