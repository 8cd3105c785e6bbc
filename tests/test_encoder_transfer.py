"""Transfer through the sentence encoder: an SST-2 MLP source on frozen MiniLM, new tasks.

Encodes a few hundred texts once (the feature cache serves every later fit and seed).
"""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared, texts_and_labels
from sklearn.frozen import FrozenEstimator

import lightxfer
from lightxfer import SentenceEncoder, evaluate_transfer, make_classifier, transfer
from lightxfer.cli.entrypoint import main as cli
from lightxfer.evaluation import EMBEDDING, ENCODER, RECOMMENDED, TFIDF, TRANSFER
from lightxfer.transferring import reused_layers

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub


@pytest.fixture(scope="module")
def source():
    """An MLP head on the frozen encoder, fitted on 240 SST-2 sentences."""
    X, y = texts_and_labels(read_shared("sst2_train", 240))
    model = make_classifier(encoder="all-MiniLM-L6-v2", head="mlp", hidden_layer_sizes=(32,))
    return model.fit(X, y)


@pytest.fixture(scope="module")
def mpqa():
    return texts_and_labels(read_shared("mpqa", 200))


def test_transfer_freezes_the_encoder_and_the_hidden_layer(source, mpqa):
    X, y = mpqa
    target = transfer(source)
    assert [name for name, _ in target.steps] == ["embedding", "hidden", "head"]
    assert isinstance(target.named_steps["embedding"], FrozenEstimator)
    assert isinstance(target.named_steps["embedding"].estimator, SentenceEncoder)
    assert reused_layers(target) == (
        "the frozen shared layers (SentenceEncoder) and the source MLP's hidden layers "
        "(32,), frozen"
    )
    target.fit(X[:60], y[:60])
    mlp = source.named_steps["head"]
    np.testing.assert_array_equal(target.named_steps["hidden"].coefs[0], mlp.coefs_[0])
    hidden = target[:-1].transform(X[60:70])
    embeddings = source.named_steps["embedding"].transform(X[60:70])
    expected = np.maximum(embeddings @ mlp.coefs_[0] + mlp.intercepts_[0], 0)
    np.testing.assert_allclose(hidden, expected, rtol=1e-5, atol=1e-6)
    assert set(target.predict(X[60:])) <= set(y)


def test_evaluate_transfer_compares_with_the_encoder_from_scratch(source, mpqa):
    table = evaluate_transfer(
        source, *mpqa, train_sizes=(8, "all"), n_seeds=2, encoder="all-MiniLM-L6-v2"
    )
    methods = [TRANSFER, EMBEDDING, RECOMMENDED, TFIDF, ENCODER]
    assert table[["per_class", "method"]].values.tolist() == [
        [size, method] for size in ("8", "all") for method in methods
    ]
    for _, rows in table.groupby("per_class"):
        scratch = rows[rows["method"].isin([RECOMMENDED, TFIDF, ENCODER]) & ~rows["one_class"]]
        assert scratch["best_scratch"].sum() == 1
        # MPQA is two-thirds negative: the verdict's score is balanced accuracy.
        assert table.attrs["metric"] == "balanced_accuracy"
        assert scratch.loc[scratch["balanced_accuracy_mean"].idxmax(), "best_scratch"]
    # 140 training texts: every model on the encoder is well above chance on opinions.
    at_all = table[table["per_class"] == "all"].set_index("method")["accuracy_mean"]
    assert at_all[[TRANSFER, EMBEDDING, ENCODER]].min() > 0.6
    assert "SentenceEncoder" in table.attrs["reused"]


def test_cli_transfer_with_encoder_adds_the_encoder_from_scratch(source, mpqa, tmp_path, capsys):
    lightxfer.save(source, tmp_path / "source.skops")
    pd.DataFrame({"text": mpqa[0], "label": mpqa[1]}).to_csv(tmp_path / "mpqa.csv", index=False)
    argv = ["transfer", "--source", str(tmp_path / "source.skops"), "--train",
            str(tmp_path / "mpqa.csv"), "--sizes", "8", "--seeds", "2"]  # fmt: skip
    capsys.readouterr()
    assert cli([*argv, "--encoder", "all-MiniLM-L6-v2"]) == 0
    out = capsys.readouterr().out.replace("**", "")
    assert "reused from" in out and "SentenceEncoder" in out
    assert "| 8 | 16 | 200 | encoder from scratch |" in out  # no --test: every text tested
    assert cli([*argv, "--encoder", "./no/such/model"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no/such/model" in err and "\n" not in err
