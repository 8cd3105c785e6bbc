"""The recommended configuration: structure, sklearn contract, accuracy on real samples."""

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
from conftest import read_shared, texts_and_labels
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from lightxfer import EmbeddingVectorizer, SentenceEncoder, SourceBlocks, make_classifier
from lightxfer.ngram_search import (
    DUAL_TOL,
    MAX_REPEATS,
    choose,
    n_validated,
    path_accuracy,
    validation_splits,
)
from lightxfer.recommended import HybridVectorizer

REPO = Path(__file__).resolve().parents[1]


def few_shot(name, per_class, seed=0, test_name=None, n_test=300):
    """``per_class`` training texts of every class and a stratified test sample."""
    table = read_shared(name)
    train = table.groupby("label").sample(n=per_class, random_state=seed)
    test = (
        read_shared(test_name, n_test)
        if test_name
        else table.drop(train.index).sample(n_test, random_state=seed)
    )
    return texts_and_labels(train, test)


@pytest.fixture(scope="module")
def fitted(sst2):
    X, y, _, _ = sst2
    return make_classifier().fit(X, y)


def test_default_is_recommended_pipeline():
    model = make_classifier()
    assert isinstance(model, Pipeline)
    assert isinstance(model.steps[0][1], HybridVectorizer)
    assert isinstance(model.get_params()["embedding__shared"], EmbeddingVectorizer)
    assert model.steps[-1][0] == "head"
    assert isinstance(model.steps[-1][1], LogisticRegression)


@pytest.mark.parametrize(
    ("kwargs", "model", "layer"),
    [
        ({}, HybridVectorizer, EmbeddingVectorizer),
        ({"vectors": "glove-wiki-gigaword-50", "n_jobs": 2}, HybridVectorizer, EmbeddingVectorizer),
        ({"encoder": "all-MiniLM-L6-v2"}, HybridVectorizer, SourceBlocks),
        ({"pooling": "max"}, EmbeddingVectorizer, EmbeddingVectorizer),
        ({"head": "mlp"}, EmbeddingVectorizer, EmbeddingVectorizer),
        ({"C": 10}, EmbeddingVectorizer, EmbeddingVectorizer),
        ({"encoder": "all-MiniLM-L6-v2", "head": "mlp"}, SentenceEncoder, SentenceEncoder),
        ({"encoder": "all-MiniLM-L6-v2", "C": 10}, SentenceEncoder, SentenceEncoder),
    ],
)
def test_make_classifier_rule(kwargs, model, layer):
    # vectors/encoder choose the shared layer; head, pooling or head params the plain model.
    pipeline = make_classifier(**kwargs)
    assert [name for name, _ in pipeline.steps] == ["embedding", "head"]
    embedding = pipeline.named_steps["embedding"]
    assert type(embedding) is model
    assert type(embedding.shared if model is HybridVectorizer else embedding) is layer


@pytest.mark.parametrize("kwargs", [{"vectors": "glove-wiki-gigaword-50"}, {"pooling": "max"}])
def test_encoder_excludes_word_vector_options(kwargs):
    with pytest.raises(ValueError, match="encoder"):
        make_classifier(encoder="all-MiniLM-L6-v2", **kwargs)


def test_fit_chooses_weight_and_predicts(fitted, sst2):
    _, _, X_test, y_test = sst2
    vectorizer = fitted.named_steps["embedding"]
    assert vectorizer.ngram_weight_ in vectorizer.ngram_weights
    assert set(vectorizer.cv_results_["ngram_weight"]) == set(vectorizer.ngram_weights)
    accuracy = vectorizer.cv_results_["accuracy"]
    assert len(accuracy) == len(vectorizer.ngram_weights) * len(vectorizer.Cs)
    chosen = (vectorizer.cv_results_["ngram_weight"] == vectorizer.ngram_weight_) & np.isclose(
        vectorizer.cv_results_["C"], vectorizer.scale_**2
    )
    assert accuracy[chosen] == np.nanmax(
        accuracy[vectorizer.cv_results_["ngram_weight"] == vectorizer.ngram_weight_]
    )
    assert fitted.score(X_test, y_test) > 0.6


def test_feature_names_match_columns(fitted, sst2):
    vectorizer = fitted.named_steps["embedding"]
    features = vectorizer.transform(sst2[2][:5])
    names = vectorizer.get_feature_names_out()
    assert features.shape[1] == len(names)
    assert names[0] == "mean_0"


def test_fixed_weight_zero_is_frozen_vectors_only(sst2):
    X = sst2[0][:50]
    features = HybridVectorizer(ngram_weight=0).fit_transform(X)
    assert features.shape == (50, 50)


def test_weight_scales_ngram_block(sst2):
    X = sst2[0][:50]
    one = HybridVectorizer(ngram_weight=1.0).fit_transform(X)
    two = HybridVectorizer(ngram_weight=2.0).fit_transform(X)
    np.testing.assert_allclose(two[:, :50].toarray(), one[:, :50].toarray())
    np.testing.assert_allclose(two[:, 50:].toarray(), 2 * one[:, 50:].toarray(), rtol=1e-6)


def test_char_ngrams_cover_words_the_vocabulary_lacks(sst2):
    X = sst2[0][:200]
    vectorizer = HybridVectorizer(ngram_weight=1.0).fit(X)
    names = vectorizer.get_feature_names_out()
    row = vectorizer.transform(["sooooo goood"]).toarray()[0]
    words = np.char.startswith(names.astype(str), "words__")
    chars = np.char.startswith(names.astype(str), "chars__")
    assert not row[words].any()  # neither misspelling is a training word
    assert row[chars].any()  # but " go", "ood", ... are training fragments
    # Each part has unit rows and weight 1/sqrt(2) in the block.
    np.testing.assert_allclose(np.sum(row[chars] ** 2), 0.5, rtol=1e-5)


def test_char_ngrams_can_be_left_out(sst2):
    X = sst2[0][:100]
    vectorizer = HybridVectorizer(ngram_weight=1.0, char_ngram_range=None).fit(X)
    names = vectorizer.get_feature_names_out().astype(str)
    assert not any(name.startswith("chars__") for name in names)
    words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+").fit(X)
    assert len(names) == 50 + len(words.vocabulary_)


def test_search_fits_every_C_of_a_multiclass_path():
    # Regression: a warm-started path once returned the first C's model for every C.
    X, y, _, _ = few_shot("trec_train", 40, 0, "trec_test", 10)
    features = TfidfVectorizer().fit_transform(X)
    splits = [(np.arange(0, 240, 2), np.arange(1, 240, 2))]
    scores = path_accuracy(features, y, splits, [0.01, 100.0])
    for C, score in zip([0.01, 100.0], scores):
        model = LogisticRegression(solver="liblinear", C=C, dual=True, tol=DUAL_TOL, random_state=0)
        model = OneVsRestClassifier(model)
        expected = model.fit(features[::2], y[::2]).score(features[1::2], y[1::2])
        # liblinear's own one-vs-rest shuffles from one generator, not one per class.
        assert score == pytest.approx(expected, abs=2 / 120)


@pytest.mark.parametrize(("name", "n"), [("sst2_train", 600), ("trec_train", 2500)])
def test_loose_tolerance_chooses_as_a_tight_one(monkeypatch, name, n):
    # k-fold CV, then the holdout (where DUAL_TOL=1 already changes TREC's choice).
    X, y = texts_and_labels(read_shared(name, n))
    loose = HybridVectorizer().fit(X, y)
    monkeypatch.setattr("lightxfer.ngram_search.DUAL_TOL", 1e-4)
    tight = HybridVectorizer().fit(X, y)
    assert (loose.ngram_weight_, loose.scale_) == (tight.ngram_weight_, tight.scale_)


def test_parallel_search_matches_sequential(sst2):
    X, y = sst2[0][:150], sst2[1][:150]
    one = HybridVectorizer().fit(X, y).cv_results_["accuracy"]
    two = HybridVectorizer(n_jobs=2).fit(X, y).cv_results_["accuracy"]
    np.testing.assert_array_equal(one, two)


def test_search_is_repeatable_in_a_users_threads(sst2):
    # liblinear's shuffle generator is process-wide: concurrent fits must take turns.
    X, y = sst2[0][:300], sst2[1][:300]
    expected = HybridVectorizer().fit(X, y).cv_results_["accuracy"]
    fits = Parallel(n_jobs=2, backend="threading")(
        delayed(HybridVectorizer().fit)(X, y) for _ in range(4)
    )
    for fit in fits:
        np.testing.assert_array_equal(fit.cv_results_["accuracy"], expected)


def test_search_shows_progress_when_asked(sst2, capsys):
    HybridVectorizer(progress=True).fit(sst2[0][:60], sst2[1][:60])
    assert "searching" in capsys.readouterr().err
    HybridVectorizer().fit(sst2[0][:60], sst2[1][:60])  # a short search stays quiet
    assert "searching" not in capsys.readouterr().err


@pytest.mark.parametrize("n", [120, 2400])  # k-fold, then the holdout of large data
def test_a_label_seen_once_stays_in_every_training_part(n):
    y = np.array(["neg", "pos"] * (n // 2) + ["other"])
    splits = validation_splits(y)
    assert splits is not None
    for train, valid in splits:
        assert n in train and n not in valid
        assert len(np.intersect1d(train, valid)) == 0
        assert len(train) + len(valid) == n + 1


def test_small_data_repeats_the_folds_with_new_shuffles():
    y = np.array(["neg", "pos"] * 24)
    splits = validation_splits(y)
    assert len(splits) == 3 * MAX_REPEATS
    for repeat in range(MAX_REPEATS):  # each repeat validates every text once
        valid = np.concatenate([valid for _, valid in splits[3 * repeat : 3 * repeat + 3]])
        assert sorted(valid) == list(range(48))
    assert len({tuple(sorted(valid)) for _, valid in splits}) == len(splits)
    assert n_validated(splits) == 48  # the standard error counts each text once
    assert len(validation_splits(np.array(["neg", "pos"] * 600))) == 3  # enough: once


def test_one_standard_error_rule_holds_up_to_the_holdout():
    # 1,500 texts are validated by 3-fold CV: small data, so the lightest weight within
    # one standard error (here 0.0101) of the best is kept.
    splits = validation_splits(np.array(["neg", "pos"] * 750))
    assert choose([0.0, 1.0], [1.0], np.array([[0.80], [0.81]]), splits) == (0.0, 1.0)
    splits = validation_splits(np.array(["neg", "pos"] * 1000))  # a holdout: the best
    assert choose([0.0, 1.0], [1.0], np.array([[0.80], [0.81]]), splits) == (1.0, 1.0)


def test_a_label_seen_once_keeps_the_search_on(sst2):
    X = np.append(sst2[0][:120], "an utterly unique complaint about the popcorn")
    y = np.append(sst2[1][:120], "other")
    model = make_classifier().fit(X, y)
    assert "accuracy" in model.named_steps["embedding"].cv_results_
    assert "other" in model.classes_


@pytest.mark.parametrize(
    ("X", "parts"),
    [
        (["a", "b", "c"], ["words"]),  # no character n-gram occurs twice
        (["", " ", ""], []),  # no term at all
    ],
)
def test_texts_without_terms_fit_on_what_they_have(X, parts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make_classifier().fit(X, [0, 1, 2])
    # Only texts without any token are worth a warning (from the embedding layer).
    assert any("no tokens" in str(w.message) for w in caught) == (not parts)
    vectorizer = model.named_steps["embedding"]
    assert list(vectorizer.ngram_vectorizers_) == parts
    assert model.predict(["a b"]).shape == (1,)


def test_bad_char_ngram_range_is_not_swallowed(sst2):
    with pytest.raises(ValueError, match="ngram_range"):
        HybridVectorizer(char_ngram_range=(5, 2)).fit(sst2[0][:20])


def test_empty_and_unknown_texts_transform(fitted):
    features = fitted.named_steps["embedding"].transform(["", "qqqxz zzzqq"])
    assert features.shape[0] == 2
    assert np.isfinite(features.toarray()).all()
    assert len(fitted.predict(["", "qqqxz zzzqq"])) == 2


def test_clone_refits_identically(fitted, sst2):
    X, y, X_test, _ = sst2
    again = clone(fitted).fit(X, y)
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))


def test_skops_save_load_round_trip(fitted, sst2, tmp_path):
    import lightxfer.persistence

    path = lightxfer.persistence.save(fitted, tmp_path / "model.skops")
    loaded = lightxfer.persistence.load(path)
    np.testing.assert_array_equal(loaded.predict(sst2[2]), fitted.predict(sst2[2]))


def test_pickle_round_trip_predicts_identically(fitted, sst2):
    blob = pickle.dumps(fitted)
    assert len(blob) < 20_000_000  # vectors travel by reference, not as a 80 MB matrix
    restored = pickle.loads(blob)
    X_test = sst2[2]
    np.testing.assert_array_equal(restored.predict(X_test), fitted.predict(X_test))


def test_grid_search_over_vectorizer_and_head(sst2):
    X, y, _, _ = sst2
    search = GridSearchCV(
        make_classifier(),
        {"embedding__ngram_weight": [0.0, 1.0], "head__C": [1.0]},
        cv=2,
    ).fit(X[:200], y[:200])
    assert search.best_params_["embedding__ngram_weight"] in (0.0, 1.0)
    assert search.predict(X[:3]).shape == (3,)


@pytest.mark.parametrize("holdout_from", [10_000, 100])  # k-fold CV, then a holdout
def test_weight_rule_depends_on_how_much_is_validated(monkeypatch, holdout_from):
    # Small CV keeps the lightest weight within one standard error; a holdout the best.
    monkeypatch.setattr("lightxfer.ngram_search.HOLDOUT_FROM", holdout_from)
    X, y, _, _ = few_shot("trec_train", 40, 0, "trec_test", 10)
    vectorizer = HybridVectorizer().fit(X, y)
    results = vectorizer.cv_results_
    scored = ~np.isnan(results["accuracy"])  # the walk skips some weights
    weights = np.unique(results["ngram_weight"][scored])
    best = np.array([np.nanmax(results["accuracy"][results["ngram_weight"] == w]) for w in weights])
    n_valid = len(y) if holdout_from > len(y) else int(np.ceil(0.25 * len(y)))
    tolerance = np.sqrt(best.max() * (1 - best.max()) / n_valid) if holdout_from > len(y) else 0
    assert vectorizer.ngram_weight_ == weights[np.flatnonzero(best >= best.max() - tolerance)[0]]


def test_tiny_data_fits_without_cv():
    model = make_classifier().fit(["a good film", "a bad film"], ["pos", "neg"])
    assert model.named_steps["embedding"].ngram_weight_ == 0.0
    assert set(model.predict(["good", "bad"])) <= {"pos", "neg"}


def test_beats_tfidf_on_few_shot_sst2():
    scores = {"recommended": [], "tfidf": []}
    for seed in range(2):
        X, y, X_test, y_test = few_shot("sst2_train", 16, seed, "sst2_test", 400)
        scores["recommended"].append(make_classifier().fit(X, y).score(X_test, y_test))
        tfidf = Pipeline(
            [("tfidf", TfidfVectorizer(ngram_range=(1, 2))), ("lr", LogisticRegression())]
        )
        scores["tfidf"].append(tfidf.fit(X, y).score(X_test, y_test))
    assert np.mean(scores["recommended"]) > np.mean(scores["tfidf"]) + 0.02


def test_uses_ngrams_where_vectors_miss_the_class():
    # TREC question types hinge on question words that pooled vectors blur.
    X, y, X_test, y_test = few_shot("trec_train", 60, 0, "trec_test", 300)
    model = make_classifier().fit(X, y)
    frozen = make_classifier(pooling="mean").fit(X, y)
    assert model.named_steps["embedding"].ngram_weight_ > 0
    assert model.score(X_test, y_test) > frozen.score(X_test, y_test)


def test_benchmark_quick_run(tmp_path):
    # The CI smoke run of the benchmark on two tasks, without fastText (optional extra).
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "accuracy.py"),
        "--quick",
        "--no-fasttext",
        "--no-encoder",  # its rows are measured by the full run (benchmarks/README.md)
        "--out",
        str(tmp_path),
        "--tasks",
        "sst2",
        "trec",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    result = json.loads((tmp_path / "accuracy.json").read_text())
    assert result["meta"]["complete"]
    methods = {row["method"] for row in result["rows"]}
    assert {"TF-IDF 1-2 grams + LR", "lightxfer recommended: make_classifier()"} <= methods
    assert "## Accuracy benchmark" in (tmp_path / "accuracy.md").read_text()
    assert (tmp_path / "accuracy.png").stat().st_size > 0


def test_selection_benchmark_on_trec(tmp_path):
    # The large-data weight rule, replayed on TREC: the shipped pick scores its held-out
    # texts, and it is never lighter than the one-SE rule's.
    script = REPO / "benchmarks" / "selection.py"
    command = [sys.executable, str(script), "--out", str(tmp_path)]
    subprocess.run([*command, "--tasks", "trec"], check=True, capture_output=True, timeout=600)
    rows = {row["rule"]: row for row in json.loads((tmp_path / "selection.json").read_text())}
    shipped, one_se = rows["best weight (shipped)"], rows["one-SE rule"]
    assert shipped["ngram_weight"] >= one_se["ngram_weight"] > 0
    assert shipped["accuracy"] > rows["frozen vectors only"]["accuracy"] + 10
    assert "| best weight (shipped) |" in (tmp_path / "selection.md").read_text()


def test_small_data_search_benchmark_on_trec(tmp_path):
    # One draw of 8 questions per class: the default rules, each scored on held-out
    # training texts and timed.
    script = REPO / "benchmarks" / "small_data_search.py"
    command = [sys.executable, str(script), "--out", str(tmp_path), "--no-encoder"]
    command += ["--tasks", "trec", "--sizes", "8", "--seeds", "1"]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    rows = json.loads((tmp_path / "small_data_search.json").read_text())
    assert {row["rule"] for row in rows} == {
        "shipped search (walk)",
        "every weight",
        "frozen + LR-CV",
    }
    assert all(row["layer"] == "GloVe" and 20 < row["accuracy"] <= 100 for row in rows)
    assert all(row["seconds"] > 0 for row in rows)
    text = (tmp_path / "small_data_search.md").read_text()
    assert "| GloVe | shipped search (walk) | 8 |" in text
    assert "shipped search (walk) minus every weight" in text


# -- scikit-learn conformance (issue 18: items 1, 2 and 5) -----------------------------------


def test_global_pandas_output_leaves_the_sparse_features_and_the_pipeline_fits(sst2):
    # Like TfidfVectorizer, the sparse vectorizer ignores transform_output="pandas".
    X, y = sst2[0][:60], sst2[1][:60]
    with sklearn.config_context(transform_output="pandas"):
        model = make_classifier().fit(X, y)
        assert sparse.issparse(model.named_steps["embedding"].transform(X[:3]))
        assert model.predict(X[:3]).shape == (3,)


def test_asking_for_pandas_output_is_declined_in_one_line():
    # Like scikit-learn's sparse encoders: a clear error, not NotFittedError during fit.
    with pytest.raises(ValueError, match="sparse features, which have no pandas form"):
        make_classifier().set_output(transform="pandas")
    assert make_classifier().set_output(transform="default") is not None


def test_fits_on_one_text():
    # No character n-gram can occur in two texts of one: that part is left out.
    vectorizer = HybridVectorizer().fit(["one text"])
    assert list(vectorizer.ngram_vectorizers_) == ["words"]
    assert vectorizer.transform(["one more text"]).shape == (1, 50 + 2 + 1)


def test_no_texts_give_an_empty_matrix(fitted):
    vectorizer = fitted.named_steps["embedding"]
    features = vectorizer.transform([])
    assert features.shape == (0, len(vectorizer.get_feature_names_out()))
    assert features.shape == (0, vectorizer.transform(["a"]).shape[1])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ngram_weight": "heavy"}, "ngram_weight"),
        ({"scale": -1.0}, "scale"),
        ({"Cs": ()}, "Cs"),
        ({"ngram_weights": [0.5, -1]}, "ngram_weights"),
        ({"cv": 1}, "cv"),
        ({"shared": "glove-wiki-gigaword-50"}, "shared"),
        ({"shared": EmbeddingVectorizer(), "pooling": "max"}, "shared"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        HybridVectorizer(**params).fit(["a good film", "a bad film"], [1, 0])


def test_shared_layer_is_a_nested_parameter(sst2):
    # Deep params reach the shared layer; fit works on a clone of it.
    model = make_classifier().set_params(embedding__shared__pooling="max")
    model.fit(sst2[0][:60], sst2[1][:60])
    vectorizer = model.named_steps["embedding"]
    assert vectorizer.shared.pooling == "max" and not hasattr(vectorizer.shared, "vectors_")
    assert vectorizer.get_feature_names_out()[0] == "max_0"


def test_recommended_on_the_encoder_keeps_its_few_shot_lead():
    # 8 TREC questions per class: the n-grams stay light, the encoder carries the model.
    X, y, X_test, y_test = few_shot("trec_train", 8, 0, "trec_test", 200)
    model = make_classifier(encoder="all-MiniLM-L6-v2").fit(X, y)
    plain = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg").fit(X, y)
    glove = make_classifier().fit(X, y)
    names = model.named_steps["embedding"].get_feature_names_out()
    assert names[0] == "all_minilm_l6_v2_0"
    assert model.score(X_test, y_test) >= plain.score(X_test, y_test) - 0.02
    assert model.score(X_test, y_test) > glove.score(X_test, y_test) + 0.05


def test_refit_without_search_keeps_no_stale_results(sst2):
    # Issue 18 item 4: fitted state of an earlier fit (or another object) must not leak.
    X, y = sst2[0][:60], sst2[1][:60]
    vectorizer = HybridVectorizer().fit(X, y)
    assert hasattr(vectorizer, "cv_results_")
    assert not hasattr(vectorizer.set_params(ngram_weight=1.0).fit(X), "cv_results_")
    assert not hasattr(HybridVectorizer(ngram_weight=1.0).fit(X), "cv_results_")
