"""Issue 22, points 1-3 and 8: nothing hidden inside a model file escapes load's checks.

Each test builds a file the way the issue's attack does: an estimator placed where the
first security pass never looked (the attribute of a lightxfer object, the ``.estimator``
of a calibrated classifier, an object array), a reference through ``/proc/self/cwd``, a
cost-changing vectorizer setting. A planted pickle creates a marker file when unpickled,
so "no code ran" is the marker's absence.
"""

import copy
import json
import os
import pickle
import shutil
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from conftest import RunsCode, forget_loaded_vectors
from gensim.test.utils import datapath
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import lightxfer
from lightxfer import EmbeddingVectorizer, SentenceEncoder, VectorsRef
from lightxfer.exceptions import UnsafeFileError, VectorsFileError
from lightxfer.persistence import MAX_NGRAM, _versions
from lightxfer.recommended import HybridVectorizer
from lightxfer.shared import sentence_models

pytestmark = pytest.mark.filterwarnings("ignore:only .* of the tokens")

TEXTS = ["the film was good", "the film was bad", "a great story", "an awful plot"] * 5
LABELS = [1, 0, 1, 0] * 5
ZERO_FP = "0" * 32
#: Generous bound on a load or a predict that a crafted setting must not make slow.
SECONDS = 10


@pytest.fixture(autouse=True)
def _fresh_cache_and_process(tmp_path, monkeypatch, as_new_process):
    monkeypatch.setenv("LIGHTXFER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def attack(tmp_path, monkeypatch):
    """The attacker's folder as working directory, a pickle planted as ``vectors.kv`` in it."""
    folder = tmp_path / "attacker"
    folder.mkdir()
    marker = tmp_path / "ran"
    (folder / "vectors.kv").write_bytes(pickle.dumps(RunsCode(marker), protocol=4))
    monkeypatch.chdir(folder)
    return folder, marker


@pytest.fixture
def fitted(tmp_path):
    vectors = tmp_path / "glove.txt"
    shutil.copy(datapath("test_glove.txt"), vectors)
    return lightxfer.make_classifier(vectors=str(vectors), head="logreg").fit(TEXTS, LABELS)


def _unbound_vectorizer(fitted, source, fingerprint=ZERO_FP):
    """A fitted EmbeddingVectorizer as a file rebuilds it, referring to ``source``."""
    state = fitted.steps[0][1].__getstate__()
    state["_vectors_ref"] = VectorsRef(source, None, fingerprint)
    state["fingerprint_"] = fingerprint
    layer = EmbeddingVectorizer.__new__(EmbeddingVectorizer)
    layer.__setstate__(state)
    return layer


def _dump(model, path):
    """Write ``model`` as lightxfer.save does, without resolving anything in it."""
    sio.dump({"model": model, "versions": _versions(), "vectors": []}, path)
    return path


def _error(exc_type, call, path):
    start = time.perf_counter()
    with pytest.raises(exc_type) as info:
        call()
    assert time.perf_counter() - start < SECONDS
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# -- 1. an estimator hidden where load never looked -------------------------------------------


def _hide_on_a_reference(model, hidden):
    holder = VectorsRef("glove-wiki-gigaword-50", None, ZERO_FP)
    object.__setattr__(holder, "hidden", hidden)  # skops fills a lightxfer object's __dict__
    model.steps[-1][1].origin_ = holder


def _hide_in_a_calibrated_classifier(model, hidden):
    features = model[:-1].transform(TEXTS)
    calibrated = CalibratedClassifierCV(LogisticRegression(), cv=2).fit(features, LABELS)
    calibrated.calibrated_classifiers_[0].estimator = hidden
    model.steps[-1] = ("head", calibrated)


def _hide_in_an_object_array(model, hidden):
    model.steps[-1][1].classes_ = np.array([0, 1, hidden], dtype=object)[:2]
    model.steps[-1][1].extra_ = np.array([hidden], dtype=object)


@pytest.mark.parametrize(
    "hide",
    [_hide_on_a_reference, _hide_in_a_calibrated_classifier, _hide_in_an_object_array],
    ids=["attribute-of-a-reference", "calibrated-estimator", "object-array"],
)
def test_hidden_vectorizer_is_checked_and_refused(tmp_path, attack, fitted, hide):
    _, marker = attack
    hide(fitted, _unbound_vectorizer(fitted, "/proc/self/cwd/vectors.kv"))
    path = _dump(fitted, tmp_path / "model.skops")
    for runtime in ({}, {"n_jobs": 2}):
        message = _error(VectorsFileError, lambda r=runtime: lightxfer.load(path, **r), path)
        assert "vectors=" in message
    assert not marker.exists()


def test_copies_of_a_never_bound_model_never_follow_a_pickle(tmp_path, attack, fitted):
    _, marker = attack
    fitted.steps[0] = ("embedding", _unbound_vectorizer(fitted, "/proc/self/cwd/vectors.kv"))
    path = _dump(fitted, tmp_path / "model.skops")
    rebuilt = sio.load(path, trusted=sio.get_untrusted_types(file=path))["model"]  # not bound
    copies = [copy.deepcopy(rebuilt), pickle.loads(pickle.dumps(rebuilt))]
    assert not marker.exists()
    copies[0].set_params(embedding__n_jobs=2)  # a worker would unpickle it
    for model in copies:
        with pytest.raises(VectorsFileError, match="vectors.kv"):
            model.predict(TEXTS)
    with pytest.raises(VectorsFileError):
        lightxfer.transfer(rebuilt).fit(TEXTS, LABELS)
    assert not marker.exists()


def test_copies_of_a_never_bound_encoder_do_not_obey_the_files_allow_pickle(tmp_path):
    source = sentence_models.resolve_directory(sentence_models.DEFAULT_MODEL)
    folder = tmp_path / "minilm"  # the packaged model, its weights replaced by a pickle
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    marker = tmp_path / "ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    # A fitted encoder as a crafted file holds it: the folder, and allow_pickle=True.
    state = SentenceEncoder(str(folder), allow_pickle=True).__getstate__()
    state.update(fingerprint_=ZERO_FP, embedding_dim_=384, max_seq_length_=256)
    encoder = SentenceEncoder.__new__(SentenceEncoder)
    encoder.__setstate__(state)
    path = _dump(encoder, tmp_path / "model.skops")
    rebuilt = sio.load(path, trusted=sio.get_untrusted_types(file=path))["model"]  # not bound
    for copied in (copy.deepcopy(rebuilt), pickle.loads(pickle.dumps(rebuilt))):
        with pytest.raises(UnsafeFileError, match="pytorch_model.bin.*allow_pickle=True"):
            copied.transform(TEXTS)
    assert not marker.exists()


@pytest.mark.parametrize("through", ["proc", "symlink"])
def test_reference_through_the_working_directory_is_refused(tmp_path, attack, fitted, through):
    folder, marker = attack
    source = "/proc/self/cwd/vectors.kv"
    if through == "symlink":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "here").symlink_to("/proc/self/cwd")
        source = str(tmp_path / "elsewhere" / "here" / "vectors.kv")
    fitted.steps[0] = ("embedding", _unbound_vectorizer(fitted, source))
    path = _dump(fitted, tmp_path / "model.skops")
    # Even a caller who allows pickles never gets one chosen by the working directory.
    _error(VectorsFileError, lambda: lightxfer.load(path, allow_pickle=True), path)
    assert not marker.exists()


def test_binding_is_safe_under_threads(tmp_path, fitted):
    expected = fitted.predict_proba(TEXTS)
    path = _dump(fitted, tmp_path / "model.skops")  # an absolute reference: skops can follow it
    forget_loaded_vectors()
    rebuilt = sio.load(path, trusted=sio.get_untrusted_types(file=path))["model"]  # binds lazily
    start, results = threading.Barrier(8), []

    def predict():
        start.wait()
        try:
            results.append(rebuilt.predict_proba(TEXTS))
        except Exception as exc:  # what a half-bound estimator gives
            results.append(exc)

    threads = [threading.Thread(target=predict) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert not isinstance(result, Exception), result
        np.testing.assert_allclose(result, expected, rtol=1e-6)


# -- 2. the hiding place defeats no other check -------------------------------------------------


def _calibrated(first_step, texts=TEXTS):
    model = CalibratedClassifierCV(make_pipeline(first_step, LogisticRegression()), cv=2)
    model.fit(texts, LABELS)
    # The visible parameter looks harmless; the fitted copies keep the crafted settings.
    model.estimator = make_pipeline(TfidfVectorizer(), LogisticRegression())
    return model


def test_hidden_token_pattern_is_refused(tmp_path):
    texts = [f"{text} {'ab' if label else 'aab'}" for text, label in zip(TEXTS, LABELS)]
    model = _calibrated(TfidfVectorizer(token_pattern=r"(?:a+)+b"), texts)
    path = lightxfer.save(model, tmp_path / "model.skops")
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "(?:a+)+b" in message and "token_patterns=[...]" in message


def test_hidden_runtime_settings_are_reset(tmp_path, attack, fitted):
    model = _calibrated(copy.deepcopy(fitted.steps[0][1]))
    hidden = [c.estimator.steps[0][1] for c in model.calibrated_classifiers_]
    for layer in hidden:
        layer.set_params(cache="fcache", n_jobs=3)
    path = lightxfer.save(model, tmp_path / "model.skops")
    forget_loaded_vectors()
    with pytest.warns(UserWarning, match=r"model.skops: runtime settings.*cache='fcache'"):
        rebuilt = lightxfer.load(path)
    for layer in [c.estimator.steps[0][1] for c in rebuilt.calibrated_classifiers_]:
        assert (layer.cache, layer.n_jobs) == (True, None)
    rebuilt.predict(TEXTS)
    assert not (attack[0] / "fcache").exists()


# -- 3. n-gram settings from a file are bounded -----------------------------------------------


@pytest.fixture
def recommended(fitted):
    """The recommended model's layout: word and character n-grams beside the vectors."""
    vectors = fitted.steps[0][1].vectors
    hybrid = HybridVectorizer(vectors=vectors, ngram_weight=1.0)
    return make_pipeline(hybrid, LogisticRegression()).fit(TEXTS, LABELS)


def _with_char_ngrams(recommended, **params):
    model = copy.deepcopy(recommended)
    model.steps[0][1].ngram_vectorizers_["chars"].set_params(**params)
    return model


def test_unbounded_ngram_range_is_refused(tmp_path, recommended):
    crafted = _with_char_ngrams(recommended, ngram_range=(1, 10**6), analyzer="char")
    path = lightxfer.save(crafted, tmp_path / "model.skops")
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "ngram_range (1, 1000000)" in message and "MAX_NGRAM" in message
    longest = _with_char_ngrams(recommended, ngram_range=(2, MAX_NGRAM), analyzer="char")
    start = time.perf_counter()
    lightxfer.load(lightxfer.save(longest, tmp_path / "longest.skops")).predict(["a b" * 1000])
    assert time.perf_counter() - start < SECONDS


def test_unknown_analyzer_is_refused_on_load(tmp_path, recommended):
    crafted = _with_char_ngrams(recommended, analyzer="bytes")
    path = lightxfer.save(crafted, tmp_path / "model.skops")
    assert "analyzer 'bytes'" in _error(UnsafeFileError, lambda: lightxfer.load(path), path)


def test_vectorizer_reading_files_is_refused(tmp_path):
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(TEXTS, LABELS)
    model.steps[0][1].input = "filename"  # predict([a path]) would read the file
    path = lightxfer.save(model, tmp_path / "model.skops")
    assert "input 'filename'" in _error(UnsafeFileError, lambda: lightxfer.load(path), path)


# -- 8. the vectors path is a reference, not an oracle -------------------------------------------


def test_unusable_vectors_path_gives_one_message(tmp_path, fitted):
    secret_dir = tmp_path / "home"
    secret_dir.mkdir()
    (secret_dir / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n")
    (secret_dir / "notes.txt").write_text("")
    messages = set()
    for name in ["missing", ".", ".bashrc", "notes.txt"]:
        fitted.steps[0] = ("embedding", _unbound_vectorizer(fitted, str(secret_dir / name)))
        path = _dump(fitted, tmp_path / "model.skops")
        message = _error(VectorsFileError, lambda p=path: lightxfer.load(p), path)
        messages.add(message.replace(str(secret_dir / name), "<path>"))
    assert len(messages) == 1, messages
    assert "PATH" not in messages.pop()


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_saved_model_records_vectors_relative_to_itself(tmp_path, monkeypatch, suffix):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(datapath("test_glove.txt"), project / "data" / "glove.txt")
    monkeypatch.chdir(project)
    model = lightxfer.make_classifier(vectors="data/glove.txt", head="logreg").fit(TEXTS, LABELS)
    path = lightxfer.save(model, project / "models" / f"model{suffix}")
    assert str(tmp_path).encode() not in path.read_bytes()  # members are stored uncompressed
    if suffix == ".skops":
        with zipfile.ZipFile(path) as archive:
            schema = archive.read("schema.json").decode()
        assert json.dumps(json.dumps("/".join(["..", "data", "glove.txt"]))) in schema
    moved = tmp_path / "moved"
    shutil.move(project, moved)
    monkeypatch.chdir(tmp_path)
    forget_loaded_vectors()
    rebuilt = lightxfer.load(moved / "models" / f"model{suffix}", allow_pickle=suffix == ".joblib")
    np.testing.assert_allclose(rebuilt.predict_proba(TEXTS), model.predict_proba(TEXTS), rtol=1e-6)


def test_save_leaves_no_temporary_file_behind(tmp_path, monkeypatch):
    import fcntl

    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(TEXTS, LABELS)
    path = tmp_path / "model.skops"
    old = time.time() - 3600

    def temporary(name):
        tmp = tmp_path / f".{name}.{os.urandom(8).hex()}.tmp"
        tmp.write_bytes(b"partial")
        os.utime(tmp, (old, old))
        return tmp

    killed = temporary("model.skops")  # left by a save that was killed
    other = temporary("other.skops")  # another model's: not this save's to remove
    live = temporary("model.skops")  # a save in progress in another process holds its lock
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        lightxfer.save(model, path)
    assert not killed.exists() and other.exists() and live.exists()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lightxfer.persistence, "_fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lightxfer.save(model, path)
    # Nothing left: neither this save's file nor the one whose lock was released since.
    assert list(tmp_path.glob(".model.skops.*")) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lightxfer.load(path).predict(TEXTS)
