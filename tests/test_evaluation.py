"""``evaluate_transfer``: learning-curve tables and verdicts on samples of the shared data."""

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared, texts_and_labels
from matplotlib.colors import to_rgb

import lightxfer
from lightxfer.evaluation import (
    BETTER,
    EMBEDDING,
    MIN_TEST_SIZE,
    ONE_SAMPLE,
    RECOMMENDED,
    TFIDF,
    TOO_LITTLE,
    TRANSFER,
    UNCLEAR,
    WORSE,
    cross_validation_splits,
    evaluate_transfer,
    format_table,
    model_names,
    plot_transfer,
    recommend,
    sample_per_class,
    summarize,
    training_samples,
)
from lightxfer.paired_test import corrected_test

METHODS = [TRANSFER, EMBEDDING, RECOMMENDED, TFIDF]


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
    path = tmp_path_factory.mktemp("plots") / "new folder" / "curves.png"
    result = evaluate_transfer(
        source, *subj, train_sizes=(4, 16, "all"), n_seeds=2, test_size=0.3, plot=path,
        title="SST-2 → SUBJ",
    )  # fmt: skip
    result.attrs["plot"] = path
    return result


def test_table_is_tidy(table):
    assert table[["per_class", "method"]].values.tolist() == [
        [size, method] for size in ("4", "16", "all") for method in METHODS
    ]
    # Every seed would train on all 210 texts: fitted once, shown without a spread.
    assert table["n_seeds"].tolist() == [2] * 8 + [1] * 4
    assert table.loc[table["per_class"] == "all", "accuracy_std"].isna().all()
    assert "| all | 210 | 90 | transfer | " in format_table(table)
    assert any("every seed would train on the same texts" in line
               for line in table.attrs["summary"])  # fmt: skip
    assert (table["n_folds"] == 0).all()
    assert table.attrs["tested"] == "90 held-out test texts"
    assert table.loc[table["per_class"] == "4", "n_train"].tolist() == [8] * 4
    assert (table.loc[table["per_class"] == "all", "n_train"] == 210).all()  # 70% of 300
    assert (table["n_test"] == 90).all()
    for metric in ("accuracy", "macro_f1"):
        assert table[f"{metric}_mean"].between(0, 1).all()
        assert (table[f"{metric}_std"].dropna() >= 0).all()
    # With every training example the methods must beat chance on subjectivity.
    assert (table.loc[table["per_class"] == "all", "accuracy_mean"] > 0.6).all()
    assert "hidden layers (32,)" in table.attrs["reused"]


def test_gains_are_paired_differences_against_every_other_model(table):
    scores = pd.DataFrame(table.attrs["scores"])
    assert len(scores) == (2 + 2 + 1) * 4
    at_16 = scores[scores["per_class"] == "16"].pivot(
        index="seed", columns="method", values="accuracy"
    )
    for method in (EMBEDDING, RECOMMENDED, TFIDF):
        row = table[(table["per_class"] == "16") & (table["method"] == method)].iloc[0]
        diff = at_16[TRANSFER] - at_16[method]
        assert row["transfer_gain"] == pytest.approx(diff.mean())
        assert row["transfer_gain_std"] == pytest.approx(diff.std())
        assert row["transfer_gain_se"] >= diff.std() / np.sqrt(2)
        assert row["verdict"] in (BETTER, WORSE, UNCLEAR)
    assert table.loc[table["method"] == TRANSFER, "transfer_gain"].isna().all()


def test_verdict_is_against_the_best_model_from_scratch(table):
    for _, rows in table.groupby("per_class"):
        scratch = rows[rows["method"].isin([RECOMMENDED, TFIDF]) & ~rows["one_class"]]
        assert scratch["best_scratch"].sum() == 1
        best = scratch.loc[scratch["accuracy_mean"].idxmax()]
        assert best["best_scratch"]
        assert not rows.loc[~rows["method"].isin([RECOMMENDED, TFIDF]), "best_scratch"].any()
    summary = table.attrs["summary"]
    assert summary[0] == table.attrs["verdict"]
    assert "training from scratch" in summary[0].lower()
    assert len(summary) == 1 + 3 + 1  # and why "all" shows no spread
    assert "4 per class, 8 training and 90 test texts: transfer" in summary[1]


def test_plot_is_written_with_a_title_and_every_line_visible(table):
    assert table.attrs["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plot_transfer(table, None)
    assert ax.get_title() == "SST-2 → SUBJ"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == METHODS
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == 4
    assert len({tuple(line.get_xdata()) for line in lines}) == 4  # shifted apart
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "4\n(8 texts)",
        "16\n(32 texts)",
        "all\n(210 texts)",
    ]


def test_plot_shades_two_bands_and_says_what_they_are(table):
    ax = plot_transfer(table, None)
    assert len(ax.collections) == 2  # transfer and the usual yardstick from scratch
    shaded = {tuple(c.get_facecolor()[0][:3].round(3)) for c in ax.collections}
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    yardstick = table.loc[table["best_scratch"], "method"].mode()[0]
    expected = {tuple(np.round(to_rgb(colours[m]), 3)) for m in (TRANSFER, yardstick)}
    assert shaded == expected
    assert "standard error over seeds" in ax.get_legend().get_title().get_text()


def test_default_title_names_source_and_target(source, subj):
    X, y = subj
    result = evaluate_transfer(source, X[:120], y[:120], train_sizes=["all"], n_seeds=1)
    assert result.attrs["title"] == (
        "transfer: EmbeddingVectorizer + MLPClassifier source → target (120 texts)"
    )


def test_identical_pipelines_are_not_compared(source, subj):
    result = evaluate_transfer(
        source, *subj, train_sizes=[8], n_seeds=1, freeze="embedding", progress=False
    )
    assert result["method"].tolist() == [TRANSFER, RECOMMENDED, TFIDF]
    assert result.attrs["reused"] == "the frozen shared layers (EmbeddingVectorizer)"


def test_tiny_target_merges_sizes_and_says_too_little_data(source):
    tiny = read_shared("mpqa", 8)
    result = evaluate_transfer(source, tiny["text"], tiny["label"], n_seeds=2)
    assert set(result["per_class"]) == {"8/32/128/all"}  # all four sizes: the same texts
    # Two folds (the smaller class has 2 texts, one per fold), every text tested.
    assert (result["n_folds"] == 2).all() and (result["n_test"] == 8).all()
    assert (result["n_train"] == 4).all()
    assert set(result.loc[result["method"] != TRANSFER, "verdict"]) == {TOO_LITTLE}
    assert result.attrs["verdict"].startswith("Too little data to tell")
    assert f"at least {MIN_TEST_SIZE}" in result.attrs["verdict"]


def test_training_samples_merge_only_identical_sets():
    y = np.array(["a"] * 10 + ["b"] * 3)
    groups = training_samples(y, [2, 3, 10, 20, "all"], n_seeds=2)
    assert [label for label, _ in groups] == ["2", "3", "10/20/all"]
    assert [len(samples[0]) for _, samples in groups] == [4, 6, 13]


def test_bad_plot_path_fails_before_any_work(source, subj, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    X, y = subj
    with pytest.raises(NotADirectoryError, match="a file is a file, not a folder"):
        evaluate_transfer(source, X, y[:5], plot=blocker / "curves.png")  # y too short
    with pytest.raises(ValueError, match="unknown plot format '.xlsx'"):
        evaluate_transfer(source, X, y[:5], plot=tmp_path / "curves.xlsx")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        evaluate_transfer(source, X, y[:5], plot=tmp_path)


def test_given_test_set_and_different_label_set(source):
    train, test = read_shared("trec_train", 240), read_shared("trec_test", 120)
    result = evaluate_transfer(
        source,
        train["text"],
        train["label"],
        X_test=test["text"],
        y_test=test["label"],
        train_sizes=[8],
        n_seeds=1,
        head="logreg",
        C=10,
    )
    # Six question types; the rare ABBR class gives all it has.
    expected = train["label"].value_counts().clip(upper=8).sum()
    assert train["label"].nunique() == 6 and expected < 48
    assert result["n_train"].tolist() == [expected] * 4
    assert (result["n_test"] == 120).all()
    assert (result["accuracy_mean"] > 1 / 6).all()


def hand_made_scores(transfer_gains, n_test=200, paired_se=0.005, sizes=("8",)):
    """Scores of each method per seed; ``transfer_gains[size][method]`` lists per-seed gains.

    Transfer scores 0.7 on every seed; each other method 0.7 minus its gain on that seed.
    """
    rows = []
    for size in sizes:
        for method, gains in transfer_gains[size].items():
            for seed, gain in enumerate(gains):
                accuracy = 0.7 - gain
                rows.append(
                    {"method": method, "per_class": size, "seed": seed, "n_train": 16}
                    | {"n_test": n_test, "sampled": size != "all"}
                    | {"paired_se": 0.0 if method == TRANSFER else paired_se}
                    | {"accuracy": accuracy, "macro_f1": accuracy}
                )
    return pd.DataFrame(rows)


def gains(embedding, recommended, tfidf):
    return {TRANSFER: [0.0] * len(embedding), EMBEDDING: embedding, RECOMMENDED: recommended,
            TFIDF: tfidf}  # fmt: skip


def test_transfer_that_beats_the_frozen_layer_but_not_scratch_is_called_worse():
    # The case: +1.8 over the frozen layer, yet TF-IDF from scratch is ahead.
    scores = hand_made_scores({"128": gains([0.02, 0.015, 0.02], [0.0] * 3, [-0.04] * 3)},
                              sizes=("128",))  # fmt: skip
    table = summarize(scores)
    row = table[table["best_scratch"]].iloc[0]
    assert row["method"] == TFIDF and row["verdict"] == WORSE
    assert table.loc[table["method"] == EMBEDDING, "verdict"].item() == BETTER
    assert table.attrs["verdict"] == (
        "Training from scratch beats transfer at 128 per class. With 200 texts tested, "
        "differences under about 1 point cannot be told apart."
    )
    assert f"| {WORSE} |" in format_table(table)
    assert "| 128 | 16 | 200 | **TF-IDF from scratch** |" in format_table(table)


def test_headline_names_the_sizes_where_transfer_wins():
    by_size = {
        "8": gains([0.05] * 3, [0.05, 0.06, 0.04], [0.2] * 3),
        "32": gains([0.03] * 3, [0.03, 0.04, 0.03], [0.1] * 3),
        "128": gains([0.0] * 3, [0.01, -0.01, 0.0], [0.05] * 3),
        "all": gains([0.0] * 3, [-0.03] * 3, [0.0] * 3),
    }
    table = summarize(hand_made_scores(by_size, sizes=list(by_size)))
    assert table.attrs["verdict"] == (
        "Transfer beats training from scratch at 8 and 32 per class, not beyond; "
        "training from scratch beats transfer at all training texts; "
        "no clear difference at 128 per class. With 200 texts tested, differences under "
        "about 1 point cannot be told apart."
    )


@pytest.mark.parametrize(
    ("diffs", "paired_se", "verdict"),
    [
        ([0.05, 0.04, 0.06], 0.005, BETTER),
        ([-0.05, -0.04, -0.06], 0.005, WORSE),
        ([0.05, -0.05, 0.01], 0.005, UNCLEAR),  # within two standard errors over seeds
        ([0.05], 0.005, ONE_SAMPLE),  # one sample of many: no spread to judge by
        ([0.003] * 3, 0.0, UNCLEAR),  # under a point
        # Zero spread over seeds adds no evidence: the test set's noise still counts.
        ([0.04] * 3, 0.025, UNCLEAR),
        ([0.04] * 3, 0.01, BETTER),
    ],
)
def test_verdict_needs_evidence_from_seeds_and_test_set(diffs, paired_se, verdict):
    n = len(diffs)
    scores = hand_made_scores({"8": gains(diffs, diffs, [0.3] * n)}, paired_se=paired_se)
    table = summarize(scores)
    assert table.loc[table["method"] == RECOMMENDED, "verdict"].item() == verdict


def test_one_seed_says_what_it_cannot_tell_and_shows_no_infinity():
    table = summarize(hand_made_scores({"8": gains([-0.078], [-0.078], [-0.1])}))
    assert set(table.loc[table["method"] != TRANSFER, "verdict"]) == {ONE_SAMPLE}
    assert np.isfinite(table["transfer_gain_se"].dropna()).all()
    text = format_table(table) + "\n".join(table.attrs["summary"])
    assert "inf" not in text and "-10.0 ± 0.5" in text
    assert table.attrs["verdict"].startswith("One seed cannot tell")
    assert any("another sample" in line for line in table.attrs["summary"])


def test_a_model_predicting_one_class_is_never_the_yardstick():
    # Issue 25's MPQA case: TF-IDF on 8 texts per class predicts the majority class for
    # every text, 67% accuracy, while transfer is better on every other measure.
    rows = []
    for seed in range(3):
        for method, accuracy, balanced, top_share in [
            (TRANSFER, 0.62, 0.63, 0.6),
            (RECOMMENDED, 0.58, 0.55, 0.7),
            (TFIDF, 0.67, 0.5, 1.0),
        ]:
            rows.append(
                {"method": method, "per_class": "8", "seed": seed, "n_train": 16}
                | {"n_test": 300, "sampled": True, "paired_se": 0.01, "accuracy": accuracy}
                | {"macro_f1": balanced, "balanced_accuracy": balanced + 0.01 * seed}
                | {"metric": "balanced_accuracy", "majority": 0.67, "top_share": top_share}
            )
    table = summarize(pd.DataFrame(rows))
    tfidf = table[table["method"] == TFIDF].iloc[0]
    assert tfidf["one_class"] and not tfidf["best_scratch"]
    best = table[table["best_scratch"]].iloc[0]
    assert best["method"] == RECOMMENDED and best["verdict"] == BETTER
    assert best["transfer_gain"] == pytest.approx(0.08)  # on balanced accuracy
    text = format_table(table)
    assert "majority class: 67%" in text and "balanced accuracy" in text
    assert "TF-IDF from scratch (predicts one class)" in text
    assert any("imbalanced" in line for line in table.attrs["summary"])


def test_an_imbalanced_target_is_judged_on_balanced_accuracy(source):
    X, y = texts_and_labels(read_shared("mpqa", 300))
    table = evaluate_transfer(source, X, y, train_sizes=[8], n_seeds=1)
    assert table.attrs["metric"] == "balanced_accuracy"
    assert table["majority"].iloc[0] == pytest.approx(np.mean(y == "negative"), abs=0.03)
    assert table["balanced_accuracy_mean"].between(0, 1).all()
    scores = pd.DataFrame(table.attrs["scores"])
    at_8 = scores.pivot(index="seed", columns="method", values="balanced_accuracy")
    row = table[table["method"] == RECOMMENDED].iloc[0]
    assert row["transfer_gain"] == pytest.approx((at_8[TRANSFER] - at_8[RECOMMENDED]).mean())
    assert not table.loc[table["best_scratch"], "one_class"].any()


def test_labels_mixing_numbers_and_text_are_refused_before_any_fit(source):
    texts = ["a good film", "a bad one", "fine acting", "dull plot"] * 5
    with pytest.raises(TypeError, match=r"mix numbers and text \(e.g. 1 and 'a'\)"):
        evaluate_transfer(source, texts, [1, "a", 1, "1"] * 5, train_sizes=[2], n_seeds=1)


def test_few_test_texts_give_a_verdict_on_a_large_difference_only():
    # The case: 30 test texts, transfer 24 points behind with a standard error of 9.
    scores = hand_made_scores({"8": gains([-0.24] * 3, [-0.24] * 3, [-0.3] * 3)}, n_test=30,
                              paired_se=0.093)  # fmt: skip
    table = summarize(scores)
    assert table.loc[table["method"] == RECOMMENDED, "verdict"].item() == WORSE
    assert table.attrs["verdict"].startswith("Training from scratch beats transfer at 8")
    assert "With 30 texts tested, differences under about 19 points" in table.attrs["verdict"]
    small = summarize(hand_made_scores({"8": gains([0.1] * 3, [0.1] * 3, [0.3] * 3)},
                                       n_test=30, paired_se=0.093))  # fmt: skip
    assert small.loc[small["method"] == RECOMMENDED, "verdict"].item() == UNCLEAR
    tiny = summarize(hand_made_scores({"8": gains([0.3] * 3, [0.3] * 3, [0.3] * 3)}, n_test=8))
    assert set(tiny.loc[tiny["method"] != TRANSFER, "verdict"]) == {TOO_LITTLE}
    assert tiny.attrs["verdict"].startswith("Too little data to tell")


def test_sample_per_class():
    y = np.array(["a"] * 10 + ["b"] * 3)
    picked = sample_per_class(y, 5, seed=1)
    assert np.unique(y[picked], return_counts=True)[1].tolist() == [5, 3]
    assert picked.tolist() == sample_per_class(y, 5, seed=1).tolist()
    assert picked.tolist() != sample_per_class(y, 5, seed=2).tolist()
    with pytest.raises(ValueError, match="positive integers or 'all'"):
        sample_per_class(y, 0, seed=0)


def test_the_newcomers_36_texts_without_a_test_set_get_a_verdict_and_a_model(sst2):
    # The newcomer: 36 texts of 3 classes, no test file. A sentiment source with a
    # 4-unit bottleneck loses badly on question types; cross-validation says so.
    X, y, _, _ = sst2
    source = lightxfer.make_classifier(head="mlp", hidden_layer_sizes=(4,), max_iter=200)
    trec = read_shared("trec_train")
    tickets = pd.concat([trec[trec["label"] == c].head(12) for c in ("HUM", "LOC", "NUM")])
    table = evaluate_transfer(
        source.fit(X, y), *texts_and_labels(tickets), train_sizes=["all"], n_seeds=3
    )
    assert (table["n_test"] == 36).all() and (table["n_folds"] == 3).all()
    assert (table["n_train"] == 24).all()  # two folds of three, 8 per class
    assert table.attrs["tested"] == (
        "36 texts, each predicted once in each of 3 repeats of 3-fold cross-validation"
    )
    yardstick = table[table["best_scratch"]].iloc[0]
    assert yardstick["verdict"] == WORSE
    assert -yardstick["transfer_gain"] > yardstick["detectable"] > 0.1  # large, and beyond it
    verdict = table.attrs["verdict"]
    assert verdict.startswith("Training from scratch beats transfer at all training texts.")
    assert f"With 36 texts tested, differences under about {yardstick['detectable']:.0%}"[:-1] in (
        verdict
    )
    recommendation = table.attrs["recommendation"]
    assert recommendation.startswith("Use ") and "on your 36 texts" in recommendation
    assert "points above transfer(source)" in recommendation
    # Every model saw the same folds and samples, and predicted every text once per repeat.
    scores = pd.DataFrame(table.attrs["scores"])
    assert scores.groupby("seed")["n_train"].nunique().eq(1).all()
    assert scores["correct"].str.len().eq(36).all()
    assert scores["fold_scores"].map(len).eq(3).all()


def test_cross_validation_tests_every_text_once_per_repeat():
    y = np.array(["a"] * 7 + ["b"] * 5)
    splits = cross_validation_splits(y, n_folds=3, n_seeds=2)
    for seed in (0, 1):
        tests = [test for s, _, test in splits if s == seed]
        assert sorted(np.concatenate(tests).tolist()) == list(range(12))
        assert all(set(y[test]) == {"a", "b"} for test in tests)  # stratified
    assert not np.array_equal(splits[0][2], splits[3][2])  # another repeat, other folds
    with pytest.raises(ValueError, match="at least 2 texts of every class"):
        cross_validation_splits(["a", "a", "b"], n_folds=3, n_seeds=1)


def test_the_corrected_test_widens_with_overlap_and_narrows_with_repeats():
    rng = np.random.default_rng(0)
    differences = rng.normal(0.05, 0.1, size=30)
    naive = differences.std(ddof=1) / np.sqrt(30)
    se, detectable = corrected_test(differences, test_train_ratio=0.5)
    assert se == pytest.approx(np.sqrt(1 / 30 + 0.5) * differences.std(ddof=1))
    assert se > 3 * naive  # folds sharing training texts are not 30 independent samples
    assert detectable == pytest.approx(se * 2.045, rel=1e-3)  # Student's t, 29 df
    assert corrected_test(differences[:15], 0.5)[0] > se
    assert corrected_test([0.1], 0.5) == (np.inf, np.inf)


def test_recommendation_compares_every_model_of_every_table():
    def table_for(source, transfer_score):
        # Each model's score on each of 3 folds x 3 repeats: its mean plus noise (sd 3 points).
        rows, rng = [], np.random.default_rng(len(source))
        for seed in range(3):
            for method, score in [(TRANSFER, transfer_score), (RECOMMENDED, 0.6), (TFIDF, 0.59)]:
                folds = (score + rng.normal(0, 0.03, size=3)).tolist()
                rows.append(
                    {"method": method, "per_class": "all", "seed": seed, "n_train": 24}
                    | {"n_test": 36, "n_folds": 3, "sampled": False, "paired_se": 0.0}
                    | {"accuracy": score, "macro_f1": score, "fold_scores": folds}
                    | {"test_train": 0.5}
                )
        table = summarize(pd.DataFrame(rows))
        table.attrs["models"] = model_names(source)
        return table

    # 13 points apart: beyond what 36 texts can show; 2 or 3 points apart: not.
    tables = [table_for("sst2", 0.75), table_for("trec", 0.62)]
    assert recommend(tables).startswith(
        "Use transfer('sst2'): 75.0% accuracy on your 36 texts, 13.0 ± "
    )
    assert "points above transfer('trec')" in recommend(tables)
    assert recommend(tables[1:]) == (
        "Use transfer('trec'): 62.0% accuracy on your 36 texts; make_classifier() and "
        "make_tfidf_baseline() (TF-IDF) cannot be told apart from it."
    )
