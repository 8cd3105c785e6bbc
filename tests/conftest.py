"""Shared fixtures: real but small vectors and data."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gensim.test.utils import datapath

import lightxfer

DATA_DIR = Path(os.environ.get("LIGHTXFER_DATA_DIR", Path(__file__).parents[2] / "shared" / "data"))


def read_shared(name, n=None, seed=0):
    """Return a stratified sample of ``n`` rows of ``../shared/data/<name>.csv``."""
    path = DATA_DIR / f"{name}.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: set LIGHTXFER_DATA_DIR to the shared data folder")
    table = pd.read_csv(path)
    if n is not None and n < len(table):
        fraction = n / len(table)
        table = table.groupby("label", group_keys=False).sample(frac=fraction, random_state=seed)
        table = table.sample(frac=1, random_state=seed)  # interleave the classes again
    return table.reset_index(drop=True)


def texts_and_labels(*tables):
    """``(texts, labels)`` of each table, flattened: ``(X, y)`` or ``(X, y, X_test, y_test)``."""
    return tuple(array for t in tables for array in (t["text"].to_numpy(), t["label"].to_numpy()))


@pytest.fixture(scope="session")
def glove():
    """The embedded default vectors (GloVe 6B 50d), memory-mapped."""
    return lightxfer.load_vectors("glove-wiki-gigaword-50")


@pytest.fixture(scope="session")
def sst2():
    """400 SST-2 training sentences and 200 test sentences: ``(X, y, X_test, y_test)``."""
    return texts_and_labels(read_shared("sst2_train", 400), read_shared("sst2_test", 200))


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
