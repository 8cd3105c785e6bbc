"""Point 5 of issue 6: same data and random_state give identical predictions, everywhere."""

import os
import subprocess
import sys
import warnings

import numpy as np

import lightxfer

SCRIPT = """
import sys, warnings
import numpy as np
sys.path.insert(0, sys.argv[2])
from conftest import read_shared
import lightxfer
warnings.simplefilter("ignore")
train, test = read_shared("sst2_train", 300), read_shared("sst2_test", 100)
model = lightxfer.make_classifier(pooling=["mean", "sif"], head=sys.argv[3],
                                  hidden_layer_sizes=(16,), max_iter=30, random_state=0)
model.fit(train["text"], train["label"])
np.save(sys.argv[1], model.predict_proba(test["text"]))
"""


def _start(tmp_path, head, hash_seed):
    out = tmp_path / f"{head}-{hash_seed}.npy"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    command = [sys.executable, "-c", SCRIPT, str(out), os.path.dirname(__file__), head]
    return subprocess.Popen(command, env=env), out


def test_identical_across_processes(tmp_path):
    # Two processes with different string hashing (set and dict orders) at once.
    runs = [_start(tmp_path, "mlp", seed) for seed in ("1", "2")]
    for process, _ in runs:
        assert process.wait(timeout=300) == 0
    np.testing.assert_array_equal(np.load(runs[0][1]), np.load(runs[1][1]))


def test_identical_within_a_process(sst2):
    X, y, X_test, _ = sst2
    runs = []
    for _ in range(2):
        model = lightxfer.make_classifier(
            pooling=["mean", "tfidf"], head="mlp", hidden_layer_sizes=(16,), random_state=3
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        runs.append(model.predict_proba(X_test))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_different_random_state_differs(sst2):
    # Guards the tests above against a head that ignores random_state.
    X, y, X_test, _ = sst2
    probas = []
    for seed in (0, 1):
        model = lightxfer.make_classifier(head="mlp", hidden_layer_sizes=(16,), random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probas.append(model.fit(X, y).predict_proba(X_test))
    assert not np.array_equal(probas[0], probas[1])


def test_features_independent_of_batching(glove, sst2):
    X = sst2[0]
    reference = lightxfer.EmbeddingVectorizer(glove, cache=False).fit(X).transform(X)
    batched = lightxfer.EmbeddingVectorizer(glove, cache=False, batch_size=7).fit(X)
    np.testing.assert_array_equal(batched.transform(X), reference)
