"""Calibrated probabilities, the reliability scores and "not sure" as an answer (issue 35)."""

import numpy as np
import pytest
from conftest import read_shared, texts_and_labels
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

import lightxfer
from lightxfer import reliability
from lightxfer.abstain import AbstainingPipeline, predict_or_abstain
from lightxfer.calibration import CalibratedHead, apply_temperature


@pytest.fixture(scope="module")
def mpqa():
    """300 MPQA phrases to fit on and 300 to score: ``(X, y, X_test, y_test)``."""
    table = read_shared("mpqa", 600)
    return texts_and_labels(table[:300], table[300:])


@pytest.fixture(scope="module")
def calibrated(mpqa):
    """The recommended model on GloVe, calibrated and not, fitted on the same texts."""
    X, y, _, _ = mpqa
    return (
        lightxfer.make_classifier(calibrate=True).fit(X, y),
        lightxfer.make_classifier().fit(X, y),
    )


def synthetic(n=20000, over=1.0, high=1.0, seed=0):
    """The model always says class 0, with confidence ``0.5 + over * (p - 0.5)``; it is right
    with probability ``p``, uniform on (0.5, high)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.5, high, n)
    correct = rng.uniform(size=n) < p
    said = 0.5 + (p - 0.5) * over
    proba = np.column_stack([said, 1 - said])  # the model always says class 0
    y = np.where(correct, 0, 1)
    return y, proba


# -- the scores ---------------------------------------------------------------------------------


def test_ece_is_small_when_calibrated_and_measures_over_confidence():
    assert reliability.expected_calibration_error(*synthetic(), [0, 1]) < 0.01
    # confidence 0.5 + 1.5 * (p - 0.5): on average 0.5 * 0.15 above the accuracy
    ece = reliability.expected_calibration_error(*synthetic(over=1.5, high=0.8), [0, 1])
    assert ece == pytest.approx(0.075, abs=0.01)


def test_ece_bins_have_equal_mass_as_sklearns_quantile_curve():
    y, proba = synthetic(n=3000, over=1.3, high=0.8)
    confidence, accuracy = reliability.reliability_curve(y, proba, [0, 1])
    # the model always predicts class 0, so top label = class 0: sklearn's curve of class 0
    sk_accuracy, sk_confidence = calibration_curve(
        y == 0, proba[:, 0], n_bins=15, strategy="quantile"
    )
    np.testing.assert_allclose(confidence, sk_confidence, atol=0.01)
    np.testing.assert_allclose(accuracy, sk_accuracy, atol=0.03)
    gaps = np.abs(confidence - accuracy)
    assert reliability.expected_calibration_error(y, proba, [0, 1]) == pytest.approx(gaps.mean())


def test_brier_is_sklearns_for_two_classes_and_summed_over_classes_otherwise():
    y, proba = synthetic(n=500, over=1.2, high=0.8)
    assert reliability.brier_score(y, proba, [0, 1]) == pytest.approx(
        brier_score_loss(y == 1, proba[:, 1])
    )
    three = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    # ((0.25 + 0.09 + 0.04) + (0.01 + 0.81 + 0.64)) / 2 texts
    assert reliability.brier_score(["a", "b"], three, ["a", "b", "c"]) == pytest.approx(0.92)


def test_threshold_for_accuracy_answers_the_most_texts_that_reach_the_target():
    confidence = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6]
    correct = [True, True, True, False, True, False]
    assert reliability.threshold_for_accuracy(confidence, correct, 0.8) == 0.7  # 4 of 5
    assert reliability.threshold_for_accuracy(confidence, correct, 1.0) == 0.9
    assert reliability.threshold_for_accuracy(confidence, [False] * 6, 0.5) is None
    assert reliability.answered_accuracy(confidence, correct, 0.7) == (5 / 6, 0.8)


def test_a_held_out_threshold_is_measured_on_texts_it_was_not_picked_on():
    y, proba = synthetic(n=4000)
    confidence, correct = reliability.top_label(y, proba, [0, 1])
    picked = reliability.held_out_threshold(confidence, correct, 0.9)
    # calibrated, p uniform on (0.5, 1): accuracy above t is (1 + t) / 2, 0.9 at t = 0.8
    assert 0.75 < picked["threshold"] < 0.85
    assert picked["accuracy"] == pytest.approx(0.9, abs=0.02)
    # the share of texts above the threshold, ~ (1 - t) / 0.5 for uniform p on (0.5, 1)
    assert picked["coverage"] == pytest.approx((1 - picked["threshold"]) / 0.5, abs=0.03)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan"), "0.8", True])
def test_a_threshold_outside_0_1_is_refused_in_one_line(bad):
    with pytest.raises(ValueError, match=r"min_confidence must be a probability in \(0, 1\]"):
        reliability.check_min_confidence(bad)


# -- the calibrated head ------------------------------------------------------------------------


@parametrize_with_checks([CalibratedHead()])  # isotonic: test_isotonic_and_auto
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_calibrated_model_keeps_its_steps_and_predictions(calibrated, mpqa):
    model, plain = calibrated
    _, _, X_test, _ = mpqa
    assert isinstance(model, Pipeline) and [n for n, _ in model.steps] == ["embedding", "head"]
    head = model.named_steps["head"]
    assert isinstance(head, CalibratedHead) and head.method_ == "temperature"
    np.testing.assert_array_equal(model.predict(X_test), plain.predict(X_test))
    proba = model.predict_proba(X_test)
    assert not np.allclose(proba, plain.predict_proba(X_test), atol=1e-3)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], model.predict(X_test))
    assert head.temperature_ > 0 and len(head.validation_confidence_) >= 300


def test_temperature_scaling_corrects_a_head_that_is_too_sure(mpqa):
    # An unregularised head on GloVe is over-confident; the map must undo much of it.
    X, y, X_test, y_test = mpqa
    layer = lightxfer.make_classifier(pooling="mean")[0].fit(X)
    features, test_features = layer.transform(X), layer.transform(X_test)
    sure = LogisticRegression(C=1000, max_iter=3000)
    plain = clone(sure).fit(features, y).predict_proba(test_features)
    head = CalibratedHead(sure).fit(features, y)
    proba, classes = head.predict_proba(test_features), head.classes_
    assert head.temperature_ > 2
    assert log_loss(y_test, proba) < 0.8 * log_loss(y_test, plain)
    assert reliability.brier_score(y_test, proba, classes) < (
        reliability.brier_score(y_test, plain, classes)
    )
    assert reliability.expected_calibration_error(y_test, proba, classes) < (
        reliability.expected_calibration_error(y_test, plain, classes)
    )


def test_isotonic_and_auto(mpqa):
    X, y, X_test, _ = mpqa
    features = lightxfer.make_classifier(pooling="mean")[0].fit(X).transform(X)
    head = CalibratedHead(method="isotonic").fit(features, y)
    assert head.method_ == "isotonic" and len(head.isotonic_thresholds_) == 1
    np.testing.assert_array_equal(head.predict(features), head.estimator_.predict(features))
    np.testing.assert_allclose(head.predict_proba(features).sum(axis=1), 1)
    assert CalibratedHead(method="auto").fit(features, y).method_ == "temperature"  # 300 texts


def test_saved_calibrated_model_predicts_identically(calibrated, mpqa, tmp_path):
    model, _ = calibrated
    _, _, X_test, _ = mpqa
    lightxfer.save(model, tmp_path / "model.skops")
    loaded = lightxfer.load(tmp_path / "model.skops")
    assert type(loaded) is AbstainingPipeline
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    np.testing.assert_allclose(loaded.predict_proba(X_test), model.predict_proba(X_test))
    np.testing.assert_array_equal(
        loaded.predict(X_test, min_confidence=0.8), model.predict(X_test, min_confidence=0.8)
    )


def test_grid_search_reaches_the_wrapped_head(mpqa):
    X, y, _, _ = mpqa
    model = lightxfer.make_classifier(pooling="mean", calibrate=True)
    search = GridSearchCV(model, {"head__estimator__C": [0.1, 10.0]}, cv=2).fit(X[:150], y[:150])
    assert search.best_estimator_.named_steps["head"].estimator_.C in (0.1, 10.0)
    assert isinstance(search.best_estimator_, AbstainingPipeline)


def test_transfer_from_a_calibrated_source_reuses_the_wrapped_head(calibrated, mpqa):
    model, _ = calibrated
    X, y, _, _ = mpqa
    target = lightxfer.transfer(model)
    assert target.named_steps["head"].solver == "newton-cg"  # the source head's settings
    assert target.fit(X[:60], y[:60]).predict(X[:5]).shape == (5,)


def test_calibration_with_one_example_per_class_is_refused_in_one_line():
    model = lightxfer.make_classifier(pooling="mean", calibrate=True)
    with pytest.raises(ValueError, match="calibration needs held-out examples") as error:
        model.fit(["a good film", "a bad film", "dull"], ["pos", "neg", "meh"])
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="calibrate must be True, False or one of"):
        lightxfer.make_classifier(calibrate="platt")


# -- not sure -----------------------------------------------------------------------------------


def test_predict_with_min_confidence_marks_the_texts_below_it(calibrated, mpqa):
    model, _ = calibrated
    _, _, X_test, _ = mpqa
    labels, proba = model.predict(X_test), model.predict_proba(X_test)
    marked = model.predict(X_test, min_confidence=0.8)
    sure = proba.max(axis=1) >= 0.8
    assert 0 < sure.sum() < len(sure)
    assert all(label is None for label in marked[~sure])
    np.testing.assert_array_equal(marked[sure], labels[sure])
    assert (model.predict(X_test, min_confidence=1.0) == None).sum() > (~sure).sum()  # noqa: E711
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        model.predict(X_test, min_confidence=0)


def test_any_pipeline_can_abstain_and_one_without_probabilities_says_so(mpqa):
    X, y, X_test, y_test = mpqa
    old = Pipeline(list(lightxfer.make_classifier(pooling="mean").steps)).fit(
        X, y
    )  # as saved before
    marked = predict_or_abstain(old, X_test, 0.7)
    sure = old.predict_proba(X_test).max(axis=1) >= 0.7
    np.testing.assert_array_equal(marked[sure], old.predict(X_test)[sure])
    assert all(label is None for label in marked[~sure])
    svm = lightxfer.make_classifier(head=LinearSVC()).fit(X, y)
    with pytest.raises(TypeError, match="LinearSVC has no predict_proba"):
        svm.predict(X_test, min_confidence=0.8)
    scores = lightxfer.evaluate(svm, X_test, y_test, target_accuracy=0.9)
    assert scores["accuracy"] == pytest.approx(svm.score(X_test, y_test)) and "ece" not in scores


def test_evaluate_reports_calibration_and_the_threshold_for_a_target(calibrated, mpqa):
    model, _ = calibrated
    _, _, X_test, y_test = mpqa
    scores = lightxfer.evaluate(model, X_test, y_test, min_confidence=0.7, target_accuracy=0.9)
    assert scores["accuracy"] == pytest.approx(model.score(X_test, y_test))
    proba = model.predict_proba(X_test)
    assert scores["ece"] == reliability.expected_calibration_error(y_test, proba, model.classes_)
    assert scores["coverage"] == pytest.approx(np.mean(proba.max(axis=1) >= 0.7))
    assert 0 < scores["threshold"] < 1 and 0 < scores["threshold_coverage"] < 1
    assert scores["threshold_accuracy"] > 0.8


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(calibrated, mpqa, tmp_path_factory):
    import pandas as pd

    folder = tmp_path_factory.mktemp("calibration_cli")
    model, _ = calibrated
    lightxfer.save(model, folder / "model.skops")
    _, _, X_test, y_test = mpqa
    pd.DataFrame({"text": X_test, "label": y_test}).to_csv(folder / "test.csv", index=False)
    return folder


def run(capsys, *argv):
    from lightxfer.cli.entrypoint import main

    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_predict_leaves_not_sure_cells_empty(files, capsys):
    import pandas as pd

    out_path = files / "predictions.csv"
    code, _, _ = run(
        capsys,
        *("predict", "--model", files / "model.skops", "--input", files / "test.csv"),
        *("--output", out_path, "--min-confidence", "0.8"),
    )
    assert code == 0
    table = pd.read_csv(out_path)
    proba = table.filter(like="proba_").to_numpy()
    np.testing.assert_array_equal(table["prediction"].isna(), proba.max(axis=1) < 0.8)


def test_cli_evaluate_prints_calibration_threshold_and_plot(files, capsys):
    plot = files / "reliability.png"
    code, out, _ = run(
        capsys,
        *("evaluate", "--model", files / "model.skops", "--test", files / "test.csv"),
        *("--target-accuracy", "0.9", "--plot", plot),
    )
    assert code == 0, out
    assert "calibration error (ECE, top label, 15 equal-mass bins): 0." in out
    assert "Brier score: 0." in out and "log-loss: " in out
    assert "confidence >= 0.8: answers " in out
    assert "target accuracy 90.0%: threshold 0." in out and "on held-out folds" in out
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["evaluate", "--min-confidence", "0"], "--min-confidence must be a probability in (0, 1]"),
        (["evaluate", "--target-accuracy", "1.5"], "--target-accuracy must be a probability"),
        (["predict", "--min-confidence", "2", "--output", "out.csv"], "--min-confidence must be"),
    ],
)
def test_cli_thresholds_outside_0_1_are_one_line_errors(files, capsys, argv, fragment):
    command, *rest = argv
    where = (
        ["--test", files / "test.csv"] if command == "evaluate" else ["--input", files / "test.csv"]
    )
    code, _, err = run(capsys, command, "--model", files / "model.skops", *where, *rest)
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err


class LabelTuned(TransformerMixin, BaseEstimator):
    """Pooled GloVe, plus the label of every text it was fitted on: a layer tuned on labels.

    As a fine-tuned encoder does, it separates its training texts far better than new ones.
    """

    def __init__(self, fine_tune=True):
        self.fine_tune = fine_tune

    def fit(self, X, y):
        self.vectorizer_ = lightxfer.EmbeddingVectorizer().fit(X)
        self.seen_ = dict(zip(X, y))
        self.classes_ = np.unique(y)
        return self

    def transform(self, X):
        labels = np.array([self.seen_.get(text) for text in X], dtype=object)
        tuned = (labels[:, None] == self.classes_[None, :]).astype(float)
        return np.hstack([self.vectorizer_.transform(X), 3 * tuned])


def test_a_layer_tuned_on_the_labels_is_calibrated_on_whole_pipeline_folds(mpqa):
    X, y, X_test, y_test = mpqa
    eces = {}
    for fine_tune in (True, False):  # False: the head's own folds, on leaked features
        steps = [("embedding", LabelTuned(fine_tune)), ("head", CalibratedHead())]
        model = AbstainingPipeline(steps).fit(X, y)
        proba = model.predict_proba(X_test)
        eces[fine_tune] = reliability.expected_calibration_error(y_test, proba, model.classes_)
        if fine_tune:
            np.testing.assert_array_equal(
                model.predict(X_test), model[-1].estimator_.predict(model[0].transform(X_test))
            )
    assert eces[True] < 0.6 * eces[False]


def test_a_large_temperature_keeps_the_heads_ranking_of_float32_probabilities():
    # A head on float32 features says float32; T near its bound must not tie the classes.
    proba = np.array([[0.4999988, 0.5000012], [0.6, 0.4]], dtype=np.float32)
    calibrated = apply_temperature(proba, 148.0)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), [1, 0])
    np.testing.assert_allclose(calibrated, 0.5, atol=2e-3)
