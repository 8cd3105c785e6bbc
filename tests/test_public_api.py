"""The names users and checks rely on stay importable and keep their promised shapes."""

import inspect

import pandas as pd
from gensim.models import KeyedVectors
from sklearn.pipeline import Pipeline

import lightxfer
from lightxfer import EmbeddingVectorizer


def test_every_public_name_is_exported():
    for name in lightxfer.__all__:
        assert getattr(lightxfer, name) is not None, name


def test_promised_signatures():
    assert list(inspect.signature(lightxfer.load_vectors).parameters)[:2] == ["source", "limit"]
    assert {"vectors", "pooling", "head", "encoder"} <= set(
        inspect.signature(lightxfer.make_classifier).parameters
    )
    params = inspect.signature(EmbeddingVectorizer).parameters
    assert {"vectors", "pooling", "n_jobs"} <= set(params)
    transfer = inspect.signature(lightxfer.transfer).parameters
    assert [transfer[n].default for n in ("head", "freeze", "fine_tune")] == [
        "logreg",
        "auto",
        False,
    ]
    evaluate = inspect.signature(lightxfer.evaluate_transfer).parameters
    assert evaluate["train_sizes"].default == (8, 32, 128, "all")
    assert evaluate["n_seeds"].default == 5
    assert callable(lightxfer.distributed.transform)


def test_load_vectors_returns_keyed_vectors(glove):
    assert isinstance(lightxfer.load_vectors(limit=10), KeyedVectors)


def test_make_classifier_contains_the_vectorizer_as_a_step_and_ends_with_the_head():
    for model in (
        lightxfer.make_classifier(),
        lightxfer.make_classifier(pooling="max", head="mlp"),
    ):
        assert isinstance(model, Pipeline)
        shared = model.named_steps["embedding"]
        assert isinstance(getattr(shared, "shared", shared), EmbeddingVectorizer)
        assert hasattr(model.steps[-1][1], "predict_proba")


def test_evaluate_transfer_returns_a_dataframe(sst2):
    X, y, X_test, y_test = sst2
    source = lightxfer.make_classifier(head="mlp", hidden_layer_sizes=(16,), max_iter=50).fit(X, y)
    table = lightxfer.evaluate_transfer(
        source, X_test, y_test, train_sizes=(8,), n_seeds=2, X_test=X, y_test=y
    )
    assert isinstance(table, pd.DataFrame) and len(table) >= 3
