"""SentenceEncoder(precision="int8"): a quantised copy of the model, a shared layer of its own."""

import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import lightxfer
from lightxfer import SentenceEncoder, make_classifier
from lightxfer.shared import sentence_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub


@pytest.fixture(scope="module")
def texts(sst2):
    return list(sst2[0][:40])


def cosines(a, b):
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_int8_model_is_built_once_and_apart_from_float32():
    int8 = sentence_models.load(sentence_models.DEFAULT_MODEL, precision="int8")
    assert sentence_models.load(sentence_models.DEFAULT_MODEL, precision="int8") is int8
    float32 = sentence_models.load(sentence_models.DEFAULT_MODEL)
    assert (int8.precision, float32.precision) == ("int8", "float32")
    assert int8.model is not float32.model
    assert int8.fingerprint == float32.fingerprint  # the same files, checked the same way
    layer = int8.model[0].auto_model.encoder.layer[0].intermediate.dense
    assert "quantized.dynamic" in type(layer).__module__


def test_int8_features_are_close_to_float32_but_not_the_same(texts):
    float32 = SentenceEncoder(cache=False).fit(texts).transform(texts)
    int8 = SentenceEncoder(cache=False, precision="int8").fit(texts).transform(texts)
    assert int8.shape == float32.shape and int8.dtype == np.float32
    similarity = cosines(float32, int8)
    # Measured on these sentences: mean 0.97 (per-tensor weights gave 0.93).
    assert similarity.mean() > 0.95 and similarity.min() > 0.8
    assert np.abs(float32 - int8).max() > 1e-3


def test_cached_float32_rows_are_never_served_as_int8(texts):
    SentenceEncoder().fit(texts).transform(texts)  # fills the feature cache with float32 rows
    cached = SentenceEncoder(precision="int8").fit(texts).transform(texts)
    fresh = SentenceEncoder(precision="int8", cache=False).fit(texts).transform(texts)
    np.testing.assert_allclose(cached, fresh, atol=1e-5)
    again = SentenceEncoder().fit(texts).transform(texts)  # and float32 stays float32
    np.testing.assert_allclose(
        again, SentenceEncoder(cache=False).fit(texts).transform(texts), atol=1e-5
    )


def test_saved_int8_model_loads_as_int8_and_old_files_as_float32(sst2, tmp_path):
    X, y, X_test, _ = sst2
    encoder = SentenceEncoder(precision="int8")
    model = Pipeline([("embedding", encoder), ("head", LogisticRegression())]).fit(X[:60], y[:60])
    loaded = lightxfer.load(lightxfer.save(model, tmp_path / "model.skops"))
    assert loaded.named_steps["embedding"].precision == "int8"
    np.testing.assert_allclose(loaded.predict_proba(X_test[:20]), model.predict_proba(X_test[:20]))
    # A model saved before the parameter existed has no precision in its state: float32.
    state = SentenceEncoder().fit(X[:2]).__getstate__()
    del state["precision"]
    old = SentenceEncoder.__new__(SentenceEncoder)
    old.__setstate__(state)
    assert old.precision == "float32"


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="'precision' parameter of SentenceEncoder"):
        SentenceEncoder(precision="int4").fit(["a text"])


def test_make_classifier_takes_a_configured_encoder():
    configured = SentenceEncoder(precision="int8")
    recommended = make_classifier(encoder=configured)
    plain = make_classifier(encoder=configured, head="logreg", n_jobs=1)
    encoder = recommended.named_steps["embedding"].shared.shared  # hybrid > sources > encoder
    assert encoder.precision == "int8" and encoder.fine_tune == "auto"
    # int8 is frozen: fine_tune="auto" leaves it so, whatever the labels.
    assert (
        not clone(encoder).fit(["good", "fine", "bad", "awful"] * 2, [1, 1, 0, 0] * 2).fine_tuned_
    )
    layer = plain.named_steps["embedding"]
    assert layer.precision == "int8" and layer.n_jobs == 1 and layer is not configured
    assert configured.n_jobs is None  # the caller's estimator is never changed
