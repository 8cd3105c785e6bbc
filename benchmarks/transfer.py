"""Benchmark: does transfer from SST-2 beat training from scratch on MPQA and SUBJ?

Two sources are trained on SST-2 (the source task): the recommended model
(``make_classifier()``: frozen vectors + n-grams, logistic head), whose frozen shared
prefix is reused, and an MLP (``make_classifier(pooling="mean", head="mlp")``), whose
frozen hidden layer is reused too. For each target and source, ``evaluate_transfer``
compares the transferred model with the recommended model and TF-IDF + logistic
regression trained from scratch on the same target texts, and with the frozen shared
layer alone, over training sizes and seeds. Writes JSON, markdown and a PNG.

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

import sklearn
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split

import lightxfer
from lightxfer.cli.commands.transfer import parse_sizes
from lightxfer.datasets import load_dataset
from lightxfer.evaluation import MIN_TEST_SIZE, evaluate_transfer, format_table, plot_transfer

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"mpqa": "MPQA (opinion polarity)", "subj": "SUBJ (subjectivity)"}
SOURCES = {
    "recommended": ("make_classifier()", lambda: lightxfer.make_classifier()),
    "mlp": (
        "make_classifier(pooling='mean', head='mlp')",
        lambda: lightxfer.make_classifier(pooling="mean", head="mlp"),
    ),
}


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
        "--target-rows",
        type=int,
        help="stratified sample of each target table (default: all of it, about 10,000 rows)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sizes = parse_sizes(args.sizes)
    source_train = load_dataset("sst2", "train", as_frame=True, data_dir=args.data_dir)
    source_test = load_dataset("sst2", "test", as_frame=True, data_dir=args.data_dir)
    sources = {}
    for name, (description, build) in SOURCES.items():
        start = time.perf_counter()
        model = build().fit(source_train["text"], source_train["label"])
        seconds = time.perf_counter() - start
        accuracy = model.score(source_test["text"], source_test["label"])
        print(f"source {name}: SST-2 test accuracy {accuracy:.1%} ({seconds:.0f} s)")
        sources[name] = {
            "model": model,
            "info": {"model": description, "test_accuracy": accuracy, "fit_seconds": seconds},
        }

    results = {}
    for target_name in TARGETS:
        target = load_dataset(target_name, as_frame=True, data_dir=args.data_dir)
        if args.target_rows and args.target_rows < len(target):
            target, _ = train_test_split(
                target, train_size=args.target_rows, stratify=target["label"], random_state=0
            )
        for source_name, source in sources.items():
            start = time.perf_counter()
            table = evaluate_transfer(
                source["model"],
                target["text"],
                target["label"],
                train_sizes=sizes,
                n_seeds=args.seeds,
                progress=False,
            )
            seconds = time.perf_counter() - start
            key = f"{source_name} → {target_name}"
            print(f"\n{key} ({seconds:.0f} s): {table.attrs['verdict']}\n{format_table(table)}")
            results[key] = {"table": table, "target": target_name, "source": source_name}
    write(args, len(source_train), sources, results)
    return 0


def write(args, source_rows, sources, results):
    args.out.mkdir(parents=True, exist_ok=True)
    command = (
        "nice -n 5 python benchmarks/transfer.py"
        + (f" --seeds {args.seeds}" if args.seeds != 5 else "")
        + (f" --sizes {args.sizes}" if args.sizes != "8,32,128,all" else "")
        + (f" --target-rows {args.target_rows}" if args.target_rows else "")
    )
    environment = {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "lightxfer": lightxfer.__version__,
        "machine": platform.machine(),
    }
    payload = {
        "command": command,
        "source_rows": source_rows,
        "sources": {name: source["info"] for name, source in sources.items()},
        "seeds": args.seeds,
        "target_rows": args.target_rows,
        "test_split": "stratified 30% held out once (random_state=0), same for every size/seed",
        "environment": environment,
        "results": {
            key: {
                "table": result["table"].to_dict(orient="records"),
                "scores": result["table"].attrs["scores"],
                "reused": result["table"].attrs["reused"],
                "verdict": result["table"].attrs["verdict"],
                "summary": result["table"].attrs["summary"],
            }
            for key, result in results.items()
        },
    }
    (args.out / "transfer.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    figure = Figure(figsize=(11, 8))
    for ax, result in zip(figure.subplots(2, 2).ravel(), results.values()):
        title = f"SST-2 ({result['source']} source) → {TARGETS[result['target']]}"
        plot_transfer(result["table"], None, title=title, ax=ax)
    figure.tight_layout()
    figure.savefig(args.out / "transfer.png", dpi=110)
    (args.out / "transfer.md").write_text(markdown(payload, results))
    print(f"\nwrote transfer.json, transfer.md and transfer.png to {args.out}")


def markdown(payload, results):
    sources = payload["sources"]
    scale = (
        f"a stratified sample of {payload['target_rows']:,} rows of each target"
        if payload["target_rows"]
        else "each whole target table"
    )
    lines = [
        "## Transfer: SST-2 → MPQA and SUBJ, against training from scratch",
        "",
        f"Sources, trained on the {payload['source_rows']:,} SST-2 training sentences: "
        + "; ".join(
            f"**{name}** `{info['model']}` ({info['test_accuracy']:.1%} SST-2 test accuracy)"
            for name, info in sources.items()
        )
        + ". `transfer` with its defaults reuses the recommended source's frozen shared layer "
        "(vectors and the n-gram vocabulary learned on SST-2) and the MLP source's frozen "
        "hidden layer, each under a new logistic-regression head.",
        "",
        f"Scale: {scale}, {payload['seeds']} seeds. The target keeps a stratified 30% test "
        "split; for every size each seed draws the training examples per class from the "
        "rest, and every model trains on that same sample. *transfer gain* is transfer's "
        "accuracy minus the row's, paired by seed, ± its standard error (spread over seeds "
        "and the test set's own noise); a verdict needs the gain beyond two standard errors "
        f"and one point, and at least {MIN_TEST_SIZE} test texts. The **bold** row is the "
        "better model from scratch, the yardstick of the one-line verdict.",
        "",
        "![learning curves](transfer.png)",
        "",
    ]
    for key, result in results.items():
        table = result["table"]
        lines += [f"### {key}", "", f"**{table.attrs['verdict']}**", ""]
        lines += [f"Reused: {table.attrs['reused']}.", "", format_table(table), ""]
    env = ", ".join(f"{k} {v}" for k, v in payload["environment"].items())
    lines += [
        f"Made with `{payload['command']}` ({env}); per-seed scores are in `transfer.json`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
