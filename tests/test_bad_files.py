"""Point 2 of issue 6: broken vector files and tables fail with one line naming the place."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

import lightxfer
from lightxfer.exceptions import VectorsFileError
from lightxfer.tables import TableError, read_table


def _cut(tmp_path, name, keep):
    """Copy gensim's bundled ``name`` into tmp_path, keeping ``keep(size)`` bytes."""
    data = Path(datapath(name)).read_bytes()
    path = tmp_path / f"cut-{name}"
    path.write_bytes(data[: keep(len(data))])
    return path


def _load_error(path):
    with pytest.raises(VectorsFileError) as info:
        lightxfer.load_vectors(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    "name, keep, match",
    [
        ("euclidean_vectors.bin", lambda n: n // 2, r"ends inside word \d+ of the 2747"),
        ("euclidean_vectors.bin", lambda n: n - 1, r"ends inside word 2747 "),
        ("euclidean_vectors.bin", lambda n: 12, r"ends inside word 1 of the 2747"),
        ("lee_fasttext.bin", lambda n: n // 2, r"fastText file truncated"),
        ("lee_fasttext.bin", lambda n: n - 10, r"fastText file truncated"),
        ("lee_fasttext.vec", lambda n: n // 2, r"line \d+: expected a word and 10 values"),
        ("test_glove.txt", lambda n: n // 2, r"line \d+: expected a word and 50 values"),
    ],
)
def test_truncated_real_files(tmp_path, name, keep, match):
    assert re.search(match, _load_error(_cut(tmp_path, name, keep)))


def test_truncated_header_count(tmp_path):
    lines = Path(datapath("lee_fasttext.vec")).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "short.vec"
    path.write_text("\n".join(lines[:100]) + "\n", encoding="utf-8")
    assert "header announces 1762 vectors but the file holds 99" in _load_error(path)


@pytest.mark.parametrize(
    "content, match",
    [
        ("a 1 2\nb 3\nc 4 5\n", r"line 2: expected a word and 2 values, found 1"),
        ("a 1 2\nb 3 4 5\nc 4 5\n", r"line 2: expected a word and 2 values, found 3"),
        ("a 1 2\nb 3 4\na 5 6\n", r"line 3: duplicate word \(first on line 1\)"),
        ("a 1 2\n\nb 3 4\n\nb 5 6\n", r"line 5: duplicate word \(first on line 3\)"),
        ("a 1 2\nb nan 4\n", r"line 2: vector contains NaN or infinity"),
        ("a 1 2\nb 3 -inf\n", r"line 2: vector contains NaN or infinity"),
        ("a 1 2\nb 3 x\n", r"line 2: expected numbers after the word"),
        ("2 2\na 1 2\nb 3 4\nc 5 6\n", r"header announces 2 vectors but the file holds 3"),
        ("hello\n", r"line 1: expected a word followed by numbers"),
        ("text,label\ngood,1\n", r"line 1: expected a word followed by numbers"),
        ("", r"is empty"),
        ("\n  \n", r"is empty"),
    ],
)
def test_malformed_text_files(tmp_path, content, match):
    path = tmp_path / "vectors.txt"
    path.write_text(content, encoding="utf-8")
    assert re.search(match, _load_error(path))


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("good 1 2\ncaf\xe9 3 4\n".encode("latin-1"))
    assert "line 2: not UTF-8" in _load_error(path)


def test_word2vec_binary_with_nan_names_the_word(tmp_path):
    kv = KeyedVectors(3)
    kv.add_vectors(["good", "bad"], np.array([[1, 2, 3], [4, np.nan, 6]], dtype=np.float32))
    path = tmp_path / "nan.bin"
    kv.save_word2vec_format(str(path), binary=True)
    assert "word 2: vector contains NaN" in _load_error(path)


def test_word2vec_binary_duplicate_word(tmp_path):
    path = tmp_path / "dup.bin"
    row = np.ones(2, dtype="<f4").tobytes()
    path.write_bytes(b"2 2\ngood " + row + b"\ngood " + row + b"\n")
    assert "word 2 of 2: duplicate word (first as word 1)" in _load_error(path)


def test_streamed_word2vec_binary_matches_gensim(tmp_path):
    path = tmp_path / "copy.bin"
    shutil.copy(datapath("euclidean_vectors.bin"), path)
    ours = lightxfer.load_vectors(path)
    theirs = KeyedVectors.load_word2vec_format(str(path), binary=True)
    assert ours.index_to_key == theirs.index_to_key
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "unknown vectors format"),
        (lambda p: p.mkdir(), "is a directory but not a spaCy pipeline"),
        (lambda p: None, "no such vectors file"),
        (lambda p: p.write_bytes(b"\x80\x04garbage"), "is a pickle"),
    ],
    ids=["random-bytes", "directory", "missing", "broken-pickle"],
)
def test_unusable_sources(tmp_path, make, match):
    path = tmp_path / "vectors.bin"
    make(path)
    assert match in _load_error(path)


def test_failed_load_leaves_nothing_in_the_cache(tmp_path):
    path = _cut(tmp_path, "euclidean_vectors.bin", lambda n: n // 2)
    _load_error(path)
    cache = Path(lightxfer.vectors.store.cache_root()) / "vectors"
    assert not [entry for entry in cache.iterdir() if entry.name.startswith("cut-")]


# -- tables read by the CLI --------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("t.csv", "txt,label\nhi,1\n", r"t.csv: no column 'text' \(columns: txt, label\)"),
        ("t.csv", "", r"t.csv: the file is empty"),
        ("t.csv", "text,label\n", r"t.csv: the table has a header but no rows"),
        ("t.csv", "text,label\nhi,1\nyo,\n", r"t.csv, line 3, column 'label': missing value"),
        ("t.csv", "text,label\nhi,1,3\n", r"t.csv: cannot parse as csv"),
        ("t.tsv", "text\tlabel\nhi\t1\n\tpos\n", r"t.tsv, line 3, column 'text': missing value"),
        ("t.jsonl", '{"text": "a", "label": 1}\n{"text": "b"\n', r"t.jsonl, line 2: not valid"),
        ("t.jsonl", '{"text": "a", "label": 1}\n\n{"text": "b"}\n', r"line 3, column 'label'"),
        ("t.jsonl", '{"text": 5, "label": 1}\n', r"line 1, column 'text': expected a string"),
        ("t.jsonl", "[1, 2]\n", r"t.jsonl, line 1: expected a JSON object"),
        ("t.xlsx", "x", r"unknown table format '.xlsx'"),
    ],
)
def test_bad_tables(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TableError, match=match) as info:
        read_table(path, label_column="label")
    assert "\n" not in str(info.value)


def test_table_in_another_encoding_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ngood,1\ncaf\xe9,0\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"latin1.csv, line 3: not valid UTF-8"):
        read_table(path)


def test_real_table_sample_reads(tmp_path):
    from conftest import read_shared

    sample = read_shared("trec_train", 200)
    path = tmp_path / "trec.jsonl"
    sample.to_json(path, orient="records", lines=True)
    table = read_table(path, label_column="label")
    assert table["text"].tolist() == sample["text"].tolist()
    csv = tmp_path / "trec.csv"
    sample.to_csv(csv, index=False)
    assert read_table(csv, label_column="label")["text"].tolist() == sample["text"].tolist()
