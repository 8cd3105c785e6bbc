"""Write the model files of this folder with lightxfer as of commit 478ef15.

Run with that commit's code first on the path (not this checkout's)::

    git worktree add OLD 478ef15
    python -c "from lightxfer.datasets import load_sst2; \
        [load_sst2(s, as_frame=True).to_csv(f'sst2_{s}.csv', index=False) for s in ('train', 'test')]"
    PYTHONPATH=OLD python tests/data/old_models/write_old_models.py sst2_train.csv sst2_test.csv

(the CSVs are SST-2 as ``lightxfer.datasets`` ships it, written by this checkout).

Each model is fitted on 40 SST-2 training sentences (20 per class) and saved with that
version's ``lightxfer.save`` (one also as ``.joblib``); ``predictions.json`` records its predictions and class
probabilities on 8 test sentences, which ``tests/test_old_models.py`` compares against.
"""

import json
import sys
from pathlib import Path

import pandas as pd

import lightxfer
from lightxfer import make_classifier

HERE = Path(__file__).parent


def sample(path, n, seed=0):
    table = pd.read_csv(path)
    table = table.groupby("label", group_keys=False).sample(n // 2, random_state=seed)
    table = table.sample(frac=1, random_state=seed)
    return table["text"].tolist(), table["label"].tolist()


def main(train_csv, test_csv):
    texts, labels = sample(train_csv, 40)
    test_texts, _ = sample(test_csv, 8)
    # The n-gram vocabularies are written as one JSON node per term: min_df=2 and
    # small character n-gram ranges keep the files small.
    recommended = make_classifier()
    recommended.set_params(embedding__min_df=2, embedding__char_ngram_range=None)
    weighted = make_classifier()
    weighted.set_params(
        embedding__ngram_weight=1.0,
        embedding__scale=2.0,
        embedding__min_df=2,
        embedding__char_ngram_range=(3, 3),
        embedding__char_min_df=8,
    )
    models = {
        "recommended": recommended,
        "recommended_weighted": weighted,
        "mean_max_logreg": make_classifier(pooling=["mean", "max"], head="logreg"),
        "mlp": make_classifier(head="mlp", hidden_layer_sizes=(16,), max_iter=300, random_state=0),
    }
    record = {"commit": "478ef15", "lightxfer": lightxfer.__version__, "texts": test_texts}
    for name, model in models.items():
        model.fit(texts, labels)
        lightxfer.save(model, HERE / f"{name}.skops")
        if name == "recommended_weighted":  # the pickle format too (load needs allow_pickle)
            lightxfer.save(model, HERE / f"{name}.joblib")
        record[name] = {
            "predictions": model.predict(test_texts).tolist(),
            "probabilities": model.predict_proba(test_texts).tolist(),
        }
    (HERE / "predictions.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
