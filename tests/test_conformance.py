"""Conformance: every estimator behaves like a scikit-learn one.

Numeric estimators go through scikit-learn's own ``parametrize_with_checks``. Text
transformers, which those checks skip (they feed numbers), go through the text versions
of the same checks below. To check a new estimator, add one line to
``NUMERIC_ESTIMATORS`` or ``TEXT_TRANSFORMERS``.

The data are real and small, and ship with gensim: 200 movie-review sentences labelled
by polarity, and 100-d fastText vectors trained on them (1694 words; both files are
cp1252, re-encoded here as UTF-8).
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from gensim.test.utils import datapath
from joblib import Parallel, delayed, hash
from scipy import sparse
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from lightxfer import ConvLayer, EmbeddingVectorizer, SourceBlocks
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.transferring import FineTunedMLPClassifier

NUMERIC_ESTIMATORS = [
    FrozenHiddenLayers(),
    FrozenHiddenLayers(activation="tanh"),
    FineTunedMLPClassifier(max_iter=200),
]

#: Every public text transformer: one line per configuration, a function of the path of
#: small word vectors returning the unfitted transformer (it may ignore the path).
TEXT_TRANSFORMERS = [
    pytest.param(lambda vectors: EmbeddingVectorizer(vectors), id="embedding-mean"),
    pytest.param(lambda vectors: EmbeddingVectorizer(vectors, "tfidf"), id="embedding-tfidf"),
    pytest.param(lambda vectors: EmbeddingVectorizer(vectors, "sif"), id="embedding-sif"),
    pytest.param(
        lambda vectors: EmbeddingVectorizer(vectors, ["max", "sif"], cache=False),
        id="embedding-max-sif-uncached",
    ),
    pytest.param(lambda vectors: SourceBlocks(EmbeddingVectorizer(vectors)), id="source-blocks"),
    # The shipped conv filters read GloVe, not the small vectors.
    pytest.param(lambda vectors: ConvLayer("trec", pooling=["max", "mean"]), id="conv-max-mean"),
]


@parametrize_with_checks(NUMERIC_ESTIMATORS)
def test_scikit_learn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- text transformers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    """The 200 polarity sentences and their labels, the classes interleaved."""
    with open(datapath("pang_lee_polarity.cor"), encoding="cp1252") as file:  # not UTF-8
        lines = file.read().splitlines()
    labels, texts = zip(*(line.strip().split(" ", 1) for line in lines))
    order = np.argsort(np.arange(len(lines)) % 100, kind="stable")
    return np.array(texts, dtype=object)[order], np.array(labels)[order]


@pytest.fixture(scope="module")
def small_vectors(tmp_path_factory):
    """Path of the polarity sentences' fastText vectors, as UTF-8 word2vec text."""
    path = tmp_path_factory.mktemp("vectors") / "polarity.vec"
    with open(datapath("pang_lee_polarity_fasttext.vec"), encoding="cp1252") as file:
        path.write_text(file.read(), encoding="utf-8")
    return str(path)


@pytest.fixture(params=TEXT_TRANSFORMERS)
def make(request, small_vectors):
    """A function returning a new unfitted transformer of one configuration."""
    return lambda: request.param(small_vectors)


def dense(X):
    return X.toarray() if sparse.issparse(X) else np.asarray(X)


def assert_same_features(A, B):
    # Float32 features: equal up to float32 rounding whatever the batch or process.
    np.testing.assert_allclose(dense(A), dense(B), rtol=1e-5, atol=1e-6)


def same_params(a, b):
    return hash(a.get_params(deep=False)) == hash(b.get_params(deep=False))


def test_clone_copies_parameters_and_no_state(make, corpus):
    estimator = make().fit(*corpus)
    copy = clone(estimator)
    assert same_params(copy, estimator)
    assert not [name for name in vars(copy) if name.endswith("_") and not name.startswith("_")]
    with pytest.raises(NotFittedError):
        copy.transform(corpus[0][:2])


def test_get_and_set_params_round_trip(make):
    estimator = make()
    params = estimator.get_params(deep=False)
    assert same_params(estimator.set_params(**params), make())
    assert same_params(type(estimator)(**params), estimator)


def test_fit_does_not_change_parameters(make, corpus):
    estimator = make()
    before = hash(estimator.get_params(deep=False))
    estimator.fit(*corpus)
    assert hash(estimator.get_params(deep=False)) == before


def test_fit_adds_only_attributes_ending_in_underscore(make, corpus):
    estimator = make()
    before = set(vars(estimator))
    added = set(vars(estimator.fit(*corpus))) - before
    public = [name for name in added if not name.startswith("_")]
    assert public and all(name.endswith("_") for name in public), public


def test_unfitted_transform_raises_not_fitted(make, corpus):
    estimator = make()
    with pytest.raises(NotFittedError):
        estimator.transform(corpus[0][:2])
    with pytest.raises(NotFittedError):
        estimator.get_feature_names_out()


def test_a_bare_string_is_refused(make, corpus):
    with pytest.raises(TypeError, match="wrap it in a list"):
        make().fit("one text", corpus[1][:1])


def test_transform_of_no_texts_has_the_width_of_the_features(make, corpus):
    estimator = make().fit(*corpus)
    assert estimator.transform([]).shape == (0, len(estimator.get_feature_names_out()))


def test_features_match_after_pickling_into_another_process(make, corpus):
    estimator = make().fit(*corpus)
    expected = estimator.transform(corpus[0])
    blob = pickle.dumps(estimator)
    (in_worker,) = Parallel(n_jobs=2, backend="loky")(
        [delayed(_transform_pickled)(blob, corpus[0])]
    )
    assert_same_features(in_worker, expected)


def _transform_pickled(blob, texts):
    return pickle.loads(blob).transform(texts)


def test_fit_is_idempotent_and_forgets_earlier_fits(make, corpus):
    X, y = corpus
    expected = make().fit(X[:120], y[:120]).transform(X[120:])
    estimator = make().fit(X[:120], y[:120])
    estimator.fit(X[:120], y[:120])
    assert_same_features(estimator.transform(X[120:]), expected)
    estimator.fit(X[60:], y[60:]).fit(X[:120], y[:120])
    assert_same_features(estimator.transform(X[120:]), expected)


def test_rows_do_not_depend_on_the_other_rows(make, corpus):
    X, y = corpus
    estimator = make().fit(X[:120], y[:120])
    whole = dense(estimator.transform(X))
    subset = np.flatnonzero(np.arange(len(X)) % 7 == 3)
    assert_same_features(estimator.transform(X[subset]), whole[subset])
    one_by_one = np.vstack([dense(estimator.transform([text])) for text in X[subset]])
    assert_same_features(one_by_one, whole[subset])


def test_works_in_pipeline_column_transformer_and_feature_union(make, corpus):
    X, y = corpus
    model = Pipeline([("embedding", make()), ("head", LogisticRegression(max_iter=1000))])
    assert set(model.fit(X[:150], y[:150]).predict(X[150:])) <= set(y)
    frame = pd.DataFrame({"text": X, "length": [len(text) for text in X]})
    columns = ColumnTransformer([("text", make(), "text")], remainder="passthrough")
    features = dense(columns.fit_transform(frame, y))
    np.testing.assert_array_equal(features[:, -1], frame["length"])
    union = FeatureUnion([("embedding", make()), ("tfidf", TfidfVectorizer())])
    joined = union.fit_transform(X, y)
    alone = make().fit(X, y)
    assert joined.shape[1] == len(alone.get_feature_names_out()) + len(
        TfidfVectorizer().fit(X).vocabulary_
    )
    assert_same_features(dense(joined)[:, : features.shape[1] - 1], alone.transform(X))


def test_grid_search_in_two_processes_matches_one(make, corpus):
    model = Pipeline([("embedding", make()), ("head", LogisticRegression(max_iter=1000))])
    grid = {"head__C": [0.1, 10.0]}
    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    serial = GridSearchCV(model, grid, cv=folds).fit(*corpus)
    parallel = GridSearchCV(model, grid, cv=folds, n_jobs=2).fit(*corpus)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.predict(corpus[0]), serial.predict(corpus[0]))


def test_set_output_pandas_keeps_values_and_names_features(make, corpus):
    estimator = make().fit(*corpus)
    default = estimator.transform(corpus[0][:10])
    if sparse.issparse(default):
        # Like scikit-learn's vectorizers, a sparse transformer offers no pandas output.
        with pytest.raises(ValueError):
            estimator.set_output(transform="pandas").transform(corpus[0][:10])
        return
    frame = estimator.set_output(transform="pandas").transform(corpus[0][:10])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(estimator.get_feature_names_out())
    np.testing.assert_array_equal(frame.to_numpy(), default)
    assert isinstance(
        estimator.set_output(transform="default").transform(corpus[0][:2]), np.ndarray
    )
