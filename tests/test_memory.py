"""Point 6 of issue 6: big vector files are streamed and memory-mapped; long transforms
use memory for their output, not for their input.

Each measurement runs in a fresh process that samples its own anonymous (non file-backed)
resident memory; memory-mapped vector pages are file-backed and the kernel can drop them.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np

PROBE = textwrap.dedent(
    """
    import threading, time

    def anon_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024

    class Peak:
        def __init__(self):
            self.value, self.base, self.running = 0.0, anon_mb(), True
            threading.Thread(target=self.watch, daemon=True).start()
        def watch(self):
            while self.running:
                self.value = max(self.value, anon_mb())
                time.sleep(0.005)
        def stop(self):
            self.running = False
            return max(self.value, anon_mb()) - self.base
    """
)

CONVERT = (
    PROBE
    + """
import json, sys
from lightxfer import load_vectors  # imported before the baseline: lightxfer loads lazily
peak = Peak()
kv = load_vectors(sys.argv[1])
growth = peak.stop()
print(json.dumps({"growth_mb": growth, "words": len(kv.index_to_key),
                  "mmap": type(kv.vectors).__name__}))
"""
)

TRANSFORM = (
    PROBE
    + """
import itertools, json, sys
import numpy as np
import lightxfer
n = int(sys.argv[1])
vectorizer = lightxfer.EmbeddingVectorizer(cache=False).fit(["a good film"])
words = vectorizer.vectors_.index_to_key[:5000]
pool = [" ".join(words[(i * 7 + j * 13) % 5000] for j in range(8)) for i in range(1000)]
texts = itertools.islice(itertools.cycle(pool), n)  # never a list of n texts
peak = Peak()
if sys.argv[2] == "whole":
    features = vectorizer.transform(texts)
else:  # the streaming recipe: chunks written into a preallocated array
    features = np.empty((n, 50), dtype=np.float32)
    for start in range(0, n, 50_000):
        chunk = list(itertools.islice(texts, 50_000))
        features[start : start + len(chunk)] = vectorizer.transform(chunk)
growth = peak.stop()
print(json.dumps({"growth_mb": growth, "output_mb": features.nbytes / 2**20,
                  "finite": bool(np.isfinite(features).all())}))
"""
)


def _run(script, *args):
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write_glove(path, words, dim):
    rows = np.random.default_rng(0).normal(size=(500, dim)).astype(np.float32)
    lines = [" ".join(f"{value:.6f}" for value in row) for row in rows]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(words):
            out.write(f"w{i} {lines[i % 500]}\n")


def test_text_file_is_streamed_not_read_whole(tmp_path):
    path = tmp_path / "big.txt"
    _write_glove(path, 40_000, 300)  # ~110 MB of text, 46 MB of float32
    file_mb = path.stat().st_size / 2**20
    converted = _run(CONVERT, path)
    print(file_mb, converted)
    assert converted["words"] == 40_000
    assert converted["mmap"] == "memmap"
    # Reading the file into RAM (or gensim's parse) would cost more than the file size;
    # the streaming parser holds one block of 100k values and the word list, less than
    # the matrix it writes (46 MB), let alone the file.
    matrix_mb = 40_000 * 300 * 4 / 2**20
    assert converted["growth_mb"] < 0.8 * matrix_mb < file_mb, converted
    reloaded = _run(CONVERT, path)  # from the cache: memory-mapped, nothing copied
    print(reloaded)
    assert reloaded["growth_mb"] < matrix_mb / 3, reloaded


def test_million_text_transform_memory_is_its_output(tmp_path):
    whole = _run(TRANSFORM, 1_000_000, "whole")
    assert whole["finite"]
    print(whole)
    # The features themselves (191 MB) and one copy when batches are joined; the texts of
    # a generator are never all held (that alone would be ~100 MB more).
    assert whole["growth_mb"] < 2 * whole["output_mb"] + 80, whole


def test_chunked_transform_memory_is_bounded():
    # The streaming recipe (benchmarks/memory.py measures it at 1M texts too): memory is
    # the preallocated output plus one chunk, whatever the number of texts.
    chunked = _run(TRANSFORM, 200_000, "chunked")
    assert chunked["finite"]
    print(chunked)
    assert chunked["growth_mb"] < chunked["output_mb"] + 60, chunked
