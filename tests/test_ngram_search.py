"""The recommended model's search (lightxfer.ngram_search): fast paths score as the plain one."""

import numpy as np
import pytest
from conftest import read_shared, texts_and_labels
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from lightxfer import EmbeddingVectorizer
from lightxfer.ngram_search import CS, search, search_block_weight, validation_splits
from lightxfer.recommended import HybridVectorizer


@pytest.mark.parametrize(("name", "n"), [("sst2_train", 120), ("trec_train", 150)])
def test_block_weight_search_scores_as_stacking_each_weight(glove, name, n):
    # Cutting each split once and rescaling the block must not change a single score.
    X, y = texts_and_labels(read_shared(name, n))
    fixed = sparse.csr_matrix(EmbeddingVectorizer(glove).fit_transform(X))
    # Unsorted column indices, as TfidfVectorizer leaves them.
    block = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), dtype=np.float32)
    block = block.fit_transform(X)
    assert not block.has_sorted_indices
    weights, splits = [0.0, 0.5, 2.0], validation_splits(y)
    plain = search(
        lambda w: sparse.hstack([fixed, block * w], format="csr") if w else fixed,
        weights,
        y,
        splits,
        CS,
    )
    np.testing.assert_array_equal(search_block_weight(fixed, block, weights, y, splits, CS), plain)
    assert not block.has_sorted_indices  # the caller's matrix is left alone


def test_the_private_liblinear_call_has_the_signature_the_search_uses():
    # setup.py pins scikit-learn to the versions checked (1.6.0-1.9.1); lifting the pin
    # must not silently pass arguments to the wrong parameters.
    import inspect

    from sklearn.svm._base import _fit_liblinear

    names = list(inspect.signature(_fit_liblinear).parameters)
    assert names[:12] == [
        "X",
        "y",
        "C",
        "fit_intercept",
        "intercept_scaling",
        "class_weight",
        "penalty",
        "dual",
        "verbose",
        "max_iter",
        "tol",
        "random_state",
    ]


@pytest.mark.parametrize(
    ("name", "n", "holdout_from"),
    [("sst2_train", 900, 2000), ("trec_train", 600, 2000), ("sst2_train", 900, 100)],
)
def test_the_walk_chooses_as_scoring_every_weight(monkeypatch, name, n, holdout_from):
    # k-fold CV (lightest weight within a standard error), then a holdout (best weight).
    monkeypatch.setattr("lightxfer.ngram_search.HOLDOUT_FROM", holdout_from)
    X, y = texts_and_labels(read_shared(name, n))
    walked = HybridVectorizer().fit(X, y)
    monkeypatch.setattr("lightxfer.ngram_search.WALK", False)
    every = HybridVectorizer().fit(X, y)
    assert (walked.ngram_weight_, walked.scale_) == (every.ngram_weight_, every.scale_)
    scored = ~np.isnan(walked.cv_results_["accuracy"])
    np.testing.assert_array_equal(
        walked.cv_results_["accuracy"][scored], every.cv_results_["accuracy"][scored]
    )
    skipped = set(every.cv_results_["ngram_weight"]) - set(
        walked.cv_results_["ngram_weight"][scored]
    )
    assert skipped  # and it scored fewer weights
