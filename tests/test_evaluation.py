"""``evaluate_transfer``: learning-curve tables on samples of the shared data."""

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared, texts_and_labels

import lightxfer
from lightxfer.evaluation import (
    EMBEDDING,
    TFIDF,
    TRANSFER,
    evaluate_transfer,
    format_table,
    plot_transfer,
    sample_per_class,
    summarize,
)

METHODS = [TRANSFER, EMBEDDING, TFIDF]


@pytest.fixture(scope="module")
def source(sst2):
    X, y, _, _ = sst2
    model = lightxfer.make_classifier(head="mlp", hidden_layer_sizes=(32,), max_iter=200)
    return model.fit(X, y)


@pytest.fixture(scope="module")
def subj():
    return texts_and_labels(read_shared("subj", 300))


@pytest.fixture(scope="module")
def table(source, subj, tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "curves.png"
    result = evaluate_transfer(source, *subj, train_sizes=(4, 16, "all"), n_seeds=3, plot=path)
    result.attrs["plot"] = path
    return result


def test_table_is_tidy(table):
    assert table[["per_class", "method"]].values.tolist() == [
        [size, method] for size in ("4", "16", "all") for method in METHODS
    ]
    assert (table["n_seeds"] == 3).all()
    assert table.loc[table["per_class"] == "4", "n_train"].tolist() == [8, 8, 8]
    assert (table.loc[table["per_class"] == "all", "n_train"] == 210).all()  # 70% of 300
    for metric in ("accuracy", "macro_f1"):
        assert table[f"{metric}_mean"].between(0, 1).all()
        assert (table[f"{metric}_std"] >= 0).all()
    # With every training example the methods must beat chance on subjectivity.
    assert (table.loc[table["per_class"] == "all", "accuracy_mean"] > 0.6).all()


def test_gain_is_paired_difference_of_seed_scores(table):
    scores = pd.DataFrame(table.attrs["scores"])
    assert len(scores) == 3 * 3 * 3
    at_16 = scores[scores["per_class"] == "16"].pivot(
        index="seed", columns="method", values="accuracy"
    )
    row = table[(table["per_class"] == "16") & (table["method"] == TRANSFER)].iloc[0]
    assert row["gain"] == pytest.approx((at_16[TRANSFER] - at_16[EMBEDDING]).mean())
    assert row["verdict"] in ("helps", "hurts: negative transfer", "no clear difference")
    assert table.loc[table["method"] != TRANSFER, "gain"].isna().all()
    assert len(table.attrs["summary"]) == 3


def test_plot_is_written(table):
    assert table.attrs["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plot_transfer(table, None, title="SUBJ")
    assert [line.get_label() for line in ax.get_lines()] == METHODS
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "16", "all"]


def test_given_test_set_and_different_label_set(source):
    train, test = read_shared("trec_train", 240), read_shared("trec_test", 120)
    result = evaluate_transfer(
        source,
        train["text"],
        train["label"],
        X_test=test["text"],
        y_test=test["label"],
        train_sizes=[8],
        n_seeds=2,
        head="logreg",
        C=10,
    )
    # Six question types; the rare ABBR class gives all it has.
    expected = train["label"].value_counts().clip(upper=8).sum()
    assert train["label"].nunique() == 6 and expected < 48
    assert result["n_train"].tolist() == [expected] * 3
    assert (result["accuracy_mean"] > 1 / 6).all()


def hand_made_scores(transfer_minus_embedding):
    rows = []
    for seed, diff in enumerate(transfer_minus_embedding):
        for method, accuracy in ((TRANSFER, 0.7 + diff), (EMBEDDING, 0.7), (TFIDF, 0.6)):
            rows.append(
                {"method": method, "per_class": "8", "seed": seed, "n_train": 16}
                | {"accuracy": accuracy, "macro_f1": accuracy}
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("diffs", "verdict", "phrase"),
    [
        ([-0.05, -0.04, -0.06], "hurts: negative transfer", "transfer HURTS (negative transfer)"),
        ([0.05, 0.04, 0.06], "helps", "transfer helps, +5.0 points"),
        ([0.05, -0.05, 0.01], "no clear difference", "no clear difference"),
        ([0.05], "no clear difference", "no clear difference"),
        # Seeds that all train on the same full data agree exactly: under a point is noise.
        ([0.003, 0.003, 0.003], "no clear difference", "no clear difference"),
        ([0.02, 0.02, 0.02], "helps", "transfer helps, +2.0 points"),
    ],
)
def test_verdict_says_plainly_when_transfer_hurts(diffs, verdict, phrase):
    table = summarize(hand_made_scores(diffs), [8], METHODS)
    assert table.loc[table["method"] == TRANSFER, "verdict"].item() == verdict
    assert phrase in table.attrs["summary"][0]
    assert f"| {verdict} |" in format_table(table)


def test_sample_per_class():
    y = np.array(["a"] * 10 + ["b"] * 3)
    picked = sample_per_class(y, 5, seed=1)
    assert np.unique(y[picked], return_counts=True)[1].tolist() == [5, 3]
    assert picked.tolist() == sample_per_class(y, 5, seed=1).tolist()
    assert picked.tolist() != sample_per_class(y, 5, seed=2).tolist()
    with pytest.raises(ValueError, match="positive integers or 'all'"):
        sample_per_class(y, 0, seed=0)
