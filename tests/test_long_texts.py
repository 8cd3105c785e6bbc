"""Long texts through SentenceEncoder: chunks that fit MiniLM, pooled; short texts unchanged."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lightxfer import SentenceEncoder
from lightxfer.shared import binding, chunking
from lightxfer.shared.feature_cache import FEATURE_CACHE

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOM = 254  # word pieces of text in a chunk: MiniLM's 256 less [CLS] and [SEP]


@pytest.fixture(scope="session")
def tokenizer(minilm):
    return minilm.model.tokenizer


def pieces(tokenizer, text):
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


@pytest.fixture(scope="session")
def article(sst2):
    """SST-2 training sentences run together: about 700 word pieces, 30 sentences."""
    return " ".join(sst2[0][:30])


def test_chunks_fit_the_model_and_are_cut_between_sentences(tokenizer, article):
    (plan,) = chunking.plan_texts([article], tokenizer, 256, max_chunks=None)
    assert len(plan.chunks) == 3 and plan.cut == 0
    assert [pieces(tokenizer, chunk) for chunk in plan.chunks] == list(plan.sizes)
    assert all(size <= ROOM for size in plan.sizes)
    position = 0
    for chunk in plan.chunks:  # substrings, in order, each ending a sentence
        position = article.index(chunk, position)
        assert chunk.endswith(" .") or chunk.endswith("!") or chunk.endswith("?")
    assert article.endswith(plan.chunks[-1])
    covered = set()
    for chunk in plan.chunks:
        start = article.index(chunk)
        covered.update(range(start, start + len(chunk)))
    assert covered >= {i for i, c in enumerate(article) if not c.isspace()}  # all of it is read


def test_a_text_at_the_limit_is_one_chunk_and_one_piece_more_is_two(tokenizer):
    words = " ".join(f"w{i}" for i in range(400))  # no sentence ends: cut between words
    ids = tokenizer(words, add_special_tokens=False, return_offsets_mapping=True)
    at_limit = words[: ids["offset_mapping"][ROOM - 1][1]]
    over = words[: ids["offset_mapping"][ROOM][1]]
    assert pieces(tokenizer, at_limit) == ROOM and pieces(tokenizer, over) == ROOM + 1
    fits, cut = chunking.plan_texts([at_limit, over], tokenizer, 256, max_chunks=None)
    assert fits is None  # encoded as it is
    assert len(cut.chunks) == 2 and max(cut.sizes) <= ROOM
    first, second = cut.chunks
    assert over.startswith(first) and over.endswith(second)
    overlap = len(first) + len(second) - len(over)  # the words both chunks hold
    assert overlap > 0 and pieces(tokenizer, over[len(first) - overlap : len(first)]) <= 16
    assert not first.endswith(" ") and not second.startswith(" ")
    (word,) = chunking.plan_texts(["-" * 600], tokenizer, 256, max_chunks=None)
    assert word.sizes == (254, 254, 124)  # no word boundary: by word pieces, 16 overlapping


def test_a_huge_text_is_tokenized_only_as_far_as_the_cap_reads(tokenizer, article, monkeypatch):
    seen = []
    original = chunking._tokenize
    monkeypatch.setattr(
        chunking,
        "_tokenize",
        lambda tok, texts: seen.extend(map(len, texts)) or original(tok, texts),
    )
    huge = article * 3000  # 2 MB
    (plan,) = chunking.plan_texts([huge], tokenizer, 256, max_chunks=2)
    assert len(plan.chunks) == 2 and plan.cut > len(huge) - 3000
    assert sum(seen) < 20_000


def test_texts_within_the_limit_are_encoded_as_before_bit_for_bit(minilm, sst2):
    texts = list(sst2[2][:40])
    expected = minilm.model.encode(texts, batch_size=32, convert_to_numpy=True)
    for cache in (False, True):
        FEATURE_CACHE.clear()
        chunked = SentenceEncoder(cache=cache).fit(texts).transform(texts)
        np.testing.assert_array_equal(chunked, expected)
        truncated = SentenceEncoder(cache=cache, long_texts="truncate").fit(texts).transform(texts)
        np.testing.assert_array_equal(chunked, truncated)


def test_a_long_text_is_read_to_its_end_and_its_chunks_pooled(tokenizer, article):
    endings = [article + " But the ending is wonderful !", article + " The ending is dreadful ."]
    encoder = SentenceEncoder().fit(endings)
    X = encoder.transform(endings)
    assert not np.allclose(X[0], X[1])  # truncation gives both the same row
    with pytest.warns(UserWarning, match="2 of 2 training texts"):
        truncating = clone(encoder).set_params(long_texts="truncate").fit(endings)
    truncated = truncating.transform(endings)
    np.testing.assert_array_equal(truncated[0], truncated[1])
    (plan,) = chunking.plan_texts(endings[:1], tokenizer, 256, max_chunks=32)
    rows = encoder.transform(list(plan.chunks))
    weights = np.array(plan.sizes) / sum(plan.sizes)
    mean = weights @ rows
    np.testing.assert_allclose(X[0], mean / np.linalg.norm(mean), atol=1e-6)  # unit, as MiniLM's
    maximum = clone(encoder).set_params(chunk_pooling="max").fit(endings).transform(endings[:1])
    np.testing.assert_allclose(maximum[0], rows.max(axis=0), atol=1e-6)


def test_mean_max_pooling_doubles_the_features_and_names_them(article):
    texts = [article, "A short one ."]
    encoder = SentenceEncoder(chunk_pooling="mean+max").fit(texts)
    X = encoder.transform(texts)
    names = encoder.get_feature_names_out()
    assert X.shape == (2, 768) == (2, len(names))
    assert [names[0], names[383], names[384], names[-1]] == [
        "all_minilm_l6_v2_mean_0", "all_minilm_l6_v2_mean_383",
        "all_minilm_l6_v2_max_0", "all_minilm_l6_v2_max_383",
    ]  # fmt: skip
    np.testing.assert_array_equal(X[1, :384], X[1, 384:])  # one chunk: its mean is its max
    assert not np.allclose(X[0, :384], X[0, 384:])
    frame = encoder.set_output(transform="pandas").transform(texts)
    assert list(frame.columns) == list(names)
    with pytest.warns(UserWarning, match="1 of 2 training texts"):
        plain = encoder.set_params(long_texts="truncate").fit(texts)
    assert len(plain.get_feature_names_out()) == plain.transform(texts).shape[1] == 384


def test_the_cap_cuts_a_text_and_fit_warns_once_transform_never(tokenizer, article, capsys):
    long = article + " " + article  # 6 chunks
    texts = [long, long + " And a different ending .", "short ."]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = SentenceEncoder(max_chunks=2).fit(texts)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "2 of 3 training texts" in message and "max_chunks=2" in message
    plans = chunking.plan_texts(texts[:2], tokenizer, 256, max_chunks=2)
    assert plans[1].cut == plans[0].cut + 25 > len(article)
    lost, total = plans[0].cut + plans[1].cut, len(texts[0]) + len(texts[1])
    assert f"{lost:,} of their {total:,} characters ({lost / total:.0%})" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = encoder.transform(texts)
        SentenceEncoder().fit(texts[1:])  # nothing cut by the default cap
    assert caught == [] and capsys.readouterr() == ("", "")
    np.testing.assert_array_equal(X[0], X[1])  # past the cap, the different ending is not read
    with pytest.warns(UserWarning, match="2 of 3 training texts .* long_texts='chunk' reads"):
        SentenceEncoder(long_texts="truncate").fit(texts)


def test_a_passage_shared_by_texts_is_encoded_once(tokenizer, article, encode_calls):
    FEATURE_CACHE.clear()
    texts = [article + " Yet it ends well .", article + " And it ends badly .", "short ."]
    encoder = SentenceEncoder().fit(texts)
    X = encoder.transform(texts)
    encoded = [text for call in encode_calls for text in call]
    chunks = [c for plan in chunking.plan_texts(texts[:2], tokenizer, 256, max_chunks=32)
              for c in plan.chunks]  # fmt: skip
    assert len(set(chunks)) < len(chunks)  # the texts share their first chunks
    assert sorted(encoded) == sorted({*chunks, "short ."})  # each distinct chunk once
    encoder.transform(texts[::-1])
    assert sum(map(len, encode_calls)) == len(encoded)  # all cached now, plans included
    uncached = clone(encoder).set_params(cache=False).fit(texts).transform(texts)
    np.testing.assert_allclose(uncached, X, atol=1e-6)


def test_bad_long_text_parameters_are_rejected():
    for params in ({"long_texts": "split"}, {"chunk_pooling": "sum"}, {"max_chunks": 0}):
        with pytest.raises(ValueError, match=next(iter(params))):
            SentenceEncoder(**params).fit(["a text"])


def test_dask_and_lightxfer_embed_read_long_texts_the_same_way(article, tmp_path):
    db = pytest.importorskip("dask.bag")
    from lightxfer import distributed
    from lightxfer.cli.commands.embed import read_features
    from lightxfer.cli.entrypoint import main as cli

    texts = [article, "A short one .", article + " With its own end ."]
    encoder = SentenceEncoder().fit(texts)
    expected = encoder.transform(texts)
    features = distributed.transform(encoder, db.from_sequence(texts, npartitions=2))
    np.testing.assert_allclose(features.compute(scheduler="sync"), expected, atol=1e-6)
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "texts.csv", index=False)
    argv = ["embed", "--input", str(tmp_path / "texts.csv"), "--output", str(tmp_path / "out")]
    assert cli([*argv, "--encoder", "all-MiniLM-L6-v2", "--no-progress"]) == 0
    np.testing.assert_allclose(read_features(tmp_path / "out"), expected, atol=1e-6)


def test_a_model_saved_before_long_texts_keeps_truncating(article):
    state = SentenceEncoder().fit(["a text"]).__getstate__()
    for name in ("long_texts", "chunk_pooling", "max_chunks"):
        del state[name]  # as in a file written before they existed
    old = binding.unpickle(SentenceEncoder, state)
    assert old.get_params()["long_texts"] == "truncate"
    truncating = SentenceEncoder(long_texts="truncate").fit(["a text"])
    np.testing.assert_array_equal(old.transform([article]), truncating.transform([article]))
