"""Sentences per second of EmbeddingVectorizer.transform, side by side with the alternatives.

Every method embeds the same sentences in one process run, so the ratios hold even on a
busy machine whose absolute timings drift. The common reference is the per-document
Python loop most code starts from: regex tokenisation, a dict look-up per token, np.mean.

Run ``python benchmarks/throughput.py`` (``--help`` for options); results go to
``benchmarks/results/throughput.json`` and a markdown section in
``benchmarks/results/performance.md``.
"""

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

import lightxfer
from lightxfer.datasets import load_all_texts
from lightxfer.shared.tokenize import TOKEN_PATTERN, tokenize_ids
from lightxfer.vectors import store

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
POOLINGS = ("mean", "tfidf", "sif", "max", ["mean", "max", "min"])


# -- inputs -----------------------------------------------------------------------------


def load_texts(data_dir, n):
    """Return ``n`` sentences: every shipped text (or ``data_dir``'s), repeated as needed."""
    texts = load_all_texts(data_dir)
    return (texts * (n // len(texts) + 1))[:n]


# -- the alternatives ---------------------------------------------------------------------


def reference_loop(texts, kv):
    """The per-document Python loop: regex tokenise, look up each word, average."""
    vocab, vectors = kv.key_to_index, kv.vectors
    out = np.zeros((len(texts), kv.vector_size), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = [vocab[word] for word in TOKEN_PATTERN.findall(text.lower()) if word in vocab]
        if ids:
            out[row] = np.mean(vectors[ids], axis=0)
    return out


def zeugma_method(kv):
    """zeugma's EmbeddingTransformer on the same vectors, or a note why it cannot run."""
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from zeugma.embeddings import EmbeddingTransformer
    except ImportError as exc:
        return None, f"zeugma not installed ({exc}); pip install zeugma"
    transformer = EmbeddingTransformer(kv, aggregation="average")
    # zeugma splits on whitespace and is case-sensitive: lower-case as the others do.
    return (lambda texts: transformer.transform([t.lower() for t in texts])), None


def fse_method(kv):
    """fse's Cython Average, tokenisation included, or a note why it cannot run."""
    try:
        from fse import SplitIndexedList
        from fse.models import Average
    except ImportError as exc:
        return None, (
            f"fse not installed ({exc}): fse 1.0 does not build on Python 3.11 "
            "(its setup.py sets __builtins__.__NUMPY_SETUP__)"
        )
    model = Average(kv)
    model.train(SplitIndexedList(["warm up"]))

    def run(texts):
        return model.infer(SplitIndexedList([t.lower() for t in texts]))

    return run, None


def lightxfer_method(pooling, n_jobs, tokenizer="auto"):
    """A fitted EmbeddingVectorizer's transform, with the feature cache off."""
    vectorizer = lightxfer.EmbeddingVectorizer(
        pooling=pooling, tokenizer=tokenizer, n_jobs=n_jobs, cache=False, progress=False
    )
    return vectorizer


# -- measuring ------------------------------------------------------------------------------


class PeakRSS:
    """Sample the resident memory of this process and its children while running."""

    def __init__(self, interval=0.05):
        self.interval, self.peak = interval, 0
        self.start = self._rss()
        self._stop = threading.Event()

    def _rss(self):
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def timed(run, texts):
    """Return ``(seconds, peak growth of RSS in MB, output)`` of ``run(texts)``."""
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = run(texts)
        seconds = time.perf_counter() - start
    return seconds, (rss.peak - rss.start) / 2**20, out


def warm_load_seconds():
    """Seconds to load the default vectors in a fresh process (import excluded)."""
    code = (
        "import time, lightxfer; t = time.perf_counter(); kv = lightxfer.load_vectors(); "
        "kv.vectors[kv.key_to_index['the']].sum(); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# -- the run ----------------------------------------------------------------------------------


def build_methods(kv, texts, args):
    """Name -> callable(texts) of every method that runs here, and notes for the others."""
    # The alternatives read rows one at a time: give them a row-major in-memory copy (the
    # default .npy is column-major), so they run at their best.
    row_major = store.keyed_vectors(kv.index_to_key, np.ascontiguousarray(kv.vectors))
    methods, notes = {"reference loop (mean)": lambda t: reference_loop(t, row_major)}, {}
    kv = row_major
    if not args.skip_others:
        for name, factory in (("zeugma 0.49 (mean)", zeugma_method), ("fse (mean)", fse_method)):
            run, note = factory(kv)
            if run is None:
                notes[name] = note
            else:
                methods[name] = run
    for pooling in POOLINGS:
        label = pooling if isinstance(pooling, str) else "+".join(pooling)
        for n_jobs in (1, 2):
            vectorizer = lightxfer_method(pooling, n_jobs).fit(texts[:5000])
            # Start the worker processes (and their memory-map of the vectors) untimed.
            vectorizer.transform(texts[: 4 * vectorizer.batch_size])
            methods[f"lightxfer {label}, n_jobs={n_jobs}"] = vectorizer.transform
    regex = lightxfer_method("mean", 1, tokenizer="regex").fit(texts[:5000])
    methods["lightxfer mean, tokenizer='regex', n_jobs=1"] = regex.transform
    return methods, notes


def run_benchmark(texts, args):
    """Time every method on ``texts`` (best of ``args.repeat``) and collect the results."""
    kv = lightxfer.load_vectors()
    methods, notes = build_methods(kv, texts, args)
    best, reference_out = {}, None
    for _ in range(args.repeat):
        for name, run in methods.items():
            seconds, rss, out = timed(run, texts)
            if name.startswith("reference"):
                reference_out = out
            elif name.startswith("lightxfer mean, tokenizer='regex'"):
                best.setdefault("max_abs_diff_regex_vs_reference", 0.0)
                best["max_abs_diff_regex_vs_reference"] = float(np.abs(out - reference_out).max())
            if name not in best or seconds < best[name]["seconds"]:
                best[name] = {"seconds": seconds, "peak_rss_mb": rss}
            print(f"{name:48s} {len(texts) / seconds:10,.0f} /s  {rss:6.0f} MB", flush=True)
    max_abs_diff = best.pop("max_abs_diff_regex_vs_reference")
    tokenize_s = min(
        _seconds(lambda: tokenize_ids(texts, kv.key_to_index)) for _ in range(args.repeat)
    )
    return summarise(best, texts, notes, tokenize_s, max_abs_diff)


def _seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def summarise(best, texts, notes, tokenize_s, max_abs_diff):
    """Add sentences per second and ratios to the raw timings."""
    n = len(texts)
    reference = best["reference loop (mean)"]["seconds"]
    mean_1 = best["lightxfer mean, n_jobs=1"]["seconds"]
    rows = []
    for name, result in best.items():
        rows.append(
            {
                "method": name,
                "sentences_per_s": n / result["seconds"],
                "ratio_to_reference": reference / result["seconds"],
                "peak_rss_mb": result["peak_rss_mb"],
                **result,
            }
        )
    fse = best.get("fse (mean)")
    return {
        "n_sentences": n,
        "tokens_per_sentence": float(
            np.mean([len(TOKEN_PATTERN.findall(t)) for t in texts[:20000]])
        ),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": rows,
        "notes": notes,
        "tokenisation_share_mean_n_jobs_1": tokenize_s / mean_1,
        "max_abs_diff_to_reference_same_tokenisation": max_abs_diff,
        "max_over_mean_time": best["lightxfer max, n_jobs=1"]["seconds"] / mean_1,
        "ratio_to_fse": None if fse is None else fse["seconds"] / mean_1,
        "warm_load_seconds": warm_load_seconds(),
    }


def markdown(results, command):
    """The markdown section quoting the results."""
    lines = [
        "## Throughput: `EmbeddingVectorizer.transform`",
        "",
        f"{results['n_sentences']:,} sentences of the shipped datasets "
        f"(~{results['tokens_per_sentence']:.0f} tokens each), GloVe 6B 50d, "
        f"{results['machine']['cpus']} cores shared with other jobs, one process run "
        "(best of the repeats); reproduce with:",
        "",
        f"    {command}",
        "",
        "| method | sentences/s | x reference loop | peak RSS growth (MB, incl. workers) |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['method']} | {row['sentences_per_s']:,.0f} | "
            f"{row['ratio_to_reference']:.1f}x | {row['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        f"- Tokenisation is {results['tokenisation_share_mean_n_jobs_1']:.0%} of the time of "
        "mean pooling (n_jobs=1).",
        f"- max pooling takes {results['max_over_mean_time']:.2f}x the time of mean pooling.",
        "- With the reference loop's tokenisation (`tokenizer='regex'`) the features equal "
        f"the loop's to {results['max_abs_diff_to_reference_same_tokenisation']:.1e}.",
        f"- Warm load of the default vectors in a new process: "
        f"{results['warm_load_seconds']:.2f} s (memory-mapped).",
        "- lightxfer runs with `cache=False`; n_jobs=2 worker processes are started before timing.",
    ]
    if results["ratio_to_fse"] is not None:
        lines.append(
            f"- lightxfer mean is {results['ratio_to_fse']:.1f}x fse (tokenisation included)."
        )
    lines += [f"- {name}: skipped, {note}" for name, note in results["notes"].items()]
    return "\n".join(lines) + "\n"


def write_section(path, name, section):
    """Replace (or append) the section between ``<!-- name -->`` markers in ``path``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Performance\n"
    block = f"{begin}\n{section}{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


# -- command line ---------------------------------------------------------------------------


def build_parser():
    """The argument parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        type=Path,
        help="folder of your own CSVs with a text column (default: $LIGHTXFER_DATA_DIR, else "
        "every dataset shipped with lightxfer)",
    )
    parser.add_argument("--n", default=200_000, type=int, help="sentences to embed")
    parser.add_argument("--repeat", default=2, type=int, help="runs per method; best kept")
    parser.add_argument("--out", default=RESULTS / "throughput.json", type=Path)
    parser.add_argument("--skip-others", action="store_true", help="skip zeugma and fse")
    return parser


def main(argv=None):
    """Run the benchmark and write its JSON and markdown results."""
    args = build_parser().parse_args(argv)
    texts = load_texts(args.data_dir, args.n)
    results = run_benchmark(texts, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    command = "python benchmarks/throughput.py" + (f" --n {args.n}" if args.n != 200_000 else "")
    write_section(args.out.parent / "performance.md", "throughput", markdown(results, command))
    return results


if __name__ == "__main__":
    main()
