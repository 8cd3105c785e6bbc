"""``transfer``, frozen layers and fine-tuning, on samples of the shared data."""

import copy
import pickle

import numpy as np
import pytest
from conftest import read_shared, texts_and_labels
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import lightxfer
from lightxfer.cli.commands.transfer import cli_spelling
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.transferring import (
    FineTunedMLPClassifier,
    SourceMismatchError,
    reused_layers,
    split_source,
    transfer,
)

POOLING = ["tfidf", "sif"]  # both carry fitted pooling state that must stay frozen


@pytest.fixture(scope="module")
def source(sst2):
    X, y, _, _ = sst2
    model = lightxfer.make_classifier(
        pooling=POOLING, head="mlp", hidden_layer_sizes=(32,), max_iter=200
    )
    return model.fit(X, y)


@pytest.fixture(scope="module")
def mpqa():
    return texts_and_labels(read_shared("mpqa", 300))


@pytest.fixture(scope="module")
def trec():
    """Six question types: a label set unlike the source's two sentiments."""
    return texts_and_labels(read_shared("trec_train", 300))


def frozen_arrays(model):
    """Copies of every frozen array of a transferred pipeline."""
    embedding = model.named_steps["embedding"].estimator
    arrays = {"idf_": embedding.idf_.copy(), "sif_component_": embedding.sif_component_.copy()}
    if "hidden" in model.named_steps:
        hidden = model.named_steps["hidden"]
        arrays |= {f"coef{i}": c.copy() for i, c in enumerate(hidden.coefs)}
        arrays |= {f"intercept{i}": b.copy() for i, b in enumerate(hidden.intercepts)}
    return arrays


def assert_unchanged(model, before):
    after = frozen_arrays(model)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


@pytest.mark.parametrize("freeze", ["hidden", "embedding"])
def test_fit_on_target_never_refits_frozen_layers(source, trec, freeze):
    X, y = trec
    model = transfer(source, freeze=freeze)
    before = frozen_arrays(model)
    model.fit(X, y)
    assert_unchanged(model, before)
    assert set(model.classes_) == set(y)  # six labels on a two-label source
    assert model.score(X, y) > 0.5


def test_hidden_layers_are_the_source_mlps(source, mpqa):
    X, _ = mpqa
    model = transfer(source).fit(*mpqa)
    embedded = source[:-1].transform(X)
    mlp = source[-1]
    expected = np.maximum(embedded @ mlp.coefs_[0] + mlp.intercepts_[0], 0)
    np.testing.assert_allclose(model[:-1].transform(X), expected, rtol=1e-5, atol=1e-6)
    assert model.named_steps["head"].coef_.shape == (1, 32)


def test_embedding_freeze_fits_head_on_source_features(source, mpqa):
    X, y = mpqa
    model = transfer(source, freeze="embedding", C=3).fit(X, y)
    assert [name for name, _ in model.steps] == ["embedding", "head"]
    direct = LogisticRegression(C=3, max_iter=1000).fit(source[:-1].transform(X), y)
    np.testing.assert_array_equal(model.predict(X), direct.predict(source[:-1].transform(X)))


def test_transferred_model_can_answer_not_sure(source, mpqa):
    X, y = mpqa
    model = transfer(source).fit(X, y)
    unsure = model.predict(X, min_confidence=0.9)
    confident = model.predict_proba(X).max(axis=1) >= 0.9
    assert 0 < confident.sum() < len(X)
    assert all(label is None for label in unsure[~confident])
    np.testing.assert_array_equal(unsure[confident], model.predict(X)[confident])


def test_transferred_model_is_independent_of_the_source(source, mpqa):
    model = transfer(source)
    embedding = model.named_steps["embedding"].estimator
    assert embedding is not source.named_steps["embedding"]
    assert model.named_steps["hidden"].coefs[0] is not source[-1].coefs_[0]
    model.fit(*mpqa)
    assert source.classes_.tolist() == ["negative", "positive"]


def test_fine_tune_starts_from_source_weights_with_new_output_layer(source, trec):
    X, y = trec
    mlp = source[-1]
    source_coefs = [c.copy() for c in mlp.coefs_]
    # A negligible learning rate: the fitted hidden layer is still the source's.
    model = transfer(source, fine_tune=True, learning_rate_init=1e-12, max_iter=2).fit(X, y)
    head = model.named_steps["head"]
    assert isinstance(head, FineTunedMLPClassifier)
    np.testing.assert_allclose(head.coefs_[0], mlp.coefs_[0], atol=1e-8)
    assert head.coefs_[1].shape == (32, len(np.unique(y)))
    for old, new in zip(source_coefs, mlp.coefs_):
        np.testing.assert_array_equal(old, new)  # the source itself is untouched


def test_fine_tune_trains_hidden_layers_with_early_stopping(source, mpqa):
    model = transfer(source, fine_tune=True).fit(*mpqa)
    head = model.named_steps["head"]
    assert head.early_stopping and head.validation_scores_
    assert not np.allclose(head.coefs_[0], source[-1].coefs_[0])
    before = frozen_arrays(model)
    model.fit(*mpqa)
    assert_unchanged(model, before)


def test_fine_tune_validation_split_fits_few_shot_multiclass(source, trec):
    X, y = trec
    few = np.concatenate([np.flatnonzero(y == label)[:4] for label in np.unique(y)])
    model = transfer(source, fine_tune=True, max_iter=20).fit(X[few], y[few])
    assert model.named_steps["head"].validation_fraction == 0.1


def test_source_with_several_shared_steps(sst2, mpqa):
    X, y, _, _ = sst2
    source = Pipeline(
        [
            ("embedding", lightxfer.EmbeddingVectorizer()),
            ("scale", StandardScaler()),
            ("head", MLPClassifier((16,), max_iter=100, random_state=0)),
        ]
    ).fit(X, y)
    model = transfer(source).fit(*mpqa)
    frozen = model.named_steps["embedding"].estimator
    assert [name for name, _ in frozen.steps] == ["embedding", "scale"]
    np.testing.assert_array_equal(frozen.named_steps["scale"].mean_, source[1].mean_)


def test_source_from_grid_search_is_unwrapped(sst2):
    X, y, _, _ = sst2
    model = lightxfer.make_classifier(pooling="mean")  # what is unwrapped, not how well it fits
    search = GridSearchCV(model, {"head__C": [1.0]}, cv=2).fit(X, y)
    prefix, classifier = split_source(search)
    assert isinstance(classifier, LogisticRegression)
    assert [name for name, _ in prefix.steps] == ["embedding"]


@pytest.fixture(scope="module")
def recommended(sst2):
    """The recommended model (frozen vectors + source n-grams, logistic head), fitted."""
    X, y, _, _ = sst2
    return lightxfer.make_classifier().fit(X, y)


def test_auto_reuses_hidden_layers_of_an_mlp_source(source, mpqa):
    model = transfer(source)
    assert [name for name, _ in model.steps] == ["embedding", "hidden", "head"]
    assert "hidden layers (32,)" in reused_layers(model)
    plain = transfer(source, freeze="embedding")
    assert reused_layers(plain) == "the frozen shared layers (EmbeddingVectorizer)"


def test_recommended_source_shares_its_fitted_prefix_and_refits_the_head(recommended, trec):
    X, y = trec
    hybrid = recommended.named_steps["embedding"]
    state = {
        "words": dict(hybrid.ngram_vectorizers_["words"].vocabulary_),
        "idf": hybrid.ngram_vectorizers_["words"].idf_.copy(),
        "weights": (hybrid.ngram_weight_, hybrid.scale_, hybrid.embedding_norm_),
    }
    model = transfer(recommended)  # the default, freeze="auto": no hidden layers to reuse
    assert [name for name, _ in model.steps] == ["embedding", "head"]
    assert reused_layers(model) == "the frozen shared layers (HybridVectorizer)"
    # A fresh copy of the source's head: the prefix's scale was tuned for its C and solver.
    assert model.named_steps["head"].get_params() == recommended[-1].get_params()
    assert not hasattr(model.named_steps["head"], "coef_")
    assert transfer(recommended, C=3).named_steps["head"].C == 3
    model.fit(X, y)
    frozen = model.named_steps["embedding"].estimator
    assert frozen is not hybrid
    # Shared: the vectors, their scale, the n-gram vocabulary and IDF of the source texts.
    assert frozen.ngram_vectorizers_["words"].vocabulary_ == state["words"]
    np.testing.assert_array_equal(frozen.ngram_vectorizers_["words"].idf_, state["idf"])
    assert (frozen.ngram_weight_, frozen.scale_, frozen.embedding_norm_) == state["weights"]
    diff = model[:-1].transform(X[:20]) - recommended[:-1].transform(X[:20])
    assert abs(diff).max() == 0
    # Refit: the head, on the target's six question types.
    assert set(model.classes_) == set(y) and len(set(y)) == 6
    assert recommended.classes_.tolist() == ["negative", "positive"]
    assert model.score(X, y) > 0.5
    assert hybrid.ngram_vectorizers_["words"].vocabulary_ == state["words"]


def test_hidden_layers_need_an_mlp_source_and_the_error_says_so(recommended):
    with pytest.raises(SourceMismatchError, match="freeze='hidden' needs .* LogisticRegression"):
        transfer(recommended, freeze="hidden")
    with pytest.raises(ValueError, match="leave out fine_tune=True"):
        transfer(recommended, fine_tune=True)
    try:
        transfer(recommended, freeze="hidden")
    except SourceMismatchError as error:
        message = error.describe(cli_spelling)
    assert "--freeze hidden needs" in message and "--freeze embedding" in message
    assert "=" not in message and "'" not in message


def test_bad_sources(recommended):
    with pytest.raises(ValueError, match="freeze must be one of"):
        transfer(recommended, freeze="everything")
    with pytest.raises(NotFittedError):
        transfer(lightxfer.make_classifier(head="mlp"))
    with pytest.raises(TypeError, match="Pipeline"):
        transfer(recommended[-1])


def test_clone_grid_search_pickle_and_save(source, mpqa, tmp_path):
    X, y = mpqa
    model = transfer(source, head="logreg")
    assert isinstance(model.named_steps["embedding"], FrozenEstimator)
    assert clone(model).named_steps["embedding"] is model.named_steps["embedding"]
    search = GridSearchCV(model, {"head__C": [0.1, 10.0]}, cv=3).fit(X, y)
    fitted = search.best_estimator_
    expected = fitted.predict_proba(X)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(fitted)).predict_proba(X), expected)
    loaded = lightxfer.load(lightxfer.save(fitted, tmp_path / "target.skops"))
    np.testing.assert_allclose(loaded.predict_proba(X), expected)
    tuned = transfer(source, fine_tune=True, max_iter=20).fit(X, y)
    loaded = lightxfer.load(lightxfer.save(tuned, tmp_path / "tuned.skops"))
    np.testing.assert_allclose(loaded.predict_proba(X), tuned.predict_proba(X))


def test_frozen_hidden_layers_validates_weights():
    with pytest.raises(ValueError, match="intercepts"):
        FrozenHiddenLayers([np.eye(2)], []).fit(np.eye(2))
    with pytest.raises(ValueError, match="expect 3"):
        FrozenHiddenLayers([np.ones((3, 2))], [np.zeros(2)]).fit(np.eye(2))
    with pytest.raises(ValueError, match="activation"):
        FrozenHiddenLayers(activation="gelu").fit(np.eye(2))
    layers = FrozenHiddenLayers(copy.deepcopy([np.ones((2, 3))]), [np.zeros(3)], "identity")
    assert layers.fit(np.eye(2)).get_feature_names_out().tolist() == [
        "frozenhiddenlayers0",
        "frozenhiddenlayers1",
        "frozenhiddenlayers2",
    ]


@parametrize_with_checks([FrozenHiddenLayers(), FineTunedMLPClassifier(max_iter=50)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
