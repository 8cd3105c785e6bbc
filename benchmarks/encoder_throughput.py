"""SentenceEncoder: sentences/s against sentence-transformers' own encode, grid search, load time.

In one process run, on the same SST-2 sentences and torch threads:

- ``SentenceEncoder.transform`` (``cache=False``) and ``SentenceTransformer.encode`` take
  turns ``--repeat`` times; each keeps its fastest run;
- a head GridSearchCV (LogisticRegression x 10 values of C x 5 folds) on the encoder
  pipeline, against the same search on precomputed embeddings: with the feature cache
  warm (the texts were encoded before, e.g. by an earlier fit) and cold (every text
  encoded once inside the search, compared with precomputing plus searching);
- the warm load (files in the page cache) of the default model in a fresh process that
  has imported lightxfer, up to its first embedding, and the bare import of
  sentence-transformers (torch included) it contains.

Run ``python benchmarks/encoder_throughput.py`` (``--help`` for options); results go to
``benchmarks/results/encoder.json`` and a section of ``benchmarks/results/performance.md``.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from gridsearch import HEAD_GRID, head, load_sst2, search
from sklearn.pipeline import Pipeline
from throughput import write_section

from lightxfer import SentenceEncoder
from lightxfer.shared import sentence_models
from lightxfer.shared.feature_cache import FEATURE_CACHE

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
# A user's first encode in a fresh process; and, apart, the bare import it includes.
LOAD_CODE = """
import json, time
import lightxfer
start = time.perf_counter()
lightxfer.SentenceEncoder().fit(["warm"]).transform(["warm"])
print(json.dumps({"total_s": time.perf_counter() - start}))
"""
IMPORT_CODE = """
import json, time
import lightxfer
start = time.perf_counter()
import sentence_transformers
print(json.dumps({"import_s": time.perf_counter() - start}))
"""


def throughput(texts, batch_size, repeat):
    """Fastest seconds of the encoder and of sentence-transformers, taking turns."""
    model = sentence_models.load(sentence_models.DEFAULT_MODEL).model
    encoder = SentenceEncoder(batch_size=batch_size, cache=False, progress=False).fit(texts)
    methods = {
        "sentence-transformers encode": lambda: model.encode(
            texts, batch_size=batch_size, show_progress_bar=False
        ),
        "SentenceEncoder.transform": lambda: encoder.transform(texts),
    }
    best, outputs = {}, {}
    for _ in range(repeat):
        for name, run in methods.items():
            start = time.perf_counter()
            outputs[name] = run()
            seconds = time.perf_counter() - start
            best[name] = min(best.get(name, math.inf), seconds)
            print(f"{name:30s} {len(texts) / seconds:8.1f} sentences/s", flush=True)
    difference = np.abs(np.subtract(*outputs.values())).max()
    return best, float(difference)


def grid_search(texts, y, repeat):
    """Seconds of the head search: precomputed, pipeline with warm cache, with cold cache."""
    prefixed = {f"head__{name}": values for name, values in HEAD_GRID.items()}

    def pipeline():
        return Pipeline([("embedding", SentenceEncoder(progress=False)), ("head", head())])

    FEATURE_CACHE.clear()
    start = time.perf_counter()
    # Precomputing also fills the feature cache, for the first warm-cache search.
    features = SentenceEncoder(progress=False).fit(texts).transform(texts)
    timings = {"precompute": time.perf_counter() - start}
    runs = {
        "precomputed": lambda: search(head(), HEAD_GRID, features, y),
        "warm cache": lambda: search(pipeline(), prefixed, texts, y),
        "cold cache": lambda: (FEATURE_CACHE.clear(), search(pipeline(), prefixed, texts, y))[1],
    }
    scores = {}
    for _ in range(repeat):
        for name, run in runs.items():
            fitted, seconds = run()
            timings[name] = min(timings.get(name, math.inf), seconds)
            scores[name] = float(fitted.best_score_)
            print(f"search {name:12s} {seconds:7.2f} s  best {scores[name]:.4f}", flush=True)
    return timings, scores


def warm_load(runs=5):
    """Median load timings of the default model in fresh processes, files in the page cache.

    A first untimed run warms the files; then the full load and the bare import take turns.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def run(code):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    run(LOAD_CODE)
    timings = [{**run(LOAD_CODE), **run(IMPORT_CODE)} for _ in range(runs)]
    return {key: float(np.median([t[key] for t in timings])) for key in timings[0]}


def markdown(results, command):
    """The markdown section quoting the results."""
    s, g, load = results["seconds"], results["gridsearch_seconds"], results["warm_load"]
    n = results["n_sentences"]
    rate = {name: n / seconds for name, seconds in s.items()}
    return "\n".join(
        [
            "## Sentence encoder: `SentenceEncoder` (all-MiniLM-L6-v2, CPU)",
            "",
            f"{n:,} SST-2 sentences, batch size {results['batch_size']}, torch threads: "
            f"{results['torch_threads']}, one process run (fastest of {results['repeat']} "
            "runs each, taking turns) on 2 cores shared with other jobs (load average "
            f"{results['load_average'][0]:.1f} at the start, {results['load_average'][1]:.1f} "
            "at the end); reproduce with:",
            "",
            f"    {command}",
            "",
            "| method | sentences/s | x sentence-transformers |",
            "|---|---:|---:|",
            *(
                f"| {name} | {rate[name]:,.0f} | "
                f"{rate[name] / rate['sentence-transformers encode']:.2f}x |"
                for name in s
            ),
            "",
            f"- The embeddings agree to {results['max_abs_difference']:.1e}.",
            f"- Head GridSearchCV (LogisticRegression x {len(HEAD_GRID['C'])} values of C x 5 "
            f"folds): {g['precomputed']:.2f} s on precomputed embeddings; on the encoder "
            f"pipeline {g['warm cache']:.2f} s with the texts already in the feature cache "
            f"({results['warm_over_precomputed']:.2f}x), {g['cold cache']:.2f} s when the search "
            f"encodes each text once itself ({results['cold_over_precompute_and_search']:.2f}x "
            f"precomputing, {g['precompute']:.2f} s, plus searching).",
            "- Warm load of the default model (files in the page cache) in a fresh process "
            f"after `import lightxfer`, up to its first embedding: {load['total_s']:.2f} s "
            f"(median of 5); importing torch and sentence-transformers alone takes "
            f"{load['import_s']:.2f} s there (the weights are hashed while they import).",
        ]
    )


def build_parser():
    """The argument parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        type=Path,
        help="folder with your own sst2_train.csv (default: $LIGHTXFER_DATA_DIR, else the "
        "datasets shipped with lightxfer)",
    )
    parser.add_argument("--n", default=2000, type=int, help="SST-2 sentences (2000)")
    parser.add_argument("--batch-size", default=32, type=int, help="texts per forward pass")
    parser.add_argument("--threads", default=None, type=int, help="torch threads (its default)")
    parser.add_argument("--repeat", default=2, type=int, help="runs per method; fastest kept")
    parser.add_argument("--out", default=RESULTS / "encoder.json", type=Path)
    return parser


def main(argv=None):
    """Run the benchmark and write its JSON and markdown results."""
    args = build_parser().parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    texts, y = load_sst2(args.data_dir, args.n)
    load_at_start = os.getloadavg()[0]
    seconds, difference = throughput(texts, args.batch_size, args.repeat)
    grid, scores = grid_search(texts, y, args.repeat)
    results = {
        "n_sentences": len(texts),
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeat": args.repeat,
        "seconds": seconds,
        "encoder_over_sentence_transformers": seconds["sentence-transformers encode"]
        / seconds["SentenceEncoder.transform"],
        "max_abs_difference": difference,
        "gridsearch_seconds": grid,
        "gridsearch_best_cv_accuracy": scores,
        "warm_over_precomputed": grid["warm cache"] / grid["precomputed"],
        "cold_over_precompute_and_search": grid["cold cache"]
        / (grid["precompute"] + grid["precomputed"]),
        "warm_load": warm_load(),
        "load_average": [load_at_start, os.getloadavg()[0]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    command = "python benchmarks/encoder_throughput.py"
    command += f" --n {args.n}" if args.n != 2000 else ""
    command += f" --threads {args.threads}" if args.threads is not None else ""
    section = markdown(results, command)
    write_section(args.out.parent / "performance.md", "encoder", section + "\n")
    print(section)
    return results


if __name__ == "__main__":
    main()
