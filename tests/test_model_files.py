"""Items 10 and 13 of issue 18: model files are small, faithful, and get the usual mode."""

import io
import os
import stat
import zipfile

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union

import lightxfer
from lightxfer.compact_vocabulary import CompactVocabulary

TEXTS = ["the film was good", "the film was bad", "a great story", "an awful plot"] * 5
LABELS = [1, 0, 1, 0] * 5


@pytest.fixture(scope="module")
def recommended(sst2):
    X, y, X_test, _ = sst2
    return lightxfer.make_classifier().fit(X, y), X_test


def test_recommended_model_file_is_within_twice_joblib(tmp_path, recommended):
    model, _ = recommended
    skops_size = lightxfer.save(model, tmp_path / "model.skops").stat().st_size
    joblib.dump(model, tmp_path / "model.joblib")
    joblib_size = (tmp_path / "model.joblib").stat().st_size
    assert skops_size <= 2 * joblib_size, (skops_size, joblib_size)


def test_round_trip_predicts_the_same_and_restores_the_vocabularies(tmp_path, recommended):
    model, X_test = recommended
    loaded = lightxfer.load(lightxfer.save(model, tmp_path / "model.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    before = model.steps[0][1].ngram_vectorizers_
    after = loaded.steps[0][1].ngram_vectorizers_
    assert before.keys() == after.keys()
    for name, vectorizer in after.items():
        assert type(vectorizer.vocabulary_) is dict
        assert vectorizer.vocabulary_ == before[name].vocabulary_


def test_save_leaves_the_model_untouched(tmp_path):
    model = make_pipeline(
        make_union(TfidfVectorizer(), CountVectorizer(analyzer="char", ngram_range=(2, 3))),
        LogisticRegression(),
    ).fit(TEXTS, LABELS)
    union, vocabularies = model.steps[0][1], []
    for _, vectorizer in union.transformer_list:
        vocabularies.append(vectorizer.vocabulary_)
    lightxfer.save(model, tmp_path / "model.skops")
    assert model.steps[0][1] is union
    for (_, vectorizer), vocabulary in zip(union.transformer_list, vocabularies):
        assert vectorizer.vocabulary_ is vocabulary
    loaded = lightxfer.load(tmp_path / "model.skops")
    for (_, vectorizer), vocabulary in zip(loaded.steps[0][1].transformer_list, vocabularies):
        assert vectorizer.vocabulary_ == vocabulary
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))


def test_file_rebuilt_by_skops_alone_still_predicts(tmp_path):
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression())
    model.fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path / "model.skops")
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    rebuilt = payload["model"]
    assert isinstance(rebuilt.steps[0][1].vocabulary_, CompactVocabulary)
    np.testing.assert_array_equal(rebuilt.predict_proba(TEXTS), model.predict_proba(TEXTS))
    np.testing.assert_array_equal(
        rebuilt.steps[0][1].get_feature_names_out(), model.steps[0][1].get_feature_names_out()
    )


def test_vocabulary_with_other_columns_is_kept_as_a_dict(tmp_path):
    # A user's vocabulary need not number its columns 0..n-1: written as skops writes a dict.
    model = TfidfVectorizer().fit(TEXTS)
    model.vocabulary_ = {term: 2 * column for term, column in model.vocabulary_.items()}
    loaded = lightxfer.load(lightxfer.save(model, tmp_path / "model.skops"))
    assert loaded.vocabulary_ == model.vocabulary_


def _rewrite_vocabulary(path, text=None, lengths=None):
    """Replace the stored text or lengths of the (single) compact vocabulary in ``path``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, data in members.items():
        if name.endswith(".bin") and text is not None:
            members[name] = text
        if name.endswith(".npy") and lengths is not None:
            array = np.load(io.BytesIO(data))
            if array.dtype.kind == "u" and array.ndim == 1:
                buffer = io.BytesIO()
                np.save(buffer, lengths(array))
                members[name] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    "damage, reason",
    [
        ({"text": b"\xff\xfe"}, "not UTF-8"),
        ({"lengths": lambda a: a[:-1]}, "do not add up"),
        (
            {
                "text": b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "lengths": lambda a: np.full(15, 2, a.dtype),
            },
            "twice",
        ),
        ({"lengths": lambda a: a.astype(np.uint64)}, "wider than 32 bits"),
    ],
)
def test_damaged_vocabulary_is_refused_naming_the_file(tmp_path, damage, reason):
    model = CountVectorizer().fit(["ab cd ef gh ij kl mn op qr st uv wx yz ab cd"])
    path = lightxfer.save(model, tmp_path / "model.skops")
    _rewrite_vocabulary(path, **damage)
    with pytest.raises(ValueError) as error:
        lightxfer.load(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "vocabulary_" in message and reason in message


@pytest.fixture
def umask():
    """Set the process umask for one test, then restore it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
@pytest.mark.parametrize("name", ["model.skops", "model.joblib"])
def test_new_model_file_gets_the_mode_of_the_umask(tmp_path, umask, mask, expected, name):
    umask(mask)
    assert _mode(lightxfer.save(TfidfVectorizer().fit(TEXTS), tmp_path / name)) == expected


def test_overwritten_model_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "model.skops"
    path.write_bytes(b"")
    path.chmod(0o640)
    umask(0o077)
    lightxfer.save(TfidfVectorizer().fit(TEXTS), path)
    assert _mode(path) == 0o640
    assert isinstance(lightxfer.load(path), TfidfVectorizer)
