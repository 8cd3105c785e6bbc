"""Write ``sources.skops`` / ``sources.joblib``: a model with shipped sources, as of commit ed5b694.

That commit is the last before the source modules moved into ``lightxfer.source_models``:
its files name ``lightxfer.source_blocks.SourceBlocks``. Run with that commit's code first
on the path (not this checkout's)::

    git worktree add OLD ed5b694
    PYTHONPATH=OLD python tests/data/old_models/write_source_models.py

The model is ``make_classifier(sources="auto", head="logreg")`` on the default GloVe
vectors (the shipped conv sources), their weight set to 1 so they count, fitted on 40
SST-2 training sentences; ``source_predictions.json`` records its predictions and class
probabilities on 8 test sentences, which ``tests/test_old_models.py`` compares against.
"""

import json
from pathlib import Path

import numpy as np

import lightxfer
from lightxfer import make_classifier
from lightxfer.datasets import load_sst2

HERE = Path(__file__).parent


def sample(split, n, seed=0):
    texts, labels = load_sst2(split)
    rng = np.random.default_rng(seed)
    picked = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), n // 2, replace=False)
            for c in ("negative", "positive")
        ]
    )
    picked = rng.permutation(picked)
    return [texts[i] for i in picked], [str(labels[i]) for i in picked]


def main():
    texts, labels = sample("train", 40)
    test_texts, _ = sample("test", 8)
    model = make_classifier(sources="auto", head="logreg")
    model.set_params(embedding__weight=1.0).fit(texts, labels)
    lightxfer.save(model, HERE / "sources.skops")
    lightxfer.save(model, HERE / "sources.joblib")
    record = {
        "commit": "ed5b694",
        "lightxfer": lightxfer.__version__,
        "texts": test_texts,
        "predictions": model.predict(test_texts).tolist(),
        "probabilities": model.predict_proba(test_texts).tolist(),
    }
    (HERE / "source_predictions.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
