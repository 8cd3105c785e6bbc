"""Peak memory of converting and memory-mapping a vectors file, and of a long transform.

Writes a synthetic GloVe-format text file (``--words`` x ``--dim``), converts it with
``lightxfer.load_vectors`` in a fresh process, loads it again from the cache, and runs a
transform over a generator of ``--texts`` texts; each step's peak RSS goes to
``results/memory.json`` and ``results/memory.md``.

Run ``python benchmarks/memory.py --help``; the defaults make a ~330 MB file.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

STEP = textwrap.dedent(
    """
    import itertools, json, sys, threading, time
    import lightxfer

    def anon_mb():  # anonymous memory: mapped vector pages are file-backed, droppable
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024

    peak = [0.0]
    def watch():
        while True:
            peak[0] = max(peak[0], anon_mb())
            time.sleep(0.005)

    step, path, n_texts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {}
    if step == "transform":
        vectorizer = lightxfer.EmbeddingVectorizer(path, cache=False).fit(["a b c"])
        words = vectorizer.vectors_.index_to_key[:5000]
        pool = [" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(8))
                for i in range(1000)]
    base = anon_mb()
    threading.Thread(target=watch, daemon=True).start()
    if step == "transform":
        features = vectorizer.transform(itertools.islice(itertools.cycle(pool), n_texts))
        out["output_mb"] = features.nbytes / 2**20
    else:
        kv = lightxfer.load_vectors(path)
        out.update(words=len(kv.index_to_key), dim=kv.vector_size)
    out.update(base_mb=base, peak_growth_mb=max(peak[0], anon_mb()) - base)
    print(json.dumps(out))
    """
)


def write_glove(path, words, dim):
    """Write ``words`` random-looking vectors of ``dim`` values, GloVe text format."""
    import numpy as np

    rows = np.random.default_rng(0).normal(size=(1000, dim)).astype(np.float32)
    lines = [" ".join(f"{value:.6f}" for value in row) for row in rows]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(words):
            out.write(f"w{i} {lines[i % 1000]}\n")


def run_step(step, path, n_texts, cache):
    env = {**os.environ, "LIGHTXFER_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(path), str(n_texts)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--texts", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path, cache = Path(tmp) / "synthetic.txt", Path(tmp) / "cache"
        write_glove(path, args.words, args.dim)
        size_mb = path.stat().st_size / 2**20
        results = {"file_mb": size_mb, "matrix_mb": args.words * args.dim * 4 / 2**20}
        results["convert"] = run_step("convert", path, 0, cache)
        results["load_cached"] = run_step("load", path, 0, cache)
        results["transform"] = run_step("transform", path, args.texts, cache)
        results["texts"] = args.texts
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(results, indent=1))
    rows = [
        "| step | peak anonymous RSS growth (MiB) |",
        "|---|---|",
        f"| convert {size_mb:.0f} MB text file (streamed to cache) | "
        f"{results['convert']['peak_growth_mb']:.0f} |",
        f"| load from cache (memory-mapped) | {results['load_cached']['peak_growth_mb']:.0f} |",
        f"| transform {args.texts:,} texts from a generator (output "
        f"{results['transform']['output_mb']:.0f} MB) | "
        f"{results['transform']['peak_growth_mb']:.0f} |",
    ]
    (RESULTS / "memory.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
