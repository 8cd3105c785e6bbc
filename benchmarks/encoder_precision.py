"""Benchmark: ``SentenceEncoder(precision="int8")`` against float32, speed and accuracy.

- Speed: sentences/s of the float32 model's ``encode`` and of its int8 copy
  (``lightxfer.shared.sentence_models``, torch's dynamic quantisation of the linear
  layers) on the same SST-2 sentences, batch size and torch threads (1 and 2), taking
  turns ``--repeat`` times, fastest kept. Both sort each call's texts by length
  (sentence-transformers does), so padding is the same.
- Accuracy: frozen features + ``LogisticRegression()`` of each precision on the five
  tasks (fold 0 of SUBJ and MPQA), training on at most ``--train`` texts ("all") and on
  8 per class drawn from them (``--seeds`` draws), scored on at most ``--test`` texts.

Run ``python benchmarks/encoder_precision.py``; results go to
``benchmarks/results/encoder_precision.json`` and a section of
``benchmarks/results/performance.md``.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import accuracy as bench  # the same data, draws and encoder cache
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from throughput import write_section

from lightxfer import SentenceEncoder
from lightxfer.datasets import load_dataset
from lightxfer.shared import sentence_models

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
PRECISIONS = sentence_models.PRECISIONS


def throughput(texts, batch_size, threads, repeat):
    """Sentences/s of each precision's model at each thread count, fastest of ``repeat``."""
    import torch

    models = {p: sentence_models.load(bench.ENCODER, precision=p).model for p in PRECISIONS}
    rates = {}
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        for _ in range(repeat):
            for precision, model in models.items():
                start = time.perf_counter()
                model.encode(texts, batch_size=batch_size, show_progress_bar=False)
                rate = len(texts) / (time.perf_counter() - start)
                key = f"{precision}, {n_threads} thread{'s' * (n_threads > 1)}"
                rates[key] = max(rates.get(key, 0.0), rate)
                print(f"{key:20s} {rate:7.1f} sentences/s", flush=True)
    return rates


def features(texts, precision):
    return SentenceEncoder(bench.ENCODER, precision=precision).fit(texts[:1]).transform(texts)


def accuracy(args):
    """Rows of test accuracy % per task, precision, training size and draw."""
    rows = []
    for task in args.tasks:
        splits = bench.full_splits(args.data_dir, task, quick=False, max_folds=1)
        bench.warm_encoder_cache(bench.texts_of(splits), args.encoder_cache)  # float32 rows
        X, y, X_test, y_test = splits[0]
        X, y = bench.cap(X, y, args.train)
        X_test, y_test = bench.cap(X_test, y_test, args.test)
        index = {text: i for i, text in enumerate(X)}
        for precision in PRECISIONS:
            train, test = features(list(X), precision), features(list(X_test), precision)
            draws = [("all", 0, np.arange(len(y)))]
            for seed in range(args.seeds):
                few, _ = bench.sample_per_class(X, y, 8, seed)
                draws.append((8, seed, np.array([index[text] for text in few])))
            for size, seed, rows_of in draws:
                head = LogisticRegression(max_iter=1000).fit(train[rows_of], y[rows_of])
                score = 100 * head.score(test, y_test)
                rows.append(
                    {"task": task, "precision": precision, "size": size, "seed": seed}
                    | {"accuracy": round(score, 2)}
                )
            print(f"{task} {precision} done", flush=True)
    return rows


def markdown(results, command):
    rates, table = results["sentences_per_s"], pd.DataFrame(results["accuracy"])
    mean = table.groupby(["size", "precision", "task"], sort=False)["accuracy"].mean().sort_index()
    tasks = list(dict.fromkeys(table["task"]))
    lines = [
        '## Sentence encoder: `SentenceEncoder(precision="int8")` against float32',
        "",
        f"{results['n_sentences']} SST-2 sentences, batch size {results['batch_size']}, "
        f"fastest of {results['repeat']} runs taking turns, on 2 cores shared with other "
        f"jobs (load average {results['load_average'][0]:.1f} at the start, "
        f"{results['load_average'][1]:.1f} at the end); reproduce with:",
        "",
        f"    {command}",
        "",
        "| model | sentences/s | x float32 |",
        "|---|---:|---:|",
    ]
    for key, rate in rates.items():
        threads = key.split(", ")[1]
        lines.append(f"| {key} | {rate:,.1f} | {rate / rates[f'float32, {threads}']:.2f}x |")
    lines += [
        "",
        f"Frozen features + `LogisticRegression()`, test accuracy % (training capped at "
        f"{results['train_cap']} texts, test at {results['test_cap']}; 8 per class: mean of "
        f"{results['seeds']} draws):",
        "",
        "| training texts | precision | " + " | ".join(t.upper() for t in tasks) + " | mean |",
        "|---|---|" + "---|" * (len(tasks) + 1),
    ]
    for (size, precision), part in table.groupby(["size", "precision"], sort=False):
        part = mean.loc[(size, precision)]
        cells = [f"{part.loc[t]:.1f}" for t in tasks]
        lines.append(f"| {size} | {precision} | " + " | ".join(cells) + f" | {part.mean():.1f} |")
    lines.append("")
    for size in dict.fromkeys(table["size"]):
        change = mean.loc[(size, "int8")].mean() - mean.loc[(size, "float32")].mean()
        label = "all training texts" if size == "all" else f"{size} per class"
        lines.append(f"- {label}: int8 minus float32 {change:+.2f} points on the mean.")
    return "\n".join(lines) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("LIGHTXFER_DATA_DIR"))
    parser.add_argument("--tasks", nargs="+", default=list(bench.TASKS), choices=bench.TASKS)
    parser.add_argument("--n", type=int, default=512, help="SST-2 sentences timed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--train", type=int, default=1000, help="training texts cap")
    parser.add_argument("--test", type=int, default=500, help="test texts cap")
    parser.add_argument("--seeds", type=int, default=3, help="draws of 8 per class")
    parser.add_argument(
        "--encoder-cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "lightxfer-bench-encoder",
        help="folder of the float32 embeddings of each task's texts (as accuracy.py)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "encoder_precision.json")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    load_at_start = os.getloadavg()[0]
    texts = list(load_dataset("sst2", "train", data_dir=args.data_dir)[0][: args.n])
    rates = throughput(texts, args.batch_size, args.threads, args.repeat)
    results = {
        "n_sentences": len(texts),
        "batch_size": args.batch_size,
        "repeat": args.repeat,
        "sentences_per_s": rates,
        "train_cap": args.train,
        "test_cap": args.test,
        "seeds": args.seeds,
        "accuracy": accuracy(args) if args.tasks else [],
        "load_average": [load_at_start, os.getloadavg()[0]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    section = markdown(results, "python benchmarks/encoder_precision.py")
    write_section(args.out.parent / "performance.md", "encoder-precision", section)
    print(section)
    return results


if __name__ == "__main__":
    main()
