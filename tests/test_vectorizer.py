"""EmbeddingVectorizer: pooling, edge-case texts, scikit-learn API, vectors by reference."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from gensim.models import Word2Vec
from gensim.test.utils import common_texts
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

import lightxfer
from lightxfer import EmbeddingVectorizer, make_classifier
from lightxfer.exceptions import VectorsMismatchError
from lightxfer.shared.pooling import POOLINGS

TEXTS = ["A good film .", "a BAD, boring film!", "", "   ", "qwzxv plokij", "the the the"]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_every_pooling_gives_finite_float32_rows(pooling, sst2):
    X = EmbeddingVectorizer(pooling=pooling).fit(sst2[0]).transform(TEXTS)
    assert X.shape == (len(TEXTS), 50)
    assert X.dtype == np.float32
    assert np.isfinite(X).all()


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "min", "tfidf"])
def test_empty_and_unknown_texts_give_zero_rows(pooling, sst2):
    X = EmbeddingVectorizer(pooling=pooling).fit(sst2[0]).transform(TEXTS)
    assert not X[2:5].any()
    assert X[0].any() and X[1].any()


def test_mean_max_min_agree_with_numpy_on_one_text(glove):
    X = EmbeddingVectorizer(pooling=["mean", "max", "min", "sum"]).fit(TEXTS).transform(TEXTS)
    rows = glove[["a", "good", "film", "."]]
    expected = np.concatenate([rows.mean(0), rows.max(0), rows.min(0), rows.sum(0)])
    np.testing.assert_allclose(X[0], expected, rtol=1e-5, atol=1e-6)


def test_list_pooling_concatenates_single_poolings(sst2):
    both = EmbeddingVectorizer(pooling=["tfidf", "max"]).fit(sst2[0]).transform(sst2[2])
    tfidf = EmbeddingVectorizer(pooling="tfidf").fit(sst2[0]).transform(sst2[2])
    maximum = EmbeddingVectorizer(pooling="max").fit(sst2[0]).transform(sst2[2])
    np.testing.assert_allclose(both, np.hstack([tfidf, maximum]), rtol=1e-6)


def test_tfidf_weights_rare_words_more_than_mean(sst2, glove):
    vectorizer = EmbeddingVectorizer(pooling="tfidf").fit(sst2[0])
    text = ["the the the marvelous"]
    tfidf = vectorizer.transform(text)[0]
    mean = EmbeddingVectorizer().fit(sst2[0]).transform(text)[0]
    target = glove["marvelous"]
    assert np.linalg.norm(tfidf - target) < np.linalg.norm(mean - target)


def test_sif_removes_the_learned_component(sst2):
    vectorizer = EmbeddingVectorizer(pooling="sif").fit(sst2[0])
    X = vectorizer.transform(sst2[2])
    assert np.linalg.norm(vectorizer.sif_component_) == pytest.approx(1, abs=1e-5)
    assert np.abs(X @ vectorizer.sif_component_).max() < 1e-4
    np.testing.assert_allclose(
        vectorizer.fit_transform(sst2[0]), vectorizer.transform(sst2[0]), atol=1e-6
    )


def test_unknown_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling"):
        EmbeddingVectorizer(pooling="median").fit(TEXTS)


def test_tokenizers_split_punctuation_and_clitics(glove):
    vectorizer = EmbeddingVectorizer(pooling="sum").fit(TEXTS)
    X = vectorizer.transform(["isn't it great,really?"])
    expected = glove[["is", "n't", "it", "great", ",", "really", "?"]].sum(0)
    np.testing.assert_allclose(X[0], expected, rtol=1e-5)
    spacy_sum = EmbeddingVectorizer(pooling="sum", tokenizer="spacy").fit(TEXTS)
    np.testing.assert_allclose(
        spacy_sum.transform(["isn't it great?"])[0],
        glove[["is", "n't", "it", "great", "?"]].sum(0),
        rtol=1e-5,
    )
    custom = EmbeddingVectorizer(pooling="sum", tokenizer=lambda text: text.split("|"))
    custom.fit(["good|film", "bad|film"])
    np.testing.assert_allclose(
        custom.transform(["good|film"])[0], glove[["good", "film"]].sum(0), rtol=1e-5
    )


def test_coverage_and_low_coverage_warning(sst2):
    assert EmbeddingVectorizer().fit(sst2[0]).coverage_ > 0.95
    with pytest.warns(UserWarning, match="cased but the vectors are lower-cased"):
        vectorizer = EmbeddingVectorizer(lowercase=False).fit(["The Good Film Was Great"] * 3)
    assert vectorizer.coverage_ < 0.5
    with pytest.warns(UserWarning, match="another language or script"):
        EmbeddingVectorizer().fit(["Ζωντανή ταινία", "Ωραία ταινία"])


def test_bare_string_is_rejected():
    with pytest.raises(TypeError, match="wrap it in a list"):
        EmbeddingVectorizer().fit("a single text")


def test_accepts_series_arrow_strings_arrays_and_generators(sst2):
    vectorizer = EmbeddingVectorizer().fit(sst2[0][:50])
    expected = vectorizer.transform(list(sst2[0][:50]))
    series = pd.Series(sst2[0][:50], dtype="string[pyarrow]")
    np.testing.assert_array_equal(vectorizer.transform(series), expected)
    np.testing.assert_array_equal(vectorizer.transform(iter(sst2[0][:50])), expected)
    np.testing.assert_array_equal(
        vectorizer.transform(np.asarray(sst2[0][:50], dtype=str)), expected
    )


def test_feature_names_and_pandas_output(sst2):
    vectorizer = EmbeddingVectorizer(pooling=["mean", "max"]).fit(sst2[0][:20])
    names = vectorizer.get_feature_names_out()
    assert list(names[:2]) == ["mean_0", "mean_1"] and names[50] == "max_0" and len(names) == 100
    frame = vectorizer.set_output(transform="pandas").transform(sst2[0][:5])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)


def test_sklearn_tags_declare_string_input():
    tags = EmbeddingVectorizer().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array


def test_clone_shares_vectors_instead_of_copying(glove):
    vectorizer = EmbeddingVectorizer(vectors=glove, pooling=["mean", "max"]).set_output(
        transform="pandas"
    )
    cloned = clone(vectorizer)
    assert cloned.vectors is glove
    assert cloned.get_params() == vectorizer.get_params()
    assert cloned._sklearn_output_config == {"transform": "pandas"}
    pipeline_clone = clone(make_classifier(vectors=glove))
    assert pipeline_clone.named_steps["embedding"].shared.vectors is glove


def test_pickle_holds_a_reference_not_the_vectors(sst2, glove):
    model = make_classifier(vectors=glove, pooling=["mean", "tfidf"]).fit(sst2[0], sst2[1])
    blob = pickle.dumps(model)
    assert len(blob) < 2_000_000
    restored = pickle.loads(blob)
    assert restored.named_steps["embedding"].vectors_ is glove
    np.testing.assert_array_equal(restored.predict_proba(sst2[2]), model.predict_proba(sst2[2]))


def test_pickled_pipeline_predicts_identically_in_a_new_process(sst2, tmp_path):
    model = make_classifier(pooling="sif").fit(sst2[0], sst2[1])
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    np.save(tmp_path / "texts.npy", sst2[2].astype(str))
    code = (
        "import pickle, sys, numpy as np\n"
        f"model = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"texts = np.load({str(tmp_path / 'texts.npy')!r})\n"
        "print(''.join(map(str, model.predict(texts))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "".join(map(str, model.predict(sst2[2])))


@pytest.fixture(scope="module")
def word2vec_in_memory():
    return Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).wv


def test_in_memory_vectors_are_found_again_by_fingerprint(word2vec_in_memory, tmp_path):
    vectorizer = EmbeddingVectorizer(vectors=word2vec_in_memory).fit(
        [" ".join(t) for t in common_texts]
    )
    path = tmp_path / "vectorizer.pkl"
    path.write_bytes(pickle.dumps(vectorizer))
    assert path.stat().st_size < 10_000
    code = (
        "import pickle\n"
        f"v = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(v.transform(['human computer interface']).round(5).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    expected = vectorizer.transform(["human computer interface"]).round(5).tolist()
    assert out.stdout.strip() == str(expected)


def test_store_vectors_makes_a_self_contained_file(tmp_path, sst2):
    source = tmp_path / "vectors.txt"
    glove = lightxfer.load_vectors()
    words = glove.index_to_key[:20_000]
    source.write_text("".join(f"{w} {' '.join(map(str, glove[w]))}\n" for w in words))
    vectorizer = EmbeddingVectorizer(
        vectors=str(source), pooling=["sif", "max"], store_vectors=True
    )
    expected = vectorizer.fit(sst2[0]).transform(sst2[0][:30])
    blob = pickle.dumps(vectorizer)
    assert len(blob) < 20_000 * 50 * 4  # pruned to the words seen in fit
    source.unlink()
    restored = pickle.loads(blob)
    np.testing.assert_allclose(restored.transform(sst2[0][:30]), expected, rtol=1e-5, atol=1e-6)


def test_changed_vectors_file_is_refused(tmp_path):
    source = tmp_path / "vectors.txt"
    source.write_text("good 1 0\nbad 0 1\n")
    vectorizer = EmbeddingVectorizer(vectors=str(source)).fit(["good", "bad"])
    blob = pickle.dumps(vectorizer)
    source.write_text("good 0 1\nbad 1 0\n")
    code = (
        "import pickle, sys\n"
        "try:\n"
        "    pickle.loads(sys.stdin.buffer.read())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    assert out.stdout.decode().strip() == VectorsMismatchError.__name__


def test_fasttext_vectors_cover_unseen_words(fasttext_path):
    vectorizer = EmbeddingVectorizer(vectors=fasttext_path).fit(["the report said"])
    X = vectorizer.transform(["unseenwordxyz", "zzzqqq"])
    assert np.abs(X).sum(axis=1).min() > 0


def test_pipeline_cross_validation_beats_chance(sst2):
    scores = cross_val_score(make_classifier(), sst2[0], sst2[1], cv=3)
    assert scores.mean() > 0.6


def test_grid_search_over_pooling_and_c_on_sst2_train():
    from conftest import read_shared

    train = read_shared("sst2_train")
    grid = GridSearchCV(
        Pipeline(
            [("embedding", EmbeddingVectorizer()), ("head", LogisticRegression(max_iter=500))]
        ),
        {"embedding__pooling": ["mean", "max", "sif"], "head__C": [0.1, 1.0, 10.0]},
        cv=3,
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # coverage is high: no warning expected
        grid.fit(train["text"], train["label"])
    assert len(grid.cv_results_["params"]) == 9
    assert grid.best_score_ > 0.7


def test_store_vectors_refit_on_the_same_texts_can_still_be_saved(sst2, tmp_path):
    model = make_classifier(pooling="mean").fit(sst2[0], sst2[1])
    model.set_params(embedding__store_vectors=True).fit(sst2[0], sst2[1])
    lightxfer.save(model, tmp_path / "model.skops")
    restored = lightxfer.load(tmp_path / "model.skops")
    # The stored copy holds the words seen in fit: texts made of them embed identically.
    np.testing.assert_array_equal(restored.predict(sst2[0]), model.predict(sst2[0]))
