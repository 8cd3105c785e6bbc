"""Point 4 of issue 6: an interrupted save keeps the previous file; the cache heals."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from gensim.test.utils import datapath
from sklearn.preprocessing import StandardScaler

import lightxfer
from lightxfer.vectors import loaded, store

CHILD = """
import sys
import numpy as np
from sklearn.preprocessing import StandardScaler
import lightxfer
# ~200 MB of arrays: the write takes long enough to be killed in the middle.
big = StandardScaler().fit(np.zeros((2, 8_000_000)))
print("saving", flush=True)
lightxfer.save(big, sys.argv[1])
print("saved", flush=True)
"""


def _small_model():
    return StandardScaler().fit(np.arange(6.0).reshape(3, 2))


def test_killed_save_leaves_previous_file(tmp_path):
    path = tmp_path / "model.skops"
    lightxfer.save(_small_model(), path)
    before = path.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "saving"
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.glob(".model.skops.*") if p.stat().st_size > 0]:
        assert child.poll() is None, "the save finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    np.testing.assert_array_equal(lightxfer.load(path).mean_, _small_model().mean_)


def test_failed_save_keeps_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.skops"
    lightxfer.save(_small_model(), path)
    before = path.read_bytes()

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("cannot be saved")

    with pytest.raises(Exception, match="cannot be saved"):
        lightxfer.save(Unsaveable(), tmp_path / "model.joblib")
    with pytest.raises(Exception):  # noqa: B017 - skops refuses it in its own way
        lightxfer.save({"bad": Unsaveable()}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]


def _fresh_vectors(tmp_path):
    source = tmp_path / "vectors.vec"
    source.write_bytes(Path(datapath("lee_fasttext.vec")).read_bytes())
    return source


def _forget():
    loaded._INFO.clear()
    loaded._LOADED.clear()


def _entry_of(source):
    (entry,) = [
        p
        for p in (store.cache_root() / "vectors").glob("vectors.vec-*")
        if json.loads((p / "meta.json").read_text())["source"] == str(source.resolve())
    ]
    return entry


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: (entry / "vectors.f32").write_bytes(b"\0" * 100),  # truncated
        lambda entry: (entry / "vectors.f32").open("ab").write(b"\0" * 40),  # too long
        lambda entry: (entry / "words.json").write_text("[1, 2"),
        lambda entry: (entry / "meta.json").write_text("{"),
        lambda entry: (entry / "vectors.f32").unlink(),
    ],
    ids=["short-matrix", "long-matrix", "broken-words", "broken-meta", "missing-matrix"],
)
def test_corrupt_cache_entry_is_rebuilt(tmp_path, damage):
    source = _fresh_vectors(tmp_path)
    expected = np.array(lightxfer.load_vectors(source).vectors)
    entry = _entry_of(source)
    damage(entry)
    _forget()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt = lightxfer.load_vectors(source)
    assert any("rebuilding corrupt vectors cache entry" in str(w.message) for w in caught)
    np.testing.assert_array_equal(rebuilt.vectors, expected)
    _forget()
    assert lightxfer.load_vectors(source).vectors.shape == expected.shape


def test_interrupted_conversion_leaves_no_entry(tmp_path, monkeypatch):
    source = tmp_path / "interrupted.vec"
    source.write_bytes(Path(datapath("lee_fasttext.vec")).read_bytes())

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(lightxfer.vectors.loading.formats, "read_text", interrupt)
    monkeypatch.setitem(lightxfer.vectors.loading._STREAMED, "text", interrupt)
    with pytest.raises(KeyboardInterrupt):
        lightxfer.load_vectors(source)
    leftovers = [p for p in (store.cache_root() / "vectors").iterdir() if "interrupted" in p.name]
    assert leftovers == []
    monkeypatch.undo()
    assert len(lightxfer.load_vectors(source).index_to_key) == 1762


def test_temporary_names_are_hidden_and_unique(tmp_path):
    # Two saves racing to the same path each write their own temporary file.
    path = tmp_path / "model.skops"
    for _ in range(3):
        lightxfer.save(_small_model(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]
    assert os.stat(path).st_size > 0
