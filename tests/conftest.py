"""Shared fixtures: real but small vectors and data."""

import contextlib
import io
import os

import numpy as np
import pytest
from gensim.test.utils import datapath
from outside_reads import OutsideReads, child_environment

import lightxfer
from lightxfer.datasets import load_dataset

collect_ignore = ["audit_site"]  # its sitecustomize.py is for child processes, not a test module
OUTSIDE_READS = OutsideReads().install()  # from import on: collection reads count too


def read_shared(name, n=None, seed=0):
    """Return a stratified sample of ``n`` rows of a shipped dataset split, e.g. ``"sst2_train"``.

    ``name`` is ``<dataset>_<split>``, or ``<dataset>`` for SUBJ and MPQA (see
    :mod:`lightxfer.datasets`); the table has the columns ``text``, ``label`` (and TREC's
    ``fine_label``).
    """
    dataset, _, split = name.partition("_")
    table = load_dataset(dataset, split or None, as_frame=True)
    if n is not None and n < len(table):
        fraction = n / len(table)
        table = table.groupby("label", group_keys=False).sample(frac=fraction, random_state=seed)
        table = table.sample(frac=1, random_state=seed)  # interleave the classes again
    return table.reset_index(drop=True)


class RunsCode:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def texts_and_labels(*tables):
    """``(texts, labels)`` of each table, flattened: ``(X, y)`` or ``(X, y, X_test, y_test)``."""
    return tuple(array for t in tables for array in (t["text"].to_numpy(), t["label"].to_numpy()))


def forget_loaded_vectors():
    """As in a new process: no vectors loaded, so every reference is followed (and checked) anew."""
    from lightxfer.vectors import loaded

    loaded._INFO.clear()
    loaded._LOADED.clear()


@pytest.fixture
def as_new_process():
    """Nothing loaded when the test starts; what this process had loaded is back after it."""
    from lightxfer.vectors import loaded

    saved = dict(loaded._INFO), dict(loaded._LOADED)
    forget_loaded_vectors()
    yield
    forget_loaded_vectors()
    loaded._INFO.update(saved[0])
    loaded._LOADED.update(saved[1])


@pytest.fixture(scope="session")
def glove():
    """The embedded default vectors (GloVe 6B 50d), memory-mapped."""
    return lightxfer.load_vectors("glove-wiki-gigaword-50")


@pytest.fixture(scope="session")
def sst2():
    """400 SST-2 training sentences and 200 test sentences: ``(X, y, X_test, y_test)``."""
    return texts_and_labels(read_shared("sst2_train", 400), read_shared("sst2_test", 200))


@pytest.fixture(scope="session")
def demo_output():
    """``lightxfer demo --folds 3``, run once per session: ``(exit code, standard output)``.

    The README's quick start (``lightxfer demo``, 10 folds) and the demo's own test share
    this run: the same command and data, fewer folds.
    """
    from lightxfer.cli.entrypoint import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo", "--folds", "3"])
    return code, out.getvalue()


@pytest.fixture(scope="session")
def fasttext_path():
    """A real fastText native model shipped with gensim."""
    return datapath("lee_fasttext.bin")


@pytest.fixture(scope="session")
def word2vec_binary_path():
    """A real word2vec binary file shipped with gensim."""
    return datapath("euclidean_vectors.bin")


@pytest.fixture(scope="session")
def spacy_vectors_dir(tmp_path_factory, glove):
    """A spaCy pipeline directory whose vectors are 2000 GloVe words."""
    import spacy

    nlp = spacy.blank("en")
    for word in glove.index_to_key[:2000]:
        nlp.vocab.set_vector(word, np.asarray(glove[word]))
    path = tmp_path_factory.mktemp("spacy") / "pipeline"
    nlp.to_disk(path)
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep converted-vector caches of tests out of the user's cache, except the default's."""
    os.environ.setdefault("LIGHTXFER_CACHE", str(tmp_path_factory.mktemp("lightxfer-cache")))
    yield


@pytest.fixture(autouse=True, scope="session")
def _outside_reads_log(tmp_path_factory):
    """A log that Python children of the tests append files they opened outside the repository to."""
    log = tmp_path_factory.mktemp("outside-reads") / "opened.log"
    log.touch()
    os.environ.update(child_environment(log))
    return log


@pytest.fixture(autouse=True)
def _no_reads_outside_repository(_outside_reads_log):
    """Fail a test that opened a file outside the repository, itself or in a child process.

    A fresh clone has nothing beside the repository: what a test reads must ship with it.
    """
    offset = _outside_reads_log.stat().st_size
    yield
    with _outside_reads_log.open("rb") as log:
        log.seek(offset)
        in_children = log.read().decode(errors="replace").splitlines()
    opened = list(dict.fromkeys(OUTSIDE_READS.caught + in_children))
    OUTSIDE_READS.caught.clear()
    if opened:
        more = f" and {len(opened) - 1} more" if len(opened) > 1 else ""
        pytest.fail(f"opened {opened[0]}{more}, outside the repository (see outside_reads.py)")


def pytest_sessionfinish(session):
    """Fail the run on files opened outside the repository after the last test (e.g. doctests)."""
    if OUTSIDE_READS.caught:
        print(f"\nopened outside the repository: {', '.join(OUTSIDE_READS.caught)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def minilm():
    """The loaded default sentence encoder, as every SentenceEncoder of the process shares it."""
    from lightxfer.shared import sentence_models

    return sentence_models.load(sentence_models.DEFAULT_MODEL)


@pytest.fixture
def encode_calls(minilm, monkeypatch):
    """Texts passed to the model's own encode, call by call."""
    calls = []
    original = minilm.model.encode

    def counting(texts, **kwargs):
        calls.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(minilm.model, "encode", counting)
    return calls
