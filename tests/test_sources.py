"""The source heads that ship with lightxfer: their files, reuse by name, and as blocks.

Encodes a few hundred texts once (the feature cache serves every later fit).
"""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared, texts_and_labels

import lightxfer
from lightxfer import SourceBlocks, make_classifier, transfer
from lightxfer.cli.entrypoint import main as cli
from lightxfer.source_models.shipped import NAMES, SOURCES_DIR, load_source, read_source
from lightxfer.source_models.training import recipe, train_source, write_source

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub


@pytest.fixture(scope="module")
def mpqa():
    """96 MPQA phrases to train on, 200 to test on."""
    table = read_shared("mpqa", 296, seed=1)
    return texts_and_labels(table[:96], table[96:])


def test_every_shipped_source_is_listed_small_and_safe():
    table = lightxfer.sources()
    assert table.index.tolist() == list(NAMES)
    assert set(table["shared_layer"]) == {"all-MiniLM-L6-v2"}
    assert (table["rows"] > 5000).all() and (table["hidden_units"] == 256).all()
    assert table.loc["trec", "classes"].count(",") == 5  # six question types
    sizes = [(SOURCES_DIR / f"{name}.npz").stat().st_size for name in NAMES]
    assert max(sizes) <= 512 * 1024 and sum(sizes) <= 3 * 1024 * 1024
    for name in NAMES:
        with np.load(SOURCES_DIR / f"{name}.npz", allow_pickle=False) as archive:
            assert archive["hidden_coef"].dtype == np.float16


def test_conv_sources_are_listed_apart():
    table = lightxfer.sources("conv")
    assert table.index.tolist() == [f"conv_{name}" for name in NAMES]
    assert set(table["shared_layer"]) == {"glove-wiki-gigaword-50"}
    assert (table["hidden_units"] == 96).all()  # 32 maps of widths 3, 4 and 5
    assert table.loc["conv_trec", "classes"] == lightxfer.sources().loc["trec", "classes"]
    with pytest.raises(ValueError, match="kind must be 'encoder' or 'conv', got 'mlp'"):
        lightxfer.sources("mlp")


def test_a_source_retrained_on_a_sample_follows_the_shipped_recipe(tmp_path, monkeypatch):
    X, y = texts_and_labels(read_shared("sst2_train", 120))
    model = train_source(X, y)
    arrays, shipped = read_source("sst2")
    assert recipe(model) | {"n_iter": None} == shipped["recipe"] | {"n_iter": None}
    assert model.named_steps["embedding"].fingerprint_ == shipped["encoder_fingerprint"]
    # Written and read back, it predicts as the fitted model (float16 weights).
    monkeypatch.setattr("lightxfer.source_models.shipped.SOURCES_DIR", tmp_path)
    from lightxfer.source_models import shipped as shipped_sources

    shipped_sources._read.cache_clear()
    try:
        write_source(model, tmp_path / "sst2.npz", task="t", rows=len(y), licence="l")
        reloaded = load_source("sst2")
        X_test, _ = texts_and_labels(read_shared("sst2_test", 60))
        agree = np.mean(reloaded.predict(X_test) == model.predict(X_test))
    finally:
        shipped_sources._read.cache_clear()
    assert agree >= 0.98


def test_transfer_from_a_shipped_source_by_name(mpqa):
    X, y, X_test, y_test = mpqa
    target = transfer("sentiment")  # the SST-2 head
    assert [name for name, _ in target.steps] == ["embedding", "hidden", "head"]
    hidden = target.named_steps["hidden"].coefs[0]
    np.testing.assert_array_equal(hidden, read_source("sst2")[0]["hidden_coef"].astype(np.float32))
    # Opinion polarity from 96 phrases: the sentiment layer carries it.
    assert target.fit(X, y).score(X_test, y_test) > 0.7


def test_a_source_on_another_shared_layer_is_refused(glove):
    texts = ["a good film", "a bad film"]
    with pytest.raises(ValueError, match="'sst2' was trained on all-MiniLM-L6-v2 with fingerprint"):
        SourceBlocks(lightxfer.EmbeddingVectorizer(), sources=["sst2"]).fit(texts)
    with pytest.raises(ValueError, match="no shipped source named 'imdb'"):
        transfer("imdb")


def test_a_crafted_source_file_is_refused_without_unpickling(tmp_path, monkeypatch):
    from lightxfer.source_models import shipped as shipped_sources

    np.savez(tmp_path / "sst2.npz", hidden_coef=np.array([object()], dtype=object))
    monkeypatch.setattr(shipped_sources, "SOURCES_DIR", tmp_path)
    shipped_sources._read.cache_clear()
    try:
        with pytest.raises(ValueError, match="sst2.npz"):
            shipped_sources.read_source("sst2")
    finally:
        shipped_sources._read.cache_clear()


def test_sources_weight_is_chosen_by_validation(mpqa):
    from lightxfer import ngram_search
    from lightxfer.source_models import blocks as source_blocks

    X, y, X_test, y_test = mpqa
    model = make_classifier(encoder="all-MiniLM-L6-v2", sources=["trec", "sst5"]).fit(X, y)
    blocks = model.named_steps["embedding"].shared_
    assert blocks.sources_ == ["trec", "sst5"]
    # The weight is the search's choice, replayed from its scores (2 weights x 4 Cs).
    best = dict(zip([0.0, 1.0], np.nanmax(blocks.cv_results_["accuracy"].reshape(2, 4), axis=1)))
    n_valid = ngram_search.n_validated(ngram_search.validation_splits(y))
    weight = ngram_search.lightest_good_weight(best, n_valid, source_blocks.STANDARD_ERRORS)
    assert blocks.weights_.tolist() == [weight, weight]
    # Opinion polarity: with the SST-5 sentiment head beside it, the block is used.
    assert weight == 1.0
    assert blocks.get_feature_names_out()[[384, -1]].tolist() == ["trec_0", "sst5_255"]
    # Each source's block has unit RMS norm on the training texts, as the encoder's has.
    features = blocks.transform(X)
    for start in (0, 384, 640):
        block = features[:, start : start + (384 if start == 0 else 256)]
        assert np.sqrt(np.mean(np.sum(block.astype(np.float64) ** 2, axis=1))) == pytest.approx(1)
    # Labels that no source knows (random): the block drops out, the model is the plain one.
    noise = np.random.default_rng(0).permutation(y)
    unrelated = make_classifier(encoder="all-MiniLM-L6-v2", sources="auto").fit(X, noise)
    assert not unrelated.named_steps["embedding"].shared_.weights_.any()
    alone = make_classifier(encoder="all-MiniLM-L6-v2").fit(X, noise)
    np.testing.assert_array_equal(unrelated.predict(X_test), alone.predict(X_test))


def test_a_sources_block_saved_with_one_weight_for_all_sources_still_loads(mpqa):
    X, _, X_test, _ = mpqa
    blocks = SourceBlocks(sources=["sst2", "sst5"], weight=1.0).fit(X)
    # The state a 6th-session file held: one weight and one norm for the joined blocks.
    hidden = blocks.hidden_.transform(blocks.shared_.transform(X))
    joint_norm = float(np.sqrt(np.mean(np.sum(hidden.astype(np.float64) ** 2, axis=1))))
    state = {
        k: v for k, v in blocks.__getstate__().items() if k not in ("weights_", "sources_norms_")
    }
    old = SourceBlocks.__new__(SourceBlocks)
    old.__setstate__({**state, "weight_": 1.0, "sources_norm_": joint_norm})
    features = blocks.shared_.transform(X_test)
    expected = np.hstack(
        [features / blocks.shared_norm_, blocks.hidden_.transform(features) / joint_norm]
    )
    np.testing.assert_allclose(old.transform(X_test), expected, rtol=1e-5, atol=1e-6)


def test_cli_transfer_from_a_shipped_source(mpqa, tmp_path, capsys):
    X, y, _, _ = mpqa
    pd.DataFrame({"text": X, "label": y}).to_csv(tmp_path / "mpqa.csv", index=False)
    argv = ["transfer", "--source", "sst2", "--train", str(tmp_path / "mpqa.csv"),
            "--sizes", "8", "--seeds", "1"]  # fmt: skip
    capsys.readouterr()
    assert cli(argv) == 0
    out = capsys.readouterr().out
    assert "reused from sst2" in out and "SentenceEncoder" in out  # the head's shared layer
    # --source all compares many sources: one model to save or one plot to draw is refused.
    for option, path in (("--out", "m.skops"), ("--plot", "curves.png")):
        assert cli([*argv[:2], "all", *argv[3:], option, str(tmp_path / path)]) == 2
        assert f"{option} " in capsys.readouterr().err


def test_all_shipped_sources_at_once_beside_the_frozen_encoder(mpqa):
    X, y, X_test, y_test = mpqa
    target = transfer("all")
    blocks = target.named_steps["embedding"]
    assert isinstance(blocks, SourceBlocks) and blocks.sources == list(NAMES)
    target.fit(X, y)
    assert blocks.weights_.tolist() == [1.0] * len(NAMES)
    assert target.score(X_test, y_test) > 0.7
    with pytest.raises(ValueError, match="name one source, not 'all'"):
        transfer("all", fine_tune=True)
    table = lightxfer.evaluate_transfer("all", X, y, X_test=X_test, y_test=y_test,
                                        train_sizes=[8], n_seeds=1)  # fmt: skip
    # The frozen encoder alone is the shared-layer row the combination is measured against.
    assert {"transfer", "frozen shared layer"} <= set(table["method"])
    assert table.attrs["reused"].startswith("the frozen encoder and the hidden layers of sst2")
    assert "every shipped source" in table.attrs["title"]
