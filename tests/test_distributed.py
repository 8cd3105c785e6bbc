"""lightxfer on a real Dask cluster: two worker processes on loopback, started here."""

import os
import signal
import sys
import time

import cloudpickle
import joblib
import numpy as np
import pytest
from conftest import read_shared, texts_and_labels
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lightxfer import EmbeddingVectorizer, make_classifier
from lightxfer.cli.commands.embed import read_features
from lightxfer.cli.entrypoint import main as cli
from lightxfer.exceptions import MissingExtraError

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")
lx_distributed = pytest.importorskip("lightxfer.distributed")

# Workers cannot import this test module: ship its helper functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def texts():
    return read_shared("sst2_train", 1000)["text"].tolist()


@pytest.fixture(scope="module")
def fitted(texts):
    # SIF and tfidf carry fitted state that workers must use as the client does.
    return EmbeddingVectorizer(pooling=["mean", "tfidf", "sif"]).fit(texts)


def _local(vectorizer, partitions):
    """Features computed here, partition by partition.

    Equal bit for bit to the cluster's; a single batch may differ in the last bit, as the
    rounding of SIF's matrix-vector product depends on the rows in the batch.
    """
    return np.concatenate([vectorizer.transform(texts) for texts in partitions])


def _registry_state(fingerprint):
    """Runs on a worker: how it holds the vectors with this fingerprint."""
    from lightxfer.vectors import registry

    found = [kv for kv, ref in list(registry._INFO.items()) if ref.fingerprint == fingerprint]
    return {
        "copies": len(found),
        "memory_mapped": all(isinstance(kv.vectors, np.memmap) for kv in found),
    }


def _slow(chunk):
    # Keeps each block busy long enough for a worker to be killed while blocks are pending.
    time.sleep(0.3)
    return chunk


def test_bag_transform_equals_local(client, texts, fitted):
    bag = db.from_sequence(texts, npartitions=4)
    features = lx_distributed.transform(fitted, bag)
    assert features.chunks[0] == (250, 250, 250, 250)
    computed = features.compute()
    partitions = dask.compute(*bag.to_delayed(), scheduler="sync")
    np.testing.assert_array_equal(computed, _local(fitted, partitions))
    np.testing.assert_allclose(computed, fitted.transform(texts), rtol=0, atol=1e-6)


def test_workers_resolve_vectors_themselves_once(client, texts, fitted):
    features = lx_distributed.transform(fitted, db.from_sequence(texts, npartitions=4))
    features.compute()
    features.compute()
    states = client.run(_registry_state, fitted.fingerprint_)
    assert len(states) == 2
    assert all(state == {"copies": 1, "memory_mapped": True} for state in states.values())
    payload = lx_distributed.task_payload(features)
    # The 400k x 50 vectors are 80 MB; the model holds only its fitted state (tfidf's IDF of
    # the words seen in fit, SIF's component), sent once per worker, and a task no model.
    assert fitted.vectors_.vectors.nbytes > 50_000_000
    assert payload["model_bytes"] < 200_000
    assert payload["n_tasks"] == 4
    assert payload["task_bytes_max"] < 2_000


def test_series_dataframe_and_pipeline_prefix(client, texts):
    frame = read_shared("sst2_train", 1500)
    model = make_pipeline(EmbeddingVectorizer(pooling=["mean", "max"]), StandardScaler())
    local = model.fit_transform(frame["text"])
    column = dd.from_pandas(frame[["text"]], npartitions=3)
    for collection in (column["text"], column):
        features = lx_distributed.transform(model, collection)
        assert features.chunks[0] == (500, 500, 500)
        np.testing.assert_allclose(features.compute(), local, rtol=0, atol=1e-6)
    # The recommended classifier's features are sparse (vectors + TF-IDF n-grams).
    train = frame.sample(300, random_state=0)  # read_shared groups rows by label
    classifier = make_classifier().fit(train["text"], train["label"])
    features = lx_distributed.transform(classifier[:-1], column["text"])
    expected = classifier[:-1].transform(frame["text"])
    assert features.chunks[0] == (500, 500, 500)
    np.testing.assert_allclose(features.compute().toarray(), expected.toarray(), rtol=0, atol=1e-6)


def test_rejects_what_it_cannot_embed(texts, fitted):
    bag = db.from_sequence(texts[:10], npartitions=2)
    with pytest.raises(ValueError, match=r"model\[:-1\]"):
        lx_distributed.transform(make_classifier(pooling="mean").fit(texts[:10], [0, 1] * 5), bag)
    with pytest.raises(TypeError, match="Bag, Series"):
        lx_distributed.transform(fitted, texts)
    with pytest.raises(ValueError, match="one column"):
        lx_distributed.transform(fitted, dd.from_dict({"a": ["x"], "b": ["y"]}, npartitions=1))
    with pytest.raises(ValueError, match="2 partitions"):
        lx_distributed.transform(fitted, bag, lengths=[10])
    wrong = lx_distributed.transform(fitted, bag, lengths=[4, 6])
    with pytest.raises(ValueError, match="has 5 texts where 6 were expected"):
        wrong.compute(scheduler="sync")


def test_missing_extra_names_it(monkeypatch, fitted):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(MissingExtraError, match=r'pip install "lightxfer\[dask\]"'):
        lx_distributed.transform(fitted, ["a text"])


def test_grid_search_on_dask_equals_local(client):
    X, y = texts_and_labels(read_shared("sst2_train", 450))
    grid = {"head__C": [0.1, 10.0], "embedding__pooling": ["mean", ["mean", "max"]]}
    local = GridSearchCV(make_classifier(pooling="mean"), grid, cv=3).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        remote = GridSearchCV(make_classifier(pooling="mean"), grid, cv=3, n_jobs=-1).fit(X, y)
    assert len(stream.data) >= 12  # 4 candidates x 3 folds ran on the workers
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_embed_cli_local_and_on_cluster(client, tmp_path, fmt):
    inputs = tmp_path / "in"
    inputs.mkdir()
    frame = read_shared("sst2_train", 900)
    frame.iloc[:500].to_csv(inputs / "a.csv", index=False)
    frame.iloc[500:].to_csv(inputs / "b.csv", index=False)
    expected = EmbeddingVectorizer(pooling=["mean", "max"]).fit_transform(frame["text"])
    common = ["--input", str(inputs / "*.csv"), "--pooling", "mean,max", "--format", fmt]
    common += ["--chunk-size", "200", "--no-progress"]
    address = client.scheduler.address
    assert cli(["embed", *common, "--output", str(tmp_path / "local")]) == 0
    assert cli(["embed", *common, "--output", str(tmp_path / "dask"), "--scheduler", address]) == 0
    for name in ("local", "dask"):
        np.testing.assert_array_equal(read_features(tmp_path / name), expected)
    assert len(list((tmp_path / "dask").glob(f"part-*.{fmt}"))) == 5  # 3 + 2 chunks
    assert cli(["embed", *common, "--output", str(tmp_path / "dask")]) == 2  # no overwrite


def test_killed_worker_loses_and_duplicates_no_rows(client, texts, fitted):
    chunks = [texts[start : start + 100] for start in range(0, len(texts), 100)]
    bag = db.from_delayed([dask.delayed(_slow)(chunk) for chunk in chunks])
    features = lx_distributed.transform(fitted, bag, lengths=[len(c) for c in chunks])
    blocks, killed = {}, None
    for index, block in lx_distributed.iter_blocks(features, client=client):
        assert index not in blocks
        blocks[index] = block
        if killed is None:
            busy = [worker for worker, keys in client.processing().items() if keys]
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed = busy[0], len(blocks)
    victim, done_before_kill = killed
    assert done_before_kill < len(chunks)  # the kill came mid-job
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert victim not in client.scheduler_info()["workers"]
    assert sorted(blocks) == list(range(len(chunks)))
    np.testing.assert_array_equal(
        np.concatenate([blocks[i] for i in range(len(chunks))]), _local(fitted, chunks)
    )
