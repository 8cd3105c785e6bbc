"""Issue 13: a model file or a vectors file never runs code, nor reaches beyond what the caller named.

Each test crafts a small file the way an attacker would. A planted pickle creates a marker
file when unpickled, so "no code ran" is checked by the marker's absence.
"""

import gzip
import json
import pickle
import shutil
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from conftest import RunsCode, forget_loaded_vectors
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

import lightxfer
from lightxfer.exceptions import UnsafeFileError, VectorsFileError, VectorsUnavailableError
from lightxfer.persistence import untrusted_types
from lightxfer.vectors import loading

pytestmark = pytest.mark.filterwarnings("ignore:only .* of the tokens")

TEXTS = ["the film was good", "the film was bad", "a great story", "an awful plot"] * 5
LABELS = [1, 0, 1, 0] * 5
OTHER_FP = "0123456789abcdef" * 2  # well-formed, but no vectors have it


def _plant_pickle(path, marker):
    path.write_bytes(pickle.dumps(RunsCode(marker), protocol=4))
    return path


@pytest.fixture(autouse=True)
def _fresh_cache_and_process(tmp_path, monkeypatch, as_new_process):
    monkeypatch.setenv("LIGHTXFER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def model_file(tmp_path):
    """A model fitted on a vectors text file, saved; returns (model path, vectors path, fp)."""
    vectors = tmp_path / "glove.txt"
    shutil.copy(datapath("test_glove.txt"), vectors)
    model = lightxfer.make_classifier(vectors=str(vectors), head="logreg").fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path / "model.skops")
    forget_loaded_vectors()
    return path, vectors, model.steps[0][1].fingerprint_


def _rewrite(path, replacements, *, pad=0, compression=zipfile.ZIP_STORED):
    """Edit a .skops file's schema.json text (``old -> new``), as a hex editor would."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    schema = members.pop("schema.json").decode()
    for old, new in replacements.items():
        assert old in schema
        schema = schema.replace(old, new)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("schema.json", schema + " " * pad)


def _reference(source):
    """The text of a vectors reference in schema.json (a JSON string inside JSON)."""
    return f'\\"{source}\\"'


#: How the model_file fixture's reference reads: relative to the model file's folder.
REFERENCE = _reference("glove.txt")


def _error(exc_type, call, path):
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# -- 1. a vectors reference is never followed into a pickle ---------------------------------


@pytest.mark.parametrize("name, relative", [("vectors.txt", False), ("rel.vec", True)])
def test_reference_to_a_pickle_is_not_followed(tmp_path, model_file, monkeypatch, name, relative):
    path, vectors, fingerprint = model_file
    marker = tmp_path / "ran"
    evil = _plant_pickle(tmp_path / name, marker)
    monkeypatch.chdir(tmp_path)
    _rewrite(path, {REFERENCE: _reference(name if relative else evil), fingerprint: OTHER_FP})
    message = _error(VectorsFileError, lambda: lightxfer.load(path), path)
    assert "allow_pickle=True" in message and "vectors=" in message
    assert not marker.exists()


def test_callers_vectors_that_are_a_pickle_are_refused(tmp_path, model_file):
    path, _, _ = model_file
    marker = tmp_path / "ran"
    evil = _plant_pickle(tmp_path / "x.vec", marker)
    message = _error(VectorsFileError, lambda: lightxfer.load(path, vectors=evil), path)
    assert "x.vec is a pickle" in message and "allow_pickle=True" in message
    assert not marker.exists()


def test_skops_load_without_lightxfer_binds_safely_on_first_use(tmp_path, model_file):
    path, vectors, fingerprint = model_file
    marker = tmp_path / "ran"
    evil = _plant_pickle(tmp_path / "vectors.txt", marker)
    _rewrite(path, {REFERENCE: _reference(evil), fingerprint: OTHER_FP})
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    with pytest.raises(VectorsFileError, match="allow_pickle=True"):
        payload["model"].predict(TEXTS)
    assert not marker.exists()


# -- 2. load_vectors sniffs a pickle whatever the file is called -----------------------------


def test_load_vectors_refuses_a_pickle_whatever_its_name(tmp_path):
    marker = tmp_path / "ran"
    evil = _plant_pickle(tmp_path / "glove.6B.50d.txt", marker)
    message = _error(VectorsFileError, lambda: lightxfer.load_vectors(evil), evil)
    assert "allow_pickle=True" in message
    assert not marker.exists()


def test_trusted_pickle_vectors_load_on_purpose(tmp_path, glove):
    kv = KeyedVectors(50)
    kv.add_vectors(glove.index_to_key[:2000], np.array(glove.vectors[:2000]))
    kv_path = tmp_path / "small.kv"
    kv.save(str(kv_path))
    vectors = lightxfer.load_vectors(kv_path, allow_pickle=True)
    model = lightxfer.make_classifier(vectors=vectors).fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path / "model.skops")
    forget_loaded_vectors()
    message = _error(VectorsFileError, lambda: lightxfer.load(path), path)
    assert "allow_pickle=True" in message
    loaded = lightxfer.load(path, allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))


# -- 3. a fingerprint is never a path ---------------------------------------------------------


@pytest.mark.parametrize("planted", ["invalid meta.json", "pickle behind meta.json"])
def test_fingerprint_cannot_lead_outside_the_cache(tmp_path, model_file, planted):
    path, vectors, fingerprint = model_file
    existing = "a" * 32
    (tmp_path / "cache" / "vectors" / f"fp-{existing}").mkdir(parents=True)
    victim = tmp_path / "victim"  # cache/vectors/fp-aaa/../../../victim
    victim.mkdir()
    marker = tmp_path / "ran"
    if planted == "invalid meta.json":
        (victim / "meta.json").write_text("{}")
    else:
        _plant_pickle(victim / "evil.pkl", marker)
        (victim / "meta.json").write_text(json.dumps({"kind": "gensim", "file": "evil.pkl"}))
    before = sorted(p.name for p in victim.iterdir())
    _rewrite(
        path,
        {REFERENCE: "null", fingerprint: f"{existing}/../../../victim"},
    )
    message = _error(VectorsFileError, lambda: lightxfer.load(path), path)
    assert "not a vectors fingerprint" in message
    assert sorted(p.name for p in victim.iterdir()) == before
    assert not marker.exists()


def test_cache_entry_names_are_checked():
    with pytest.raises(ValueError, match="not a vectors cache entry name"):
        lightxfer.vectors.store.entry_dir("fp-a/../../x")
    with pytest.raises(ValueError, match="not a vectors fingerprint"):
        loading.load_by_fingerprint("../" + OTHER_FP)


# -- 4. trees and neighbour indexes are not trusted by default --------------------------------


@pytest.mark.parametrize(
    "head, names",
    [
        (DecisionTreeClassifier(random_state=0), ["sklearn.tree._tree.Tree"]),
        (HistGradientBoostingClassifier(max_iter=3), ["TreePredictor"]),
        (KNeighborsClassifier(3, algorithm="kd_tree"), ["KDTree", "EuclideanDistance64"]),
        (KNeighborsClassifier(3, algorithm="ball_tree"), ["BallTree"]),
    ],
    ids=["tree", "hist-gradient-boosting", "kd-tree", "ball-tree"],
)
def test_tree_and_index_heads_need_explicit_trust(tmp_path, head, names):
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    head.fit(X, y)
    path = lightxfer.save(head, tmp_path / "head.skops")
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert all(name in message for name in names) and "trusted=[...]" in message
    loaded = lightxfer.load(path, trusted=untrusted_types(path))
    np.testing.assert_array_equal(loaded.predict(X), head.predict(X))


# -- 5. parameters that act at predict time are not taken from the file ------------------------


def test_cache_folder_stored_in_the_file_is_not_used(tmp_path, model_file):
    path, vectors, _ = model_file
    model = lightxfer.load(path)
    planted = tmp_path / "planted"
    planted.mkdir()
    model.steps[0][1].cache = str(planted)  # what an attacker writes into the file
    lightxfer.save(model, path)
    with pytest.warns(UserWarning, match=r"model.skops: runtime settings.*cache="):
        loaded = lightxfer.load(path)
    loaded.predict(TEXTS)
    assert loaded.steps[0][1].cache is True
    assert list(planted.iterdir()) == []


def test_process_counts_stored_in_the_file_are_reset(tmp_path, model_file):
    path, _, _ = model_file
    model = lightxfer.load(path)
    model.set_params(embedding__n_jobs=12, embedding__batch_size=1)
    model.steps[-1][1].n_jobs = 8
    lightxfer.save(model, path)
    with pytest.warns(
        UserWarning,
        match=r"batch_size=1, EmbeddingVectorizer.n_jobs=12, LogisticRegression.n_jobs=8",
    ):
        loaded = lightxfer.load(path)
    vectorizer = loaded.steps[0][1]
    assert (vectorizer.n_jobs, vectorizer.batch_size, loaded.steps[-1][1].n_jobs) == (
        None,
        10_000,
        None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen = lightxfer.load(path, n_jobs=2, batch_size=1)
    assert "n_jobs" not in " ".join(str(w.message) for w in caught)
    assert (chosen.steps[0][1].n_jobs, chosen.steps[0][1].batch_size) == (2, 1)
    with pytest.raises(TypeError, match="runtime parameters it accepts"):
        lightxfer.load(path, tokenizer="x")


def test_unknown_token_pattern_is_refused(tmp_path):
    pattern = r"(a|aa)+$"  # exponential backtracking on "aaaa...b"
    model = make_pipeline(TfidfVectorizer(token_pattern=pattern), LogisticRegression())
    model.fit(["aa b", "b aa", "aaa", "b"] * 3, [0, 1, 0, 1] * 3)
    path = lightxfer.save(model, tmp_path / "tfidf.skops")
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "token_pattern" in message and "token_patterns=[...]" in message
    loaded = lightxfer.load(path, token_patterns=[pattern])
    assert loaded.steps[0][1].token_pattern == pattern


def test_downloadable_vectors_name_never_goes_online(tmp_path, model_file, monkeypatch):
    import gensim.downloader

    path, vectors, fingerprint = model_file
    asked = []
    monkeypatch.setattr(gensim.downloader, "BASE_DIR", str(tmp_path / "gensim-data"))
    monkeypatch.setattr(loading, "_online", lambda: asked.append("probe") or False)
    monkeypatch.setattr(gensim.downloader, "info", lambda *a, **k: asked.append("info"))
    _rewrite(path, {REFERENCE: _reference("glove-twitter-25"), fingerprint: OTHER_FP})
    message = _error(VectorsUnavailableError, lambda: lightxfer.load(path), path)
    assert "never makes lightxfer download" in message and "vectors=" in message
    assert asked == []


# -- 6. bounded memory ---------------------------------------------------------------------------


def test_padded_schema_is_refused(model_file):
    path, _, _ = model_file
    _rewrite(path, {}, pad=8_000_000, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 200_000
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "MAX_EXPANSION" in message


def _replace_array(path, write):
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        members = {info.filename: archive.read(info.filename) for info in infos}
    target = max((n for n in members if n.endswith(".npy")), key=lambda n: len(members[n]))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name == target:
                with archive.open(name, "w", force_zip64=True) as member:
                    write(member)
            else:
                archive.writestr(name, data)


def test_huge_compressed_array_is_refused(model_file):
    path, _, _ = model_file
    zeros = np.zeros(1 << 20)  # written 8 times: a 64 MB member

    def write(member):
        np.lib.format.write_array_header_1_0(
            member, {"descr": "<f8", "fortran_order": False, "shape": (8 << 20,)}
        )
        for _ in range(8):
            member.write(zeros.tobytes())

    _replace_array(path, write)
    assert path.stat().st_size < 1_000_000
    assert "MAX_EXPANSION" in _error(UnsafeFileError, lambda: lightxfer.load(path), path)


def test_array_header_announcing_more_than_it_holds_is_refused(model_file):
    path, _, _ = model_file

    def write(member):
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(member, header)

    _replace_array(path, write)
    message = _error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "announces more data than it holds" in message


def test_overlong_text_line_is_refused(tmp_path):
    path = tmp_path / "one-line.txt.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"word" + b" 0.1" * 2_000_000 + b"\n")
    assert path.stat().st_size < 100_000
    message = _error(VectorsFileError, lambda: lightxfer.load_vectors(path), path)
    assert "MAX_LINE_BYTES" in message


def test_binary_header_with_absurd_dimension_is_refused(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"1 3000000000\nword " + np.ones(4, "<f4").tobytes())
    message = _error(VectorsFileError, lambda: lightxfer.load_vectors(path), path)
    assert "MAX_DIM" in message


# -- 7. errors name the file, never its content; nothing escapes unwrapped ------------------------


def test_error_never_echoes_the_file_content(tmp_path, model_file):
    path, vectors, fingerprint = model_file
    secret = tmp_path / "passwd"
    secret.write_text("root:s3cr3t:0:0:root:/root:/bin/bash\ndaemon:x:1:1\n")
    message = _error(VectorsFileError, lambda: lightxfer.load_vectors(secret), secret)
    assert "s3cr3t" not in message
    _rewrite(path, {REFERENCE: _reference(secret), fingerprint: OTHER_FP})
    message = _error(VectorsFileError, lambda: lightxfer.load(path), path)
    assert "s3cr3t" not in message and str(secret) in message


def test_damaged_cache_entry_is_rebuilt_not_a_crash(tmp_path, model_file):
    path, vectors, fingerprint = model_file
    entry = tmp_path / "cache" / "vectors" / f"fp-{OTHER_FP}"
    entry.mkdir(parents=True)
    (entry / "meta.json").write_text("[]")
    _rewrite(path, {REFERENCE: "null", fingerprint: OTHER_FP})
    with pytest.warns(UserWarning, match="rebuilding corrupt vectors cache entry"):
        message = _error(VectorsUnavailableError, lambda: lightxfer.load(path), path)
    assert "vectors=" in message
    assert not entry.exists()
