"""EmbeddingVectorizer and FrozenHiddenLayers behave like scikit-learn estimators.

Parameters are checked through ``_parameter_constraints``, a fit starts from nothing,
a row does not depend on the rows beside it, and the feature cache never serves the
features of another tokenizer.
"""

import sys
import types

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from lightxfer import EmbeddingVectorizer
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.shared.pooling import POOLINGS


@pytest.mark.parametrize(
    "params",
    [
        {"sif_alpha": -1},
        {"sif_alpha": 0},
        {"n_jobs": "x"},
        {"cache": 3},
        {"batch_size": 0},
        {"lowercase": "yes"},
        {"tokenizer": "nltk"},
        {"pooling": "median"},
        {"store_vectors": "no"},
    ],
)
def test_bad_parameters_are_rejected_by_name(params):
    (name,) = params
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of EmbeddingVectorizer"):
        EmbeddingVectorizer(**params).fit(["a good film"])


def test_unknown_pooling_in_a_list_is_rejected():
    with pytest.raises(ValueError, match="pooling must be one of"):
        EmbeddingVectorizer(pooling=["mean", "median"]).fit(["a good film"])


def test_refit_with_other_parameters_drops_the_old_state(sst2):
    vectorizer = EmbeddingVectorizer(pooling="tfidf").fit(sst2[0][:50])
    assert hasattr(vectorizer, "idf_")
    vectorizer.set_params(pooling="mean").fit(sst2[0][50:100])
    assert not hasattr(vectorizer, "idf_") and not hasattr(vectorizer, "idf_ids_")
    fresh = EmbeddingVectorizer(pooling="mean").fit(sst2[0][50:100])
    assert sorted(vars(vectorizer)) == sorted(vars(fresh))


def test_refit_from_the_fit_cache_drops_the_old_state(sst2):
    EmbeddingVectorizer(pooling="sif").fit(sst2[0][:60])  # now in the fit cache
    vectorizer = EmbeddingVectorizer(pooling="tfidf").fit(sst2[0][:60])
    vectorizer.set_params(pooling="sif").fit(sst2[0][:60])  # a cache hit
    assert not hasattr(vectorizer, "idf_")
    assert vectorizer.sif_component_ is not None


@pytest.mark.parametrize("pooling", ["sif", ["mean", "sif"], "tfidf"])
def test_a_row_does_not_depend_on_the_batch(pooling, sst2):
    texts = sst2[2][:200]
    vectorizer = EmbeddingVectorizer(pooling=pooling, cache=False).fit(sst2[0])
    together = vectorizer.transform(texts)
    one_by_one = np.vstack([vectorizer.transform([text]) for text in texts])
    np.testing.assert_array_equal(together, one_by_one)


@pytest.mark.parametrize("pooling", [*POOLINGS, ["mean", "sif"]])
def test_transform_of_no_texts_is_an_empty_matrix(pooling, sst2):
    vectorizer = EmbeddingVectorizer(pooling=pooling).fit(sst2[0][:50])
    n_features = len(vectorizer.get_feature_names_out())
    for empty in ([], np.array([], dtype=object), iter([])):
        X = vectorizer.transform(empty)
        assert X.shape == (0, n_features) and X.dtype == np.float32


@pytest.mark.parametrize(
    "tokenizer",
    [
        lambda text: (word for word in text.split()),
        lambda text: map(str, text.split()),
        lambda text: tuple(text.split()),
    ],
    ids=["generator", "map", "tuple"],
)
def test_a_tokenizer_may_return_any_iterable(tokenizer, sst2):
    as_list = EmbeddingVectorizer(tokenizer=str.split).fit(sst2[0][:50])
    as_iterable = EmbeddingVectorizer(tokenizer=tokenizer).fit(sst2[0][:50])
    np.testing.assert_array_equal(
        as_iterable.transform(sst2[2][:20]), as_list.transform(sst2[2][:20])
    )


def test_a_tokenizer_returning_a_string_is_named():
    with pytest.raises(TypeError, match="tokenizer must return an iterable of tokens.*str"):
        EmbeddingVectorizer(tokenizer=str.lower).fit(["a good film"])


@pytest.mark.parametrize("pooling", ["mean", "sif"])
def test_a_tokenizer_redefined_under_the_same_name_gets_new_features(pooling, sst2):
    # As a notebook cell run again: same module, same name, new code.
    notebook = types.ModuleType("notebook_session")
    sys.modules[notebook.__name__] = notebook
    try:
        exec("def tokenize(text):\n    return text.split()", vars(notebook))
        before = EmbeddingVectorizer(pooling=pooling, tokenizer=notebook.tokenize)
        before = before.fit(sst2[0][:50]).transform(sst2[2][:10])
        exec("def tokenize(text):\n    return text.split()[:1]", vars(notebook))
        after = EmbeddingVectorizer(pooling=pooling, tokenizer=notebook.tokenize)
        after = after.fit(sst2[0][:50]).transform(sst2[2][:10])
        expected = EmbeddingVectorizer(pooling=pooling, tokenizer=notebook.tokenize, cache=False)
        expected = expected.fit(sst2[0][:50]).transform(sst2[2][:10])
    finally:
        del sys.modules[notebook.__name__]
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, expected)


def test_frozen_layers_accept_nested_lists():
    layers = FrozenHiddenLayers([[[1.0, 0.0], [0.0, 1.0]]], [[0.0, -1.0]])
    np.testing.assert_array_equal(
        layers.fit_transform(np.array([[1.0, 3.0], [-2.0, 0.5]])), [[1.0, 2.0], [0.0, 0.0]]
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"activation": "gelu"}, "'activation' parameter"),
        ({"coefs": 3, "intercepts": [0.0]}, "'coefs' parameter"),
        ({"coefs": [[["a", "b"]]], "intercepts": [[0.0, 0.0]]}, "coefs must hold numeric"),
    ],
)
def test_frozen_layers_reject_bad_parameters_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        FrozenHiddenLayers(**params).fit(np.eye(2))
