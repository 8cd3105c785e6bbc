"""Labelling: suggest, label_issues and learning_curve, in Python and on the command line."""

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared

import lightxfer
from lightxfer import label_issues, learning_curve, make_classifier, suggest
from lightxfer.cli.commands import suggest as suggest_command
from lightxfer.cli.entrypoint import main
from lightxfer.exceptions import MissingExtraError
from lightxfer.labelling import query_strategies
from lightxfer.labelling.features import pool_features, shared_layer
from lightxfer.labelling.learning_curve import (
    PowerLaw,
    balanced_order,
    forecast_summary,
    plot_learning_curve,
)


@pytest.fixture(scope="module")
def trec():
    """600 TREC training questions (6 classes): texts and labels."""
    table = read_shared("trec_train", 600)[:600]
    return table["text"].tolist(), table["label"].to_numpy()


def plain():
    return make_classifier(pooling="mean")


def margins_of(model, texts):
    return query_strategies.margins(model.predict_proba(texts))[0]


# -- suggest -----------------------------------------------------------------------------


def test_cold_start_picks_one_typical_text_per_region(trec):
    texts, _ = trec
    out = suggest(plain(), texts, n=8)
    assert list(out.columns) == ["index", "text", "reason"]
    assert out["index"].is_unique and len(out) == 8
    assert [texts[i] for i in out["index"]] == out["text"].tolist()
    # Largest region first, and the regions split the whole pool between them.
    sizes = out["reason"].str.extract(r"typical of (\d+)")[0].astype(int)
    assert sizes.is_monotonic_decreasing and sizes.sum() == len(texts)


def test_margin_suggests_the_least_certain_unlabelled_texts(trec):
    texts, labels = trec
    labelled = np.arange(60)
    model = plain().fit(texts[:60], labels[:60])
    out = suggest(model, texts, n=10, labelled=labelled, strategy="margin")
    assert not set(out["index"]) & set(labelled)
    margin = margins_of(model, texts)
    rest = np.setdiff1d(np.arange(60, len(texts)), out["index"])
    assert margin[out["index"]].max() <= margin[rest].min()
    assert margin[out["index"]].tolist() == sorted(margin[out["index"]])
    assert out["reason"].str.match(r"uncertain between '\w+' and '\w+' \(margin 0\.\d{3}\)").all()


def test_the_diversity_term_spreads_a_batch_over_distinct_texts(trec):
    """A pool where every text comes three times: plain margin takes triples, diverse does not."""
    texts, labels = trec
    model = plain().fit(texts[:60], labels[:60])
    pool = texts[60:260] * 3
    plain_batch = suggest(model, pool, n=9, strategy="margin")
    diverse = suggest(model, pool, n=9, strategy="diverse-margin")
    assert plain_batch["text"].nunique() == 3
    assert diverse["text"].nunique() == 9
    # Still among the uncertain: within the 10 x n candidates of smallest margin.
    margin = margins_of(model, pool)
    assert margin[diverse["index"]].max() <= np.sort(margin)[90]


@pytest.mark.parametrize(("n_labelled", "n_random"), [(10, 9), (40, 5), (60, 2), (300, 2)])
def test_auto_explores_less_as_labels_grow(trec, n_labelled, n_random):
    """Random draws take 1 - labels / (8 n) of a batch, at least a quarter of it."""
    texts, labels = trec
    model = plain().fit(texts[:n_labelled], labels[:n_labelled])
    out = suggest(model, texts, n=10, labelled=np.arange(n_labelled))
    kinds = out["reason"].str.split().str[0].tolist()
    assert kinds == ["uncertain"] * (10 - n_random) + ["drawn"] * n_random


def test_labelled_mask_and_positions_are_the_same(trec):
    texts, labels = trec
    model = plain().fit(texts[:40], labels[:40])
    mask = np.zeros(len(texts), bool)
    mask[:40] = True
    by_mask = suggest(model, texts, n=5, labelled=mask)
    assert by_mask.equals(suggest(model, texts, n=5, labelled=list(range(40))))
    assert by_mask["index"].min() >= 40


def test_suggest_works_on_the_recommended_model(trec):
    texts, labels = trec
    model = make_classifier().fit(texts[:60], labels[:60])
    assert type(shared_layer(model)).__name__ == "EmbeddingVectorizer"
    out = suggest(model, texts, n=6, labelled=np.arange(60))
    assert len(out) == 6 and out["index"].min() >= 60
    cold = suggest(make_classifier(), texts, n=6)  # unfitted: the layer is fitted on the pool
    assert cold["reason"].str.startswith("typical").all()


def test_a_second_round_on_the_encoder_embeds_no_text_again(minilm, encode_calls, trec):
    texts, labels = trec
    texts, labels = texts[:60], labels[:60]
    model = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg").fit(texts[:30], labels[:30])
    first = suggest(model, texts, n=5, labelled=np.arange(30))
    encode_calls.clear()
    again = suggest(model, texts, n=5, labelled=np.arange(30))
    assert again.equals(first)
    assert sum(map(len, encode_calls)) == 0
    assert pool_features(model, texts[:2]).shape == (2, 384)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 600}, "cannot suggest 600 texts: the pool has only 590 unlabelled"),
        ({"n": 0}, "n must be a positive whole number"),
        ({"labelled": [700]}, "labelled position 700 is not in the pool of 600 texts"),
        ({"labelled": np.ones(3, bool)}, "a mask of 3 values for 600 texts"),
        ({"strategy": "margin"}, "strategy 'margin' needs a fitted model"),
        ({"strategy": "best"}, "strategy must be one of auto, representative"),
    ],
)
def test_bad_suggest_arguments_say_what_is_wrong(trec, options, message):
    texts, _ = trec
    options = {"labelled": np.arange(10), **options}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        suggest(plain(), texts, **options)


def test_the_cli_strategies_are_the_packages():
    from lightxfer.labelling.suggestions import STRATEGY_NAMES

    assert suggest_command.STRATEGIES == STRATEGY_NAMES


# -- label issues -------------------------------------------------------------------------


def test_flipped_labels_are_found(trec):
    texts, labels = trec
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(labels), 30, replace=False)
    noisy = labels.copy()
    classes = np.unique(labels)
    for i in flipped:
        noisy[i] = rng.choice(classes[classes != labels[i]])
    issues = label_issues(plain(), texts, noisy)
    assert list(issues.columns) == ["index", "text", "label", "predicted", "score"]
    assert issues["score"].is_monotonic_increasing  # most suspect first
    assert (issues["label"].to_numpy() == noisy[issues["index"]]).all()
    found = np.isin(flipped, issues["index"]).mean()
    precision = np.isin(issues["index"], flipped).mean()
    assert found >= 0.6  # recall
    assert precision >= 2 * 30 / len(labels)  # twice as often a flipped label as at random
    # The flipped rows that are flagged rank ahead of the flagged clean ones, on average.
    rank = np.arange(len(issues))
    is_flipped = np.isin(issues["index"], flipped)
    assert rank[is_flipped].mean() < rank[~is_flipped].mean()


def test_label_issues_needs_two_classes_and_names_the_extra(trec, monkeypatch):
    texts, labels = trec
    with pytest.raises(ValueError, match="every text has the label 'HUM'"):
        label_issues(plain(), texts[:20], ["HUM"] * 20)
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    with pytest.raises(MissingExtraError, match=r'pip install "lightxfer\[labels\]"'):
        label_issues(plain(), texts, labels)


# -- learning curve -------------------------------------------------------------------------


def test_learning_curve_measures_and_forecasts(trec, tmp_path):
    texts, labels = trec
    curve = learning_curve(plain(), texts[:200], labels[:200], cv=3)
    measured = curve[curve["kind"] == "measured"]
    ahead = curve[curve["kind"] == "forecast"]
    assert measured["n_labels"].tolist() == [16, 33, 66, 133]  # halved down to 2 per class
    assert ahead["n_labels"].tolist() == [200, 400, 800]
    assert measured["accuracy"].iloc[-1] > measured["accuracy"].iloc[0] + 0.05
    assert (ahead["low"] < ahead["accuracy"]).all() and (ahead["accuracy"] < ahead["high"]).all()
    assert ahead["accuracy"].is_monotonic_increasing
    assert curve.attrs["exponent"] > 0
    assert curve.attrs["flattens_at"] is None or curve.attrs["flattens_at"] > 200
    line = forecast_summary(curve)
    assert line.startswith(f"forecast: {ahead['accuracy'].iloc[0]:.1%}") and "at 800 labels" in line
    path = tmp_path / "curve.png"
    plot_learning_curve(curve, path)
    assert path.stat().st_size > 10_000


def test_power_law_recovers_a_known_curve_and_stays_within_bounds():
    sizes = np.array([50, 100, 200, 400])
    law = PowerLaw().fit(sizes, 1 - 2.0 * sizes**-0.5)
    assert law.exponent_ == pytest.approx(0.5)
    accuracy, low, high = law.predict([1600])
    assert accuracy[0] == pytest.approx(1 - 2.0 / 40)
    assert low[0] == pytest.approx(accuracy[0]) == pytest.approx(high[0])  # no noise
    # One more doubling from flattens_at gains less than a point, from half of it more.
    n = law.flattens_at()
    gain = np.diff(law.predict([n, 2 * n])[0])[0]
    assert gain < 0.01 <= np.diff(law.predict([n // 2, n])[0])[0]
    # A wide interval stops at 0 accuracy.
    noisy = PowerLaw().fit([10, 10, 20, 20], [0.1, 0.9, 0.2, 0.8])
    assert noisy.predict([1000])[1][0] == 0
    # Accuracy that falls with more labels is noise: the curve is flat.
    assert PowerLaw().fit(sizes, [0.8, 0.79, 0.78, 0.77]).exponent_ == 0


def test_every_prefix_of_the_balanced_order_keeps_the_class_shares():
    labels = np.array(["a"] * 80 + ["b"] * 20)
    order = balanced_order(labels, 0)
    assert sorted(order) == list(range(100))
    assert set(labels[order[:4]]) == {"a", "b"}  # two of each class first
    for size in (10, 20, 50):
        assert abs((labels[order[:size]] == "b").mean() - 0.2) <= 2 / size + 1e-9


def test_learning_curve_refuses_too_little_data(trec):
    texts, labels = trec
    with pytest.raises(ValueError, match="sizes must lie between 12"):
        learning_curve(plain(), texts, labels, sizes=[6, 50])
    with pytest.raises(ValueError, match="a curve needs 2 classes"):
        learning_curve(plain(), texts[:10], ["x"] * 10)


def test_the_functions_are_exported():
    for name in ("suggest", "label_issues", "learning_curve", "plot_learning_curve"):
        assert name in lightxfer.__all__ and callable(getattr(lightxfer, name))


# -- command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables(tmp_path_factory, trec):
    folder = tmp_path_factory.mktemp("labelling")
    texts, labels = trec
    paths = {name: folder / f"{name}.csv" for name in ("pool", "labelled", "other", "one", "nocol")}
    pd.DataFrame({"text": texts, "id": range(len(texts))}).to_csv(paths["pool"], index=False)
    pd.DataFrame({"text": texts[:60], "label": labels[:60]}).to_csv(paths["labelled"], index=False)
    pd.DataFrame({"text": texts[100:160], "label": labels[100:160]}).to_csv(
        paths["other"], index=False
    )
    pd.DataFrame({"text": texts[:5], "label": "HUM"}).to_csv(paths["one"], index=False)
    pd.DataFrame({"sentence": texts[:5]}).to_csv(paths["nocol"], index=False)
    return paths


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_suggest_writes_a_table_to_fill_and_never_overwrites_it(tables, tmp_path, capsys):
    out = tmp_path / "to_label.csv"
    argv = ["suggest", "--pool", tables["pool"], "--n", "5", "--out", out]
    code, printed, _ = run(capsys, *argv)
    assert code == 0 and "fill in the 'label' column" in printed
    written = pd.read_csv(out, keep_default_na=False)
    assert list(written.columns) == ["text", "id", "label", "reason"]
    assert (written["label"] == "").all() and len(written) == 5
    out.write_text("my labels")
    code, _, err = run(capsys, *argv)
    assert code == 2 and "pass --force to replace it" in err
    assert out.read_text() == "my labels"
    assert run(capsys, *argv, "--force")[0] == 0


def test_suggest_from_labelled_texts_skips_them(tables, tmp_path, capsys):
    out = tmp_path / "next.jsonl"
    pool, labelled = tables["pool"], tables["labelled"]
    code, _, _ = run(
        capsys, "suggest", "--pool", pool, "--labelled", labelled, "--n", 4, "--out", out
    )
    assert code == 0
    written = pd.read_json(out, lines=True)
    assert written["id"].min() >= 60
    # With 60 labels and a batch of 4, auto takes 3 uncertain texts and 1 at random.
    assert written["reason"].str.split().str[0].tolist() == ["uncertain"] * 3 + ["drawn"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--pool", "nocol"], ["nocol.csv", "no column 'text'"]),
        (["--pool", "labelled", "--labelled", "other"], ["60 of 60 labelled texts are not in"]),
        (["--pool", "pool", "--labelled", "one"], ["every row has the label 'HUM'"]),
        (["--pool", "one", "--n", "20"], ["cannot suggest 20 texts", "only 5 unlabelled"]),
    ],
)
def test_suggest_errors_are_one_line(tables, tmp_path, capsys, argv, fragments):
    argv = [tables.get(a, a) for a in argv]
    code, _, err = run(capsys, "suggest", *argv, "--out", tmp_path / "out.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err


def test_check_labels_prints_and_writes_the_suspects(tables, tmp_path, capsys, monkeypatch):
    out = tmp_path / "issues.csv"
    argv = ["check-labels", "--train", tables["labelled"], "--cv", "3", "--out", out]
    code, printed, _ = run(capsys, *argv)
    assert code == 0
    flagged = pd.read_csv(out)
    assert f"{len(flagged)} of 60 labels look wrong" in printed
    assert list(flagged.columns) == ["text", "label", "predicted", "score", "row"]
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    code, _, err = run(capsys, *argv, "--force")
    assert code == 2 and 'pip install "lightxfer[labels]"' in err
