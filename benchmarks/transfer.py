"""Benchmark: does transfer from SST-2 beat training from scratch on MPQA and SUBJ?

Three sources are trained on SST-2 (the source task): the recommended model
(``make_classifier()``: frozen vectors + n-grams, logistic head), whose frozen shared
prefix is reused; an MLP on mean-pooled vectors (``make_classifier(pooling="mean",
head="mlp")``) and an MLP on the frozen sentence encoder
(``make_classifier(encoder="all-MiniLM-L6-v2", head="mlp")``), whose frozen hidden layer
is reused too. For each target and source, ``evaluate_transfer`` compares the
transferred model with the recommended model and TF-IDF + logistic regression trained
from scratch on the same target texts (for the encoder source also
``make_classifier(encoder=...)``), and with the frozen shared layer alone, over training
sizes and seeds. Writes JSON, markdown and a PNG.

Run from the repository root::

    nice -n 5 python benchmarks/transfer.py

``--sources`` and ``--targets`` rerun some pairs only; the other pairs keep the results
already in ``transfer.json`` (rebuilt from their per-seed scores).
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
from sklearn.model_selection import train_test_split

import lightxfer
from lightxfer.cli.commands.transfer import parse_sizes
from lightxfer.datasets import load_dataset
from lightxfer.evaluation import (
    EMBEDDING,
    MIN_TEST_SIZE,
    TRANSFER,
    evaluate_transfer,
    format_table,
    plot_transfer,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"mpqa": "MPQA (opinion polarity)", "subj": "SUBJ (subjectivity)"}
ENCODER = "all-MiniLM-L6-v2"
SOURCES = {
    "recommended": ("make_classifier()", lambda: lightxfer.make_classifier()),
    "mlp": (
        "make_classifier(pooling='mean', head='mlp')",
        lambda: lightxfer.make_classifier(pooling="mean", head="mlp"),
    ),
    "encoder": (
        f"make_classifier(encoder={ENCODER!r}, head='mlp')",
        lambda: lightxfer.make_classifier(encoder=ENCODER, head="mlp"),
    ),
}
#: Sources whose comparison also trains make_classifier(encoder=ENCODER) from scratch.
WITH_ENCODER = ("encoder",)


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
        "--source-rows",
        type=int,
        help="stratified sample of the SST-2 training table (default: all 6,920 rows)",
    )
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help=f"sources to run, comma-separated ({','.join(SOURCES)}); other sources keep "
        "their results from transfer.json",
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"targets to run, comma-separated ({','.join(TARGETS)}); other targets keep "
        "their results from transfer.json",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite transfer.md and transfer.png from the results in transfer.json",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sizes = parse_sizes(args.sizes)
    run_sources = [] if args.render else _choices(args.sources, SOURCES, "--sources")
    run_targets = [] if args.render else _choices(args.targets, TARGETS, "--targets")
    sources, results = previous_results(args.out / "transfer.json")
    source_train = load_dataset("sst2", "train", as_frame=True, data_dir=args.data_dir)
    source_test = load_dataset("sst2", "test", as_frame=True, data_dir=args.data_dir)
    if args.source_rows and args.source_rows < len(source_train):
        source_train, _ = train_test_split(
            source_train,
            train_size=args.source_rows,
            stratify=source_train["label"],
            random_state=0,
        )
    for name in run_sources:
        description, build = SOURCES[name]
        start = time.perf_counter()
        model = build().fit(source_train["text"], source_train["label"])
        seconds = time.perf_counter() - start
        accuracy = model.score(source_test["text"], source_test["label"])
        print(f"source {name}: SST-2 test accuracy {accuracy:.1%} ({seconds:.0f} s)")
        sources[name] = {
            "model": model,
            "info": {
                "model": description,
                "train_rows": len(source_train),
                "test_accuracy": accuracy,
                "fit_seconds": seconds,
            },
        }

    for target_name in run_targets:
        target = load_dataset(target_name, as_frame=True, data_dir=args.data_dir)
        if args.target_rows and args.target_rows < len(target):
            target, _ = train_test_split(
                target, train_size=args.target_rows, stratify=target["label"], random_state=0
            )
        for source_name in run_sources:
            start = time.perf_counter()
            table = evaluate_transfer(
                sources[source_name]["model"],
                target["text"],
                target["label"],
                train_sizes=sizes,
                n_seeds=args.seeds,
                test_size=0.3,  # the single held-out split its tables describe
                encoder=ENCODER if source_name in WITH_ENCODER else None,
                progress=False,
            )
            seconds = time.perf_counter() - start
            key = f"{source_name} → {target_name}"
            print(f"\n{key} ({seconds:.0f} s): {table.attrs['verdict']}\n{format_table(table)}")
            results[key] = {
                "table": table,
                "target": target_name,
                "source": source_name,
                "seeds": args.seeds,
                "target_rows": args.target_rows,
                "seconds": seconds,
                "encoder_from_scratch": _steps(lightxfer.make_classifier(encoder=ENCODER))
                if source_name in WITH_ENCODER
                else None,
            }
    order = [f"{s} → {t}" for t in TARGETS for s in SOURCES]
    results = {key: results[key] for key in order if key in results}
    write(args, sources, results)
    return 0


def _choices(text, known, option):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise SystemExit(f"{option}: choose among {', '.join(known)} (got {text!r})")
    return names


def previous_results(path):
    """Sources' info and result tables of an earlier run, rebuilt from their per-seed scores."""
    if not path.is_file():
        return {}, {}
    payload = json.loads(path.read_text())
    sources = {
        name: {"info": {"train_rows": payload.get("source_rows"), **info}}
        for name, info in payload.get("sources", {}).items()
        if name in SOURCES
    }
    results = {}
    for key, result in payload.get("results", {}).items():
        source_name, _, target_name = key.partition(" → ")
        if source_name not in SOURCES or target_name not in TARGETS:
            continue
        table = summarize(pd.DataFrame(result["scores"]))
        table.attrs["reused"] = result["reused"]
        results[key] = {
            "table": table,
            "target": target_name,
            "source": source_name,
            "seeds": result.get("seeds", payload.get("seeds")),
            "target_rows": result.get("target_rows", payload.get("target_rows")),
            "seconds": result.get("seconds"),
            "encoder_from_scratch": result.get("encoder_from_scratch"),
        }
    return sources, results


def _steps(pipeline):
    return " + ".join(type(step).__name__ for _, step in pipeline.steps)


def write(args, sources, results):
    args.out.mkdir(parents=True, exist_ok=True)
    environment = {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "lightxfer": lightxfer.__version__,
        "machine": platform.machine(),
    }
    payload = {
        "sources": {name: source["info"] for name, source in sources.items()},
        "test_split": "stratified 30% held out once (random_state=0), same for every size/seed",
        "environment": environment,
        "results": {
            key: {
                "command": command(result, args.sizes),
                "seeds": result["seeds"],
                "target_rows": result["target_rows"],
                "seconds": result["seconds"],
                "encoder_from_scratch": result["encoder_from_scratch"],
                "table": result["table"].to_dict(orient="records"),
                "scores": result["table"].attrs["scores"],
                "reused": result["table"].attrs["reused"],
                "verdict": result["table"].attrs["verdict"],
                "summary": result["table"].attrs["summary"],
            }
            for key, result in results.items()
        },
    }
    if args.render:  # the results and the environment they were measured in stay as they are
        payload["environment"] = json.loads((args.out / "transfer.json").read_text())["environment"]
    else:
        (args.out / "transfer.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    shown_sources = list(dict.fromkeys(result["source"] for result in results.values()))
    shown_targets = list(dict.fromkeys(result["target"] for result in results.values()))
    figure = Figure(figsize=(5.5 * len(shown_targets), 4 * len(shown_sources)))
    axes = figure.subplots(len(shown_sources), len(shown_targets), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()  # a pair not run stays blank
    for result in results.values():
        ax = axes[shown_sources.index(result["source"]), shown_targets.index(result["target"])]
        ax.set_axis_on()
        title = f"SST-2 ({result['source']} source) → {TARGETS[result['target']]}"
        plot_transfer(result["table"], None, title=title, ax=ax)
    figure.tight_layout()
    figure.savefig(args.out / "transfer.png", dpi=100)
    (args.out / "transfer.md").write_text(markdown(payload, results))
    written = "transfer.md and transfer.png" if args.render else "transfer.json, .md and .png"
    print(f"\nwrote {written} to {args.out}")


def command(result, sizes):
    """The command line that reruns one source → target pair."""
    return (
        f"nice -n 5 python benchmarks/transfer.py --sources {result['source']} "
        f"--targets {result['target']}"
        + (f" --seeds {result['seeds']}" if result["seeds"] != 5 else "")
        + (f" --sizes {sizes}" if sizes != "8,32,128,all" else "")
        + (f" --target-rows {result['target_rows']}" if result["target_rows"] else "")
    )


def encoder_goal(results):
    """Issue 16's target, as measured: lines for the markdown (none without the pair)."""
    result = results.get("encoder → mpqa")
    if result is None:
        return []
    rows = result["table"].set_index(["per_class", "method"])
    if ("8", EMBEDDING) not in rows.index:
        return []
    transfer, alone = rows.loc[("8", TRANSFER)], rows.loc[("8", EMBEDDING)]
    verdict = "met" if alone["transfer_gain"] >= 0.03 else "not met"
    return [
        "Target (issue 16): SST-2 → MPQA through the encoder at least 3 points above the "
        f"frozen encoder alone at 8 per class: {transfer['accuracy_mean']:.1%} against "
        f"{alone['accuracy_mean']:.1%}, {alone['transfer_gain'] * 100:+.1f} ± "
        f"{alone['transfer_gain_se'] * 100:.1f} points ({verdict}).",
        "",
    ]


def markdown(payload, results):
    sources = payload["sources"]
    lines = [
        "## Transfer: SST-2 → MPQA and SUBJ, against training from scratch",
        "",
        "Sources, trained on SST-2 training sentences: "
        + "; ".join(
            f"**{name}** `{info['model']}` ({info['train_rows']:,} sentences, "
            f"{info['test_accuracy']:.1%} SST-2 test accuracy)"
            for name, info in sources.items()
        )
        + ". `transfer` with its defaults reuses the recommended source's frozen shared layer "
        "(vectors and the n-gram vocabulary learned on SST-2) and the MLP sources' frozen "
        "shared layer and hidden layer, each under a new logistic-regression head. For the "
        "encoder source, the *frozen shared layer* row is the frozen encoder alone under a "
        f"logistic-regression head, and *encoder from scratch* is "
        f"`make_classifier(encoder={ENCODER!r})` (its steps at the time of each run are "
        "named with the pair).",
        "",
        "Scale: the whole target table unless the pair says otherwise. The target keeps a "
        "stratified 30% test split; for every size each seed draws the training examples per "
        "class from the rest, and every model trains on that same sample. *transfer gain* is "
        "transfer's accuracy minus the row's, paired by seed, ± its standard error (spread "
        "over seeds and the test set's own noise); a verdict needs the gain beyond two "
        f"standard errors and one point, and at least {MIN_TEST_SIZE} test texts. The "
        "**bold** row is the best model from scratch, the yardstick of the one-line verdict.",
        "",
        *encoder_goal(results),
        "![learning curves](transfer.png)",
        "",
    ]
    for key, result in results.items():
        table, record = result["table"], payload["results"][key]
        scale = (
            f"a stratified sample of {record['target_rows']:,} target rows"
            if record["target_rows"]
            else "the whole target table"
        )
        lines += [f"### {key}", "", f"**{table.attrs['verdict']}**", ""]
        scratch = record["encoder_from_scratch"]
        lines += [
            f"Reused: {table.attrs['reused']}. Scale: {scale}, {record['seeds']} seeds "
            f"(`{record['command']}`)." + (f" Encoder from scratch: {scratch}." if scratch else ""),
            "",
            format_table(table),
            "",
        ]
    env = ", ".join(f"{k} {v}" for k, v in payload["environment"].items())
    lines += [f"Environment: {env}; per-seed scores are in `transfer.json`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
