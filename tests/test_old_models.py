"""Model files written by an older lightxfer (tests/data/old_models) still load and predict."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

import lightxfer
from lightxfer import EmbeddingVectorizer
from lightxfer.recommended import HybridVectorizer

OLD_MODELS = Path(__file__).parent / "data" / "old_models"
RECORDED = json.loads((OLD_MODELS / "predictions.json").read_text())
NAMES = ["recommended", "recommended_weighted", "mean_max_logreg", "mlp"]
HYBRIDS = ["recommended", "recommended_weighted"]


def load_old(name, suffix=".skops"):
    """Load an old file, returning the model and the warnings the load gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = lightxfer.load(OLD_MODELS / f"{name}{suffix}", allow_pickle=suffix == ".joblib")
    return model, [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]


def assert_predicts_as_recorded(model, name):
    texts = RECORDED["texts"]
    assert model.predict(texts).tolist() == RECORDED[name]["predictions"]
    np.testing.assert_allclose(
        model.predict_proba(texts), RECORDED[name]["probabilities"], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_old_file_predicts_as_when_saved(name):
    model, _ = load_old(name)
    assert_predicts_as_recorded(model, name)


@pytest.mark.parametrize("name", NAMES)
def test_old_file_saved_again_round_trips(name, tmp_path):
    model, _ = load_old(name)
    path = lightxfer.save(model, tmp_path / "again.skops")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new file needs no conversion
        again = lightxfer.load(path)
    assert_predicts_as_recorded(again, name)


def test_old_pickle_file_predicts_as_when_saved(tmp_path):
    model, messages = load_old("recommended_weighted", ".joblib")
    assert any("older lightxfer" in message for message in messages)
    assert_predicts_as_recorded(model, "recommended_weighted")
    again = lightxfer.load(lightxfer.save(model, tmp_path / "again.joblib"), allow_pickle=True)
    assert_predicts_as_recorded(again, "recommended_weighted")


@pytest.mark.parametrize("name", HYBRIDS)
def test_old_hybrid_becomes_a_shared_layer_with_its_fitted_state(name):
    model, messages = load_old(name)
    hybrid = model.named_steps["embedding"]
    assert type(hybrid) is HybridVectorizer
    assert isinstance(hybrid.shared, EmbeddingVectorizer)
    assert not hasattr(hybrid.shared, "fingerprint_")  # the parameter stays unfitted
    assert isinstance(hybrid.shared_, EmbeddingVectorizer)
    assert hybrid.shared_.vectors_.vector_size == 50  # bound by load
    assert hybrid.vectors is None and hybrid.pooling is None
    assert hybrid.n_shared_features_ == 50
    assert hybrid.transform([]).shape == (0, len(hybrid.get_feature_names_out()))
    names = hybrid.get_feature_names_out()
    assert names[0] == "mean_0"
    assert len(names) == model.named_steps["head"].coef_.shape[1]
    # One warning names the conversion and how to keep the new format.
    assert len([m for m in messages if "older lightxfer" in m]) == 1
    assert "save it again" in messages[0]


def test_old_hybrid_has_the_parameters_of_a_new_one_and_refits_alike():
    old, _ = load_old("recommended_weighted")
    # How write_old_models.py configured it, on today's make_classifier().
    new = lightxfer.make_classifier().set_params(
        embedding__ngram_weight=1.0,
        embedding__scale=2.0,
        embedding__min_df=2,
        embedding__char_ngram_range=(3, 3),
        embedding__char_min_df=8,
    )
    assert old.get_params()["embedding__shared__pooling"] == "mean"
    # Old files hold a plain Pipeline; make_classifier now builds an AbstainingPipeline.
    assert repr(old) == repr(Pipeline(new.steps))
    texts = RECORDED["texts"]
    labels = RECORDED["recommended_weighted"]["predictions"]
    np.testing.assert_allclose(
        old.fit(texts, labels).predict_proba(texts), new.fit(texts, labels).predict_proba(texts)
    )


def test_old_hybrid_is_not_bound_while_rebuilt(monkeypatch):
    # The security design: nothing resolves vectors while skops rebuilds the tree.
    from lightxfer.vectors import loading

    def refuse(*args, **kwargs):
        raise AssertionError("vectors resolved during deserialisation")

    monkeypatch.setattr(loading, "resolve_reference", refuse)
    skops_io = pytest.importorskip("skops.io")
    path = OLD_MODELS / "recommended.skops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        payload = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    shared = payload["model"].named_steps["embedding"].shared_
    assert "vectors_" not in vars(shared) and "_vectors_ref" in vars(shared)


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_old_file_with_sources_predicts_as_when_saved(suffix):
    # Saved when SourceBlocks lived in lightxfer.source_models.blocks (before lightxfer.sources).
    recorded = json.loads((OLD_MODELS / "source_predictions.json").read_text())
    model = lightxfer.load(OLD_MODELS / f"sources{suffix}", allow_pickle=suffix == ".joblib")
    assert model.named_steps["embedding"].weights_.all()  # the sources count
    assert model.predict(recorded["texts"]).tolist() == recorded["predictions"]
    np.testing.assert_allclose(
        model.predict_proba(recorded["texts"]), recorded["probabilities"], rtol=1e-5, atol=1e-6
    )
