"""Train the source heads that ship with lightxfer and write them to lightxfer/data/sources.

One ``make_classifier(encoder="all-MiniLM-L6-v2", head="mlp")`` per shipped task, fitted
on the task's training split (SST-2, SST-5, TREC) or on the training part of fold 0 of
the stratified 10-fold split that benchmarks/accuracy.py uses (SUBJ, MPQA), and scored on
the matching test part, with the float32 weights and with the float16 weights written.

Run from the repository root (encodes each task once, cached in --cache-dir)::

    nice -n 10 python benchmarks/train_sources.py
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy

from lightxfer.datasets import list_datasets
from lightxfer.source_models.shipped import NAMES, SOURCES_DIR, mlp_from_arrays, read_source
from lightxfer.source_models.training import source_arrays, train_source, write_source


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", default=",".join(NAMES), help="sources to train")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("/tmp/lightxfer-bench-encoder"),
        help="encoder feature cache (see benchmarks/accuracy.py warm_encoder_cache)",
    )
    parser.add_argument("--out", type=Path, default=SOURCES_DIR, help="folder of the .npz files")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    catalogue = list_datasets()
    for name in [n.strip() for n in args.names.split(",") if n.strip()]:
        splits = accuracy.full_splits(None, name, quick=False)
        accuracy.warm_encoder_cache(accuracy.texts_of(splits), args.cache_dir)
        X, y, X_test, y_test = splits[0]
        start = time.perf_counter()
        model = train_source(X, y)
        seconds = time.perf_counter() - start
        float32 = model.score(X_test, y_test)
        arrays = source_arrays(model)
        rounded = mlp_from_arrays(arrays, {"recipe": {"head_params": {}}})
        features = model.named_steps["embedding"].transform(X_test)
        float16 = float(np.mean(rounded.predict(features) == np.asarray(y_test)))
        split = "train split" if name not in accuracy.CV_TASKS else "fold 0 of 10 (training part)"
        path = write_source(
            model,
            args.out / f"{name}.npz",
            name=name,
            task=catalogue.loc[name, "task"],
            licence=catalogue.loc[name, "licence"],
            data=f"lightxfer.datasets.load_{name}, {split}",
            rows=len(y),
            source_test_accuracy=round(float16, 4),
            source_test_accuracy_float32=round(float32, 4),
            test_rows=len(y_test),
        )
        read_source(name)  # the file reads back
        print(
            json.dumps(
                {
                    "name": name,
                    "rows": len(y),
                    "test_accuracy_float32": round(float32, 4),
                    "test_accuracy_float16": round(float16, 4),
                    "fit_seconds": round(seconds, 1),
                    "bytes": path.stat().st_size,
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
