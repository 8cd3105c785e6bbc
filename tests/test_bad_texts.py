"""Point 1 of issue 6: every kind of text input either works or names what is wrong."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightxfer import EmbeddingVectorizer, make_classifier

DIM = 50


@pytest.fixture(scope="module")
def vectorizer(glove):
    return EmbeddingVectorizer(glove, cache=False).fit(["a good film", "a bad film"])


def _check_features(features, n):
    assert features.shape == (n, DIM)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


@pytest.mark.parametrize(
    "texts, error, match",
    [
        (["fine", None], ValueError, r"position 1 is a missing value \(NoneType\)"),
        ([float("nan")], ValueError, r"position 0 is a missing value \(float\)"),
        ([np.float32("nan")], ValueError, r"position 0 is a missing value \(float32\)"),
        (["a", "b", 3], TypeError, r"position 2 is a number \(int\)"),
        ([2.5], TypeError, r"position 0 is a number \(float\)"),
        ([b"bytes"], TypeError, r"position 0 is bytes: decode"),
        ([["nested", "list"]], TypeError, r"position 0 is a list"),
        ("a bare string", TypeError, r"single str; wrap it in a list"),
        (b"bare bytes", TypeError, r"single bytes"),
        (None, TypeError, r"got NoneType"),
        (42, TypeError, r"got int"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, r"shape \(2, 2\)"),
        (pd.Series(["ok", None]), ValueError, r"position 1 is a missing value"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError, r"DataFrame with 2 columns"),
    ],
)
def test_bad_texts_raise_naming_position_and_type(vectorizer, texts, error, match):
    with pytest.raises(error, match=match):
        vectorizer.transform(texts)


def test_position_counts_across_batches(glove):
    vectorizer = EmbeddingVectorizer(glove, batch_size=3, cache=False).fit(["a"])
    with pytest.raises(ValueError, match="position 7 "):
        vectorizer.transform(text for text in ["good"] * 7 + [None])


def test_fit_rejects_bad_and_empty_input(glove):
    with pytest.raises(ValueError, match="empty list"):
        EmbeddingVectorizer(glove).fit([])
    with pytest.raises(TypeError, match="position 1"):
        EmbeddingVectorizer(glove).fit(["good", 1])


@pytest.mark.parametrize(
    "texts",
    [
        ["", "   ", "\n\t "],
        ["😀🎉", "привет мир", "你好世界", "مرحبا", "good 好 😀 film"],
        ["\ud800 lone surrogate", "nul\x00byte", "\u200b zero width"],
        pd.Series(["good", "bad"], index=[10, 3]),
        pd.Series(["good", "bad"], dtype="string"),
        np.array(["good", "bad"], dtype=object),
        np.array(["good", "bad"]),  # numpy str_ items
        np.array([["good"], ["bad"]], dtype=object),  # one column
        pd.DataFrame({"text": ["good", "bad"]}),
    ],
    ids=[
        "blank",
        "scripts",
        "odd-codepoints",
        "series",
        "string-series",
        "object-array",
        "str-array",
        "column",
        "one-column-frame",
    ],
)
def test_odd_but_valid_texts_give_finite_features(vectorizer, texts):
    _check_features(vectorizer.transform(texts), len(texts))


def test_text_without_known_word_is_a_zero_row(vectorizer):
    features = vectorizer.transform(["", "zzqqxx qqzzyy", "good"])
    assert not features[:2].any()
    assert features[2].any()


def test_empty_input_gives_empty_features(vectorizer):
    _check_features(vectorizer.transform([]), 0)
    _check_features(vectorizer.transform(iter([])), 0)


def test_generator_equals_list(vectorizer):
    texts = ["good film", "bad film", "", "a long and tedious one"]
    np.testing.assert_array_equal(
        vectorizer.transform(text for text in texts), vectorizer.transform(texts)
    )


def test_one_megabyte_document(vectorizer):
    document = "the film was good but far too long . " * 28_000
    assert len(document) > 1_000_000
    features = vectorizer.transform([document, "the film was good but far too long ."])
    _check_features(features, 2)
    # Mean pooling of a repeated sentence is the mean of the sentence itself (up to
    # float32 accumulation over 250k tokens, ~5e-4 relative today).
    np.testing.assert_allclose(features[0], features[1], rtol=0, atol=2e-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=20))
def test_any_unicode_list_gives_finite_deterministic_features(vectorizer, texts):
    features = vectorizer.transform(texts)
    _check_features(features, len(texts))
    np.testing.assert_array_equal(features, vectorizer.transform(list(texts)))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=50), st.none(), st.integers(), st.floats(), st.binary()),
        min_size=1,
        max_size=10,
    )
)
def test_mixed_inputs_work_or_name_the_first_bad_item(vectorizer, items):
    bad = [i for i, item in enumerate(items) if not isinstance(item, str)]
    if not bad:
        _check_features(vectorizer.transform(items), len(items))
        return
    with pytest.raises((TypeError, ValueError), match=rf"position {bad[0]} is "):
        vectorizer.transform(items)


@pytest.mark.parametrize("build", [make_classifier, lambda: make_classifier(head="logreg")])
def test_labels_mixing_numbers_and_text_are_refused_before_fitting(build):
    # NumPy would turn [1, "1", 2, "a"] into four strings, merging the classes 1 and "1".
    with pytest.raises(TypeError, match=r"labels mix numbers and text \(e\.g\. 1 and '1'\)"):
        build().fit(["a good film", "a bad film", "fine", "dull"], [1, "1", 2, "a"])
