"""Issue 22: a model file mutated at random is refused with lightxfer's own error, or works.

Hypothesis rewrites a saved model's ``schema.json`` (strings, numbers, types, keys,
subtrees moved elsewhere) and loads it from a working directory where a pickle is planted
under the names a reference could reach. Whatever the mutation: ``load`` either raises one
of lightxfer's errors (one line naming the file) or returns a model; the model then goes
through ``copy.deepcopy``, ``transfer`` and, for some cases, a predict in two worker
processes. Those may fail (a mutated coefficient has the wrong shape: load checks what
could run code or take unbounded time, not every fitted array), but no case may run the
planted pickle or take longer than the bound. Issue 31 adds arrays of every element type,
and every SentenceEncoder parameter with any value.
"""

import copy
import io
import json
import pickle
import shutil
import signal
import warnings
import zipfile

import numpy as np
import pytest
from conftest import RunsCode
from gensim.test.utils import datapath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightxfer
from lightxfer import exceptions

TEXTS = ["the film was good", "the film was bad", "a great story", "an awful plot"] * 5
LABELS = [1, 0, 1, 0] * 5
SECONDS = 20  # per case; a case takes well under a second
LIGHTXFER_ERRORS = (
    exceptions.ModelFileError,
    exceptions.UnsafeFileError,
    exceptions.VectorsFileError,
    exceptions.VectorsMismatchError,
    exceptions.VectorsUnavailableError,
    exceptions.EncoderUnavailableError,
    exceptions.EncoderMismatchError,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved model, its schema and members, and a folder with pickles planted in it."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(datapath("test_glove.txt"), folder / "glove.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lightxfer.make_classifier(vectors=str(folder / "glove.txt"), head="logreg")
        model.fit(TEXTS, LABELS)
    path = lightxfer.save(model, folder / "model.skops")
    marker = folder / "ran"
    for name in PLANTED:
        (folder / name).write_bytes(pickle.dumps(RunsCode(marker), protocol=4))
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    return folder, json.loads(members.pop("schema.json")), members, marker


#: Where a mutated reference may lead: each is a planted pickle.
PLANTED = ("vectors.kv", "glove.pkl")
STRINGS = (
    "/proc/self/cwd/vectors.kv",
    "vectors.kv",
    "glove.pkl",
    "data/../vectors.kv",
    "glove.txt",
    "glove-twitter-25",
    "0" * 32,
    "",
    "(?:a+)+b",
    "char",
    "filename",
    "fcache",
)
NUMBERS = (-1, 0, 1, 2, 3, 10**6, 2**63, 1.5)


def _locations(node, found):
    """Every (container, key) in the schema, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((node, key))
        if isinstance(value, (dict, list)):
            _locations(value, found)
    return found


@st.composite
def mutations(draw, schema):
    schema = copy.deepcopy(schema)
    for _ in range(draw(st.integers(1, 3))):
        places = _locations(schema, [])
        node, key = draw(st.sampled_from(places))
        value = node[key]
        kind = draw(st.sampled_from(["value", "move", "delete", "class"]))
        if kind == "delete" and isinstance(node, dict):
            del node[key]
        elif kind == "move":  # a subtree copied elsewhere: an estimator where none was
            _, source = draw(st.sampled_from(places))
            node[key] = copy.deepcopy(source if not isinstance(source, str) else value)
            other, other_key = draw(st.sampled_from(places))
            if isinstance(other[other_key], dict) and isinstance(node[key], dict):
                other[other_key] = copy.deepcopy(node[key])
        elif kind == "class" and isinstance(node, dict) and "__class__" in node:
            donor = draw(st.sampled_from([n for n, k in places if k == "__class__"]))
            node["__class__"], node["__module__"] = donor["__class__"], donor.get("__module__")
        elif isinstance(value, str):
            text = draw(st.sampled_from(STRINGS))
            # A JsonNode's content is JSON text: sometimes write the string as JSON.
            node[key] = json.dumps(text) if draw(st.booleans()) else text
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            node[key] = draw(st.sampled_from(NUMBERS))
    return schema


def _write(path, schema, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("schema.json", json.dumps(schema))


def _timeout(signum, frame):
    raise TimeoutError(f"a case took more than {SECONDS} s")


@pytest.fixture
def bounded_time():
    previous = signal.signal(signal.SIGALRM, _timeout)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_mutated_model_files_are_refused_or_work(saved, monkeypatch, bounded_time):
    folder, schema, members, marker = saved
    monkeypatch.chdir(folder)
    path = folder / "mutated.skops"

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def case(data):
        _write(path, data.draw(mutations(schema)), members)
        in_workers = data.draw(st.integers(0, 24)) == 0  # workers are slow to start
        signal.alarm(SECONDS)
        try:
            _load_and_use(path, in_workers)
        finally:
            signal.alarm(0)
        assert not marker.exists()

    case()


def _load_and_use(path, in_workers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = lightxfer.load(path, **({"n_jobs": 2} if in_workers else {}))
        except LIGHTXFER_ERRORS as exc:
            message = str(exc)
            assert "\n" not in message and str(path) in message, message
            return
        for use in (copy.deepcopy, lightxfer.transfer, lambda m: m.predict(TEXTS)):
            try:
                use(model)
            except TimeoutError:
                raise
            except Exception:  # a mutated array may not fit: only safety counts here
                pass


#: Element types an attacker may write in an ``.npy`` header, and shapes to announce.
DESCRS = ("|V0", "|S0", "<U0", "|V8", "|O", "<M8[s]", "<m8[s]", "<f4", "|b1", "<i8", "|S3")
SHAPES = ((), (0,), (1,), (3,), (2, 2), (10**9,), (2**31, 2**31))


def _npy(descr, shape, data):
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + data


def test_arrays_of_any_element_type_are_refused_or_work(saved, monkeypatch, bounded_time):
    """Issue 31: any member array rewritten with any element type, shape and data size."""
    folder, schema, members, marker = saved
    monkeypatch.chdir(folder)
    path = folder / "arrays.skops"
    arrays = sorted(name for name in members if name.endswith(".npy"))

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(
        st.sampled_from(arrays),
        st.sampled_from(DESCRS),
        st.sampled_from(SHAPES),
        st.integers(0, 64),
    )
    def case(name, descr, shape, size):
        _write(path, schema, {**members, name: _npy(descr, shape, bytes(size))})
        signal.alarm(SECONDS)
        try:
            _load_and_use(path, in_workers=False)
        finally:
            signal.alarm(0)
        assert not marker.exists()

    case()


#: Values a file may give any SentenceEncoder parameter.
ENCODER_VALUES = (
    None, True, False, 0, -1, 1, 2, 1.5, 10**9, float("nan"), "", "x" * 10_000, "chunk",
    "truncate", "mean", "max", "mean+max", "int8", "float32", "contrastive",
    "all-MiniLM-L6-v2", "no-such-folder/model", [1, 2], {"a": 1},
)  # fmt: skip


@pytest.fixture(scope="module")
def saved_encoder(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lightxfer.make_classifier(encoder="all-MiniLM-L6-v2", head="logreg")
        model.fit(TEXTS, LABELS)
    path = lightxfer.save(model, tmp_path_factory.mktemp("fuzz-encoder") / "model.skops")
    return path, model


def test_any_encoder_setting_in_a_file_is_refused_or_works(saved_encoder, bounded_time):
    """Issue 31: every SentenceEncoder parameter, given any value, on a long text too."""
    path, model = saved_encoder
    encoder = model.named_steps["embedding"]
    crafted = path.with_name("crafted.skops")
    long_text = "A sentence of words. " * 50_000  # 1 MB

    @settings(max_examples=80, deadline=None, derandomize=True, database=None)
    @given(st.sampled_from(sorted(encoder.get_params())), st.sampled_from(ENCODER_VALUES))
    def case(name, value):
        kept = vars(encoder)[name]
        setattr(encoder, name, value)
        try:
            lightxfer.save(model, crafted)
        except Exception:  # skops cannot write it: no file to attack with
            return
        finally:
            setattr(encoder, name, kept)
        signal.alarm(SECONDS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    loaded = lightxfer.load(crafted)
                except (*LIGHTXFER_ERRORS, ValueError, TypeError) as exc:
                    message = str(exc)
                    assert "\n" not in message and str(crafted) in message, message
                    return
                assert loaded.predict(["a short text", long_text]).shape == (2,)
        finally:
            signal.alarm(0)

    case()
