"""load_vectors on every source kind, with real files shipped by gensim and the default GloVe."""

import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors
from gensim.test.utils import datapath

import lightxfer
from lightxfer.exceptions import VectorsFileError, VectorsUnavailableError
from lightxfer.vectors import loading


def test_default_vectors_are_glove_6b_50d_memory_mapped(glove):
    assert isinstance(glove, KeyedVectors)
    assert glove.vectors.shape == (400_000, 50)
    assert isinstance(glove.vectors, np.memmap)
    assert glove.index_to_key[:3] == ["the", ",", "."]
    assert glove.most_similar("king", topn=5)[0][0] in {"prince", "queen"}


def test_second_load_returns_the_same_shared_object():
    first = lightxfer.load_vectors()
    assert lightxfer.load_vectors("glove-wiki-gigaword-50") is first


def test_fingerprint_is_stable_and_content_based(glove):
    small = lightxfer.load_vectors(limit=100)
    assert lightxfer.fingerprint(glove) != lightxfer.fingerprint(small)
    copy = KeyedVectors(50)
    copy.add_vectors(small.index_to_key, np.array(small.vectors))
    assert lightxfer.fingerprint(copy) == lightxfer.fingerprint(small)


def test_limit_keeps_the_most_frequent_words(glove):
    small = lightxfer.load_vectors(limit=1000)
    assert small.vectors.shape == (1000, 50)
    assert small.index_to_key == glove.index_to_key[:1000]
    np.testing.assert_array_equal(small["the"], glove["the"])
    assert "zymurgy" not in small.key_to_index


@pytest.mark.parametrize("limit", [0, -3, 2.5, "10"])
def test_bad_limit_is_rejected(limit):
    with pytest.raises(ValueError, match="limit"):
        lightxfer.load_vectors(limit=limit)


def test_warm_load_in_a_new_process_memory_maps_the_cache(glove):
    code = (
        "import lightxfer, numpy as np\n"
        "kv = lightxfer.load_vectors()\n"
        "print(type(kv.vectors).__name__, lightxfer.fingerprint(kv))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["memmap", lightxfer.fingerprint(glove)]


def test_word2vec_binary_matches_gensim(word2vec_binary_path):
    kv = lightxfer.load_vectors(word2vec_binary_path)
    reference = KeyedVectors.load_word2vec_format(word2vec_binary_path, binary=True)
    assert kv.index_to_key == reference.index_to_key
    np.testing.assert_allclose(kv.vectors, reference.vectors)


def test_word2vec_text_with_header_and_glove_without_header():
    w2v = lightxfer.load_vectors(datapath("lee_fasttext.vec"))
    reference = KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))
    assert w2v.index_to_key == reference.index_to_key
    np.testing.assert_allclose(w2v.vectors, reference.vectors, rtol=1e-6)
    glove_txt = lightxfer.load_vectors(datapath("test_glove.txt"))
    reference = KeyedVectors.load_word2vec_format(datapath("test_glove.txt"), no_header=True)
    assert glove_txt.index_to_key == reference.index_to_key
    np.testing.assert_allclose(glove_txt.vectors, reference.vectors, rtol=1e-6)


def test_converted_text_file_is_cached_and_memory_mapped(tmp_path):
    source = tmp_path / "tiny.txt"
    source.write_text("good 1 0\nbad 0 1\nfilm 0.5 0.5\n")
    first = lightxfer.load_vectors(source)
    assert isinstance(first.vectors, np.memmap)
    code = f"import lightxfer; print(lightxfer.load_vectors({str(source)!r}).index_to_key)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['good', 'bad', 'film']"


def test_fasttext_bin_keeps_subwords(fasttext_path):
    kv = lightxfer.load_vectors(fasttext_path)
    assert isinstance(kv, FastTextKeyedVectors)
    assert "unseenwordxyz" not in kv.key_to_index
    assert np.abs(kv.get_vector("unseenwordxyz")).sum() > 0


def test_gensim_keyedvectors_file(tmp_path, glove):
    kv = KeyedVectors(50)
    kv.add_vectors(glove.index_to_key[:500], np.array(glove.vectors[:500]))
    path = tmp_path / "small.kv"
    kv.save(str(path))
    with pytest.raises(VectorsFileError, match=r"small.kv is a pickle.*allow_pickle=True"):
        lightxfer.load_vectors(path)  # a pickle can run code: only on request
    loaded = lightxfer.load_vectors(path, allow_pickle=True)
    assert loaded.index_to_key == kv.index_to_key
    assert lightxfer.fingerprint(loaded) == lightxfer.fingerprint(kv)


def test_spacy_pipeline_directory(spacy_vectors_dir, glove):
    kv = lightxfer.load_vectors(spacy_vectors_dir)
    assert len(kv.index_to_key) == 2000
    np.testing.assert_allclose(kv["king"], glove["king"])


def test_other_gensim_data_names_fail_fast_offline(monkeypatch, tmp_path):
    import gensim.downloader

    monkeypatch.setattr(gensim.downloader, "BASE_DIR", str(tmp_path))
    monkeypatch.setattr(loading, "_online", lambda: False)
    with pytest.raises(VectorsUnavailableError, match="gensim.downloader --download"):
        lightxfer.load_vectors("word2vec-google-news-300")


def test_unknown_name_lists_known_names():
    with pytest.raises(VectorsFileError, match="glove-wiki-gigaword-50"):
        lightxfer.load_vectors("glove-wiki-gigaword-51")


def test_a_file_changed_on_disk_is_read_again_in_the_same_process(tmp_path):
    source = tmp_path / "changing.txt"
    source.write_text("good 1 0\nbad 0 1\n")
    first = lightxfer.load_vectors(source)
    source.write_text("good 0 1\nbad 1 0\nfilm 1 1\n")
    second = lightxfer.load_vectors(source)
    assert second is not first
    assert second.index_to_key == ["good", "bad", "film"]
    np.testing.assert_array_equal(second["good"], [0, 1])
