"""Point 3 of issue 6: safe model files with versions and the vectors' fingerprints."""

import os
import shutil
import warnings

import numpy as np
import pytest
import skops.io as sio
from conftest import forget_loaded_vectors
from gensim.test.utils import datapath
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import lightxfer
from lightxfer.exceptions import VectorsFileError, VectorsMismatchError
from lightxfer.persistence import is_trusted, untrusted_types

TEXTS = ["the film was good", "the film was bad", "a great story", "an awful plot"] * 5
LABELS = [1, 0, 1, 0] * 5


@pytest.fixture
def vectors_file(tmp_path):
    path = tmp_path / "glove.txt"
    shutil.copy(datapath("test_glove.txt"), path)
    return path


@pytest.fixture(scope="module")
def fitted(sst2):
    X, y, X_test, _ = sst2
    return lightxfer.make_classifier().fit(X, y), X_test


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_round_trip_predicts_the_same(tmp_path, fitted, suffix):
    model, X_test = fitted
    path = lightxfer.save(model, tmp_path / f"model{suffix}")
    loaded = lightxfer.load(path, allow_pickle=suffix == ".joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


def test_file_records_versions_and_fingerprint(tmp_path, fitted, glove):
    path = lightxfer.save(fitted[0], tmp_path / "model.skops")
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert set(payload["versions"]) == {"lightxfer", "scikit-learn", "numpy"}
    assert payload["vectors"] == [
        {
            "source": lightxfer.DEFAULT_VECTORS,
            "fingerprint": lightxfer.fingerprint(glove),
            "stored": False,
        }
    ]


def test_pickle_needs_opt_in(tmp_path, fitted):
    path = lightxfer.save(fitted[0], tmp_path / "model.pkl")
    with pytest.raises(ValueError, match="pickle file.*allow_pickle=True"):
        lightxfer.load(path)


def test_code_hidden_in_a_skops_file_is_refused(tmp_path):
    # A FunctionTransformer calling os.system would run a command on transform.
    model = make_pipeline(FunctionTransformer(os.system))
    path = tmp_path / "evil.skops"
    sio.dump({"model": model, "versions": {}}, path)
    with pytest.raises(ValueError, match=r"evil.skops contains types outside.*system"):
        lightxfer.load(path)
    assert any("system" in name for name in untrusted_types(path))


def test_extra_types_load_when_named(tmp_path):
    model = make_pipeline(FunctionTransformer(np.sqrt))  # a ufunc: trusted by skops
    lightxfer.save(model, tmp_path / "ok.skops")
    assert lightxfer.load(tmp_path / "ok.skops").steps[0][1].func is np.sqrt
    odd = make_pipeline(FunctionTransformer(shutil.rmtree))
    lightxfer.save(odd, tmp_path / "odd.skops")
    names = untrusted_types(tmp_path / "odd.skops")
    assert lightxfer.load(tmp_path / "odd.skops", trusted=names).steps[0][1].func is shutil.rmtree


def test_trusted_list_is_explicit():
    assert is_trusted("lightxfer.shared.vectorizer.EmbeddingVectorizer")
    assert is_trusted("sklearn.neural_network._stochastic_optimizers.AdamOptimizer")
    # Functions and unlisted names are refused even inside trusted packages.
    assert not is_trusted("numpy.testing._private.utils.runstring")
    assert not is_trusted("lightxfer.persistence.load")
    assert not is_trusted("sklearn.utils._testing.SkipTest")
    assert not is_trusted("lightxfer.persistence.os")


def test_mlp_head_loads_without_extra_trust(tmp_path, sst2):
    X, y, X_test, _ = sst2
    model = lightxfer.make_classifier(head="mlp", hidden_layer_sizes=(8,), max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = lightxfer.save(model, tmp_path / "mlp.skops")
    np.testing.assert_array_equal(lightxfer.load(path).predict(X_test), model.predict(X_test))


@pytest.mark.filterwarnings("ignore:only .* of the tokens")
def test_changed_vectors_are_refused_unless_overridden(tmp_path, vectors_file):
    model = lightxfer.make_classifier(vectors=str(vectors_file)).fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path / "model.skops")
    expected = model.predict_proba(TEXTS)
    text = vectors_file.read_text(encoding="utf-8")
    vectors_file.write_text(text.replace(" 0.418 ", " 0.5 ", 1), encoding="utf-8")
    forget_loaded_vectors()
    with pytest.raises(VectorsMismatchError, match=r"model.skops: the vectors found"):
        lightxfer.load(path)
    loaded = lightxfer.load(path, check_vectors=False)
    assert loaded.predict_proba(TEXTS).shape == expected.shape


@pytest.mark.filterwarnings("ignore:only .* of the tokens")
def test_moved_vectors_need_the_new_path(tmp_path, vectors_file):
    model = lightxfer.make_classifier(vectors=str(vectors_file)).fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path / "model.skops")
    expected = model.predict_proba(TEXTS)
    moved = tmp_path / "elsewhere" / "glove.txt"
    moved.parent.mkdir()
    shutil.move(vectors_file, moved)
    forget_loaded_vectors()
    with pytest.raises(VectorsFileError, match=r"model.skops: cannot load.*pass vectors="):
        lightxfer.load(path)
    loaded = lightxfer.load(path, vectors=moved)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), expected)
    embedding = loaded.named_steps["embedding"]  # the recommended model: vectors in shared
    assert embedding.shared.vectors == moved and embedding.shared_.vectors == moved


def test_override_with_other_vectors_is_checked(tmp_path, fitted):
    path = lightxfer.save(fitted[0], tmp_path / "model.skops")
    other = datapath("lee_fasttext.vec")
    with pytest.raises(VectorsMismatchError):
        lightxfer.load(path, vectors=other)


def test_version_change_warns(tmp_path, fitted):
    path = lightxfer.save(fitted[0], tmp_path / "model.skops")
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    payload["versions"]["scikit-learn"] = "0.1"
    sio.dump(payload, path)
    with pytest.warns(UserWarning, match=r"scikit-learn 0.1 ->"):
        lightxfer.load(path)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04broken"])
def test_damaged_model_file(tmp_path, content):
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"model.skops: not a readable .skops model file"):
        lightxfer.load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        lightxfer.load(tmp_path / "nope.skops")


def test_state_pickled_before_poolings_and_source_ranks_were_named_still_binds(sst2):
    # Files written before poolings_ existed, and loaded-then-resaved models whose
    # stored-vector ranks were pickled as _source_ranks, must keep their features.
    texts = sst2[0][:80]
    vectorizer = lightxfer.EmbeddingVectorizer(pooling=["sif", "mean"], store_vectors=True)
    vectorizer.fit(texts)
    stored = lightxfer.persistence.unpickle(type(vectorizer), vectorizer.__getstate__())
    old = stored.__getstate__()
    del old["poolings_"]
    old["_source_ranks"] = old.pop("source_ranks_")
    rebuilt = lightxfer.persistence.unpickle(type(vectorizer), old)
    assert rebuilt.poolings_ == ["sif", "mean"] and not hasattr(rebuilt, "_source_ranks")
    np.testing.assert_array_equal(rebuilt.transform(texts), vectorizer.transform(texts))
