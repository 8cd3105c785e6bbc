"""Performance work must not change results: equality with the per-document loop, a cache
that never serves stale features and stays bounded, chunked transform of any iterable."""

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared
from hypothesis import given, settings
from hypothesis import strategies as st
from joblib import Memory

import lightxfer
from lightxfer import EmbeddingVectorizer
from lightxfer.shared import feature_cache
from lightxfer.shared.feature_cache import FEATURE_CACHE, FeatureCache, RowTable
from lightxfer.shared.pooling import TokenBatch
from lightxfer.shared.tokenize import regex_tokenize, tokenize_ids

EDGE_TEXTS = ["", "   ", "zzqx qqzv", "Don't stop, U.S. isn't it?!", "naïve café's 3.5 nnn't"]
REDUCERS = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}


@pytest.fixture(scope="module")
def texts():
    """300 real sentences of two data sets, plus the empty and the all-unknown text."""
    sample = pd.concat([read_shared("sst2_train", 200), read_shared("trec_train", 100)])
    return [*sample["text"].astype(str), *EDGE_TEXTS]


@pytest.fixture(autouse=True)
def _empty_cache():
    FEATURE_CACHE.clear()
    yield
    FEATURE_CACHE.clear()


def reference_loop(texts, kv, reduce, tokenize=regex_tokenize):
    """The per-document Python loop every speed-up is measured against."""
    out = np.zeros((len(texts), kv.vector_size), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = [kv.key_to_index[w] for w in tokenize(text.lower()) if w in kv.key_to_index]
        if ids:
            out[row] = reduce(kv.vectors[ids], axis=0)
    return out


@pytest.mark.parametrize("pooling", list(REDUCERS))
def test_features_equal_the_reference_loop(pooling, texts, glove):
    vectorizer = EmbeddingVectorizer(pooling=pooling, tokenizer="regex", cache=False)
    features = vectorizer.fit_transform(texts)
    expected = reference_loop(texts, glove, REDUCERS[pooling])
    np.testing.assert_allclose(features, expected, atol=1e-5, rtol=0)


def test_auto_tokenizer_equals_its_per_document_definition(texts, glove):
    vocab = glove.key_to_index

    def auto(text):
        return [p for w in text.split() for p in ([w] if w in vocab else regex_tokenize(w))]

    features = EmbeddingVectorizer(cache=False).fit_transform(texts)
    expected = reference_loop(texts, glove, np.mean, tokenize=auto)
    np.testing.assert_allclose(features, expected, atol=1e-5, rtol=0)


def test_tfidf_equals_an_idf_weighted_loop(texts, glove):
    vectorizer = EmbeddingVectorizer(pooling="tfidf", tokenizer="regex", cache=False)
    features = vectorizer.fit(texts[:200]).transform(texts)
    idf = dict(zip(vectorizer.idf_ids_.tolist(), vectorizer.idf_.tolist()))
    unseen = np.log(1 + vectorizer.n_texts_fit_) + 1
    for row, text in enumerate(texts):
        ids = [glove.key_to_index[w] for w in regex_tokenize(text.lower()) if w in glove]
        if not ids:
            assert not features[row].any()
            continue
        weights = np.array([idf.get(i, unseen) for i in ids])
        expected = weights @ glove.vectors[ids] / weights.sum()
        np.testing.assert_allclose(features[row], expected, atol=1e-5, rtol=0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab'nt _.,\t\n\x1féß3 "), max_size=25)))
def test_regex_tokenizer_equals_regex_tokenize_per_text(batch):
    vocab = {"a": 0, "n't": 1, "b": 2, ".": 3, "ab": 4, "'t": 5}
    ids, lengths, unknown = tokenize_ids(batch, vocab, tokenizer="regex", lowercase=False)
    tokens = [token for text in batch for token in regex_tokenize(text)]
    assert lengths.tolist() == [len(regex_tokenize(text)) for text in batch]
    assert ids.tolist() == [vocab.get(token, -1) for token in tokens]
    assert unknown == [token for token in tokens if token not in vocab]


def test_column_major_and_row_major_vectors_pool_alike(texts, glove):
    ids, lengths, _ = tokenize_ids(texts, glove.key_to_index)
    known = ids >= 0
    lengths = np.bincount(np.repeat(np.arange(len(texts)), lengths)[known], minlength=len(texts))
    ids = ids[known]
    row_major = np.ascontiguousarray(glove.vectors)
    direct = TokenBatch(ids, lengths, None, matrix=row_major)
    gathered = TokenBatch(ids, lengths, lambda unique: np.asfortranarray(row_major)[unique])
    for pooling in ("mean", "max", "min"):
        np.testing.assert_allclose(direct.pool(pooling), gathered.pool(pooling), atol=1e-6)


# -- the feature cache ------------------------------------------------------------------------


def test_identical_transform_is_a_cache_hit(texts):
    vectorizer = EmbeddingVectorizer().fit(texts)
    first = vectorizer.transform(texts)
    misses = FEATURE_CACHE.misses
    again = vectorizer.transform(list(texts))
    assert FEATURE_CACHE.misses == misses and FEATURE_CACHE.hits >= 1
    np.testing.assert_array_equal(first, again)
    again[:] = 0  # a hit hands out a copy: the cached features stay intact
    np.testing.assert_array_equal(vectorizer.transform(texts), first)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda v, t: (v.set_params(pooling="max"), t), id="pooling"),
        pytest.param(lambda v, t: (v.set_params(tokenizer="whitespace"), t), id="tokenizer"),
        pytest.param(
            lambda v, t: (v.set_params(vectors=lightxfer.load_vectors(limit=20_000)), t),
            id="vectors",
        ),
        pytest.param(lambda v, t: (v, [*t[:-1], t[-1] + " film"]), id="one-text"),
    ],
)
def test_any_change_of_vectors_pooling_or_texts_is_a_miss(change, texts):
    vectorizer = EmbeddingVectorizer().fit(texts)
    vectorizer.transform(texts)
    vectorizer, changed = change(vectorizer, texts)
    misses = FEATURE_CACHE.misses
    features = vectorizer.fit(texts).transform(changed)
    assert FEATURE_CACHE.misses > misses
    fresh = EmbeddingVectorizer(**{**vectorizer.get_params(), "cache": False}).fit(texts)
    np.testing.assert_array_equal(features, fresh.transform(changed))


@pytest.mark.parametrize("pooling", ["mean", ["max", "min"], "tfidf"])
def test_reordered_and_overlapping_texts_get_their_own_rows(pooling, texts):
    vectorizer = EmbeddingVectorizer(pooling=pooling).fit(texts[:150])
    vectorizer.transform(texts[:150])
    reordered = texts[50:] + texts[:50]
    fresh = EmbeddingVectorizer(pooling=pooling, cache=False).fit(texts[:150])
    np.testing.assert_array_equal(vectorizer.transform(reordered), fresh.transform(reordered))


def test_a_fold_embeds_only_texts_not_seen_before(texts):
    EmbeddingVectorizer().fit(texts[:150])
    table = next(entry for entry, _ in FEATURE_CACHE._entries.values() if hasattr(entry, "find"))
    assert len(table.position) == len(set(texts[:150]))
    EmbeddingVectorizer().fit(texts[100:])  # another fold: 50 texts overlap
    assert len(table.position) == len(set(texts))


def test_row_table_counts_its_texts_and_is_dropped_past_the_cache_size():
    cache = FeatureCache(max_bytes=50_000)
    table = RowTable(4)
    table.add(["short"], np.zeros((1, 4), np.float32), np.ones((1, 2), np.int64))
    cache.put("rows", table)
    assert cache.nbytes == table.nbytes < 50_000
    table.add(["x" * 60_000], np.zeros((1, 4), np.float32), np.ones((1, 2), np.int64))
    cache.put("rows", table)  # grown past the whole cache: dropped, not kept uncounted
    assert cache.get("rows") is None and cache.nbytes == 0


def test_refit_on_other_texts_changes_tfidf_state_and_misses(texts):
    vectorizer = EmbeddingVectorizer(pooling="tfidf").fit(texts[:100])
    before = vectorizer.transform(texts)
    after = vectorizer.fit(texts[100:]).transform(texts)
    assert not np.allclose(before, after)


def test_cache_is_lru_and_bounded_in_bytes():
    cache = FeatureCache(max_bytes=3 * 800)
    rows = {name: np.full(200, i, dtype=np.float32) for i, name in enumerate("abcd")}
    for name in "abc":
        cache.put(name, rows[name])
    cache.get("a")  # now "b" is the least recently used
    cache.put("d", rows["d"])
    assert cache.get("b") is None and cache.get("a") is not None
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    cache.put("huge", np.zeros(10_000, dtype=np.float32))
    assert cache.get("huge") is None and len(cache) == 3


def test_texts_digest_sees_boundaries_and_order():
    digests = {
        feature_cache.texts_digest(t) for t in (["ab", "c"], ["a", "bc"], ["c", "ab"], ["abc"])
    }
    assert len(digests) == 4


def test_disk_cache_serves_a_new_vectorizer(texts, tmp_path, monkeypatch):
    memory = Memory(str(tmp_path), verbose=0)
    first = EmbeddingVectorizer(cache=memory).fit(texts).transform(texts)
    second = EmbeddingVectorizer(cache=tmp_path).fit(texts)

    def fail(*args):
        raise AssertionError("embedded again instead of reading the disk cache")

    monkeypatch.setattr(EmbeddingVectorizer, "_embed", fail)
    np.testing.assert_array_equal(second.transform(texts), first)


# -- big inputs ---------------------------------------------------------------------------


def test_chunked_transform_of_any_iterable_equals_the_list(texts):
    vectorizer = EmbeddingVectorizer(batch_size=64, cache=False).fit(texts)
    expected = EmbeddingVectorizer(cache=False).fit(texts).transform(texts)
    inputs = [(t for t in texts), np.array(texts, dtype=object), pd.Series(texts), texts]
    for data in inputs:
        np.testing.assert_array_equal(vectorizer.transform(data), expected)


def test_generator_is_consumed_one_batch_at_a_time(texts, monkeypatch):
    vectorizer = EmbeddingVectorizer(batch_size=50, cache=False).fit(texts)
    drawn = []

    def counting():
        for text in texts:
            drawn.append(text)
            yield text

    seen = []
    embed = EmbeddingVectorizer._transform_batch

    def spy(self, batch):
        seen.append(len(drawn))
        return embed(self, batch)

    monkeypatch.setattr(EmbeddingVectorizer, "_transform_batch", spy)
    vectorizer.transform(counting())
    assert seen == [min(50 * (k + 1), len(texts)) for k in range(len(seen))]
    assert len(seen) == -(-len(texts) // 50)


def test_two_worker_processes_give_the_same_features(texts):
    one = EmbeddingVectorizer(batch_size=100, cache=False).fit(texts)
    two = EmbeddingVectorizer(batch_size=100, cache=False, n_jobs=2).fit(texts)
    np.testing.assert_array_equal(two.transform(texts), one.transform(texts))


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar_is_shown_when_asked(progress, texts, capsys):
    EmbeddingVectorizer(batch_size=100, cache=False, progress=progress).fit(texts).transform(texts)
    assert ("embedding" in capsys.readouterr().err) is progress


def test_limit_keeps_a_view_of_the_top_words(glove):
    small = lightxfer.load_vectors(limit=1000)
    assert small.vectors.shape == (1000, glove.vector_size)
    assert small.index_to_key == glove.index_to_key[:1000]
    assert np.shares_memory(small.vectors, glove.vectors)
