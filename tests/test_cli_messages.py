"""Issue 25: every ``--grid`` fits, ``train`` reports a score, and each mistake gets one line."""

import io
import os
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

import lightxfer
from lightxfer import EmbeddingVectorizer, SentenceEncoder, make_classifier
from lightxfer.cli.entrypoint import main
from lightxfer.persistence import untrusted_types
from lightxfer.tables import TableError, read_table

ENCODER = "all-MiniLM-L6-v2"


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """40 SST-2 sentences (CSV), and a plain model trained on them."""
    folder = tmp_path_factory.mktemp("messages")
    table = read_shared("sst2_train", 40)
    table.to_csv(folder / "train.csv", index=False)
    model = make_classifier(pooling="mean").fit(table["text"], table["label"])
    lightxfer.save(model, folder / "model.skops")
    return folder, table


# -- 1. --grid --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--encoder", ENCODER],
        ["--head", "logreg"],
        ["--head", "mlp"],
        ["--pooling", "mean"],
        ["--encoder", ENCODER, "--head", "logreg"],
        ["--encoder", ENCODER, "--head", "mlp"],
    ],
    ids=" ".join,
)
def test_every_grid_the_cli_builds_fits(small, tmp_path, capsys, options):
    folder, _ = small
    out_path = tmp_path / "grid.skops"
    code, out, err = run(capsys, "train", "--train", folder / "train.csv", *options,
                         "--grid", "--cv", "2", "--out", out_path)  # fmt: skip
    assert code == 0, err
    assert lightxfer.load(out_path).predict(["a fine film"])[0] in ("negative", "positive")
    if "--head" in options or "--pooling" in options:
        assert "best 2-fold CV accuracy" in out
    else:  # the recommended model searches its own n-gram weight and C
        assert "--grid: nothing to search: the recommended model already chooses" in out
        assert "2-fold CV accuracy estimate" in out


# -- 3. train reports a score and its time ---------------------------------------------------


def test_train_prints_a_cross_validated_estimate_and_its_time(small, tmp_path, capsys):
    folder, _ = small
    argv = ["train", "--train", folder / "train.csv", "--pooling", "mean"]
    code, out, _ = run(capsys, *argv, "--out", tmp_path / "a.skops")
    assert code == 0
    assert "5-fold CV accuracy estimate: " in out and "trained in " in out
    code, out, _ = run(capsys, *argv, "--cv", "0", "--out", tmp_path / "b.skops")
    assert code == 0 and "CV" not in out and "trained in " in out


class Terminal(io.StringIO):
    """Standard error as a terminal: tqdm shows bars there."""

    def isatty(self):
        return True


def test_encoding_shows_a_bar_below_thousands_of_texts_on_a_terminal_only(monkeypatch):
    texts = [f"text number {i}" for i in range(300)]
    encoder = SentenceEncoder(ENCODER, cache=False).fit(texts[:1])
    # What is tested is the bar, not the model: skip the encoding itself.
    dimension = encoder.transform(texts[:1]).shape[1]
    monkeypatch.setattr(
        SentenceEncoder,
        "_encode",
        lambda self, loaded, block, limit: np.zeros((len(block), dimension)),
    )
    for stream, shown in [(Terminal(), True), (io.StringIO(), False)]:
        monkeypatch.setattr(sys, "stderr", stream)
        encoder.transform(texts)
        assert ("encoding" in stream.getvalue()) is shown


def test_train_on_a_terminal_shows_the_recommended_search(small, tmp_path, monkeypatch):
    folder, _ = small
    argv = ["train", "--train", folder / "train.csv", "--cv", "0", "--out", tmp_path / "m.skops"]
    for stream, shown in [(Terminal(), True), (io.StringIO(), False)]:
        monkeypatch.setattr(sys, "stderr", stream)
        assert main([str(arg) for arg in argv]) == 0
        assert ("searching" in stream.getvalue()) is shown
    assert lightxfer.load(tmp_path / "m.skops").get_params()["embedding__progress"] is None


# -- 6. messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "fragments"),
    [
        ([0.5, 1.5], ["column 'label'", "0.5, 1.5 are not whole numbers"]),
        (["positive"], ["column 'label'", "every row has the label 'positive'", "2 classes"]),
    ],
)
def test_labels_no_classifier_can_fit_are_refused_before_fitting(
    small, tmp_path, capsys, labels, fragments
):
    _, table = small
    path = tmp_path / "labels.csv"
    table.assign(label=np.resize(labels, len(table))).to_csv(path, index=False)
    out_path = tmp_path / "m.skops"
    code, out, err = run(capsys, "train", "--train", path, "--out", out_path)
    one_line_error(code, err, "labels.csv", *fragments)
    assert "training on" not in out and not out_path.exists()


def test_trusted_on_predict_evaluate_and_transfer(small, tmp_path, capsys):
    folder, table = small
    model = Pipeline([("embedding", EmbeddingVectorizer()), ("head", DecisionTreeClassifier())])
    path = lightxfer.save(model.fit(table["text"], table["label"]), tmp_path / "tree.skops")
    predict = ["predict", "--model", path, "--input", folder / "train.csv",
               "--output", tmp_path / "p.csv"]  # fmt: skip
    evaluate = ["evaluate", "--model", path, "--test", folder / "train.csv"]
    transfer = ["transfer", "--source", path, "--train", folder / "train.csv", "--sizes", "4",
                "--seeds", "1", "--test", folder / "train.csv"]  # fmt: skip
    trusted = [arg for name in untrusted_types(path) for arg in ("--trusted", name)]
    assert trusted
    for argv in (predict, evaluate, transfer):
        code, _, err = run(capsys, *argv)
        line = one_line_error(code, err, "tree.skops", "pass --trusted TYPE")
        assert "trusted=" not in line
    for argv in (predict, evaluate):
        assert run(capsys, *argv, *trusted)[0] == 0


def test_a_model_that_takes_numbers_is_named_as_such(small, tmp_path, capsys):
    folder, _ = small
    numeric = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    path = lightxfer.save(numeric, tmp_path / "numbers.skops")
    code, _, err = run(capsys, "predict", "--model", path, "--input", folder / "train.csv",
                       "--output", tmp_path / "p.csv")  # fmt: skip
    one_line_error(code, err, "numbers.skops", "LogisticRegression, takes numbers, not texts")


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_a_pickle_model_file_is_written_only_with_allow_pickle(small, tmp_path, capsys, suffix):
    folder, _ = small
    out_path = tmp_path / f"model{suffix}"
    argv = ["train", "--train", folder / "train.csv", "--pooling", "mean", "--cv", "0"]
    code, out, err = run(capsys, *argv, "--out", out_path)
    one_line_error(code, err, f"model{suffix}", "is a pickle", "--allow-pickle", ".skops")
    assert out == "" and not out_path.exists()
    assert run(capsys, *argv, "--out", out_path, "--allow-pickle")[0] == 0
    assert out_path.exists()


def test_a_tab_separated_csv_is_named_as_such(small, tmp_path, capsys):
    folder, table = small
    path = tmp_path / "really_tabs.csv"
    table.to_csv(path, sep="\t", index=False)
    code, _, err = run(capsys, "predict", "--model", folder / "model.skops", "--input", path,
                       "--output", tmp_path / "p.csv")  # fmt: skip
    one_line_error(code, err, "really_tabs.csv", "tab-separated", "rename it to .tsv")


def test_an_unfitted_source_is_named_as_the_source(small, tmp_path, capsys):
    folder, _ = small
    path = lightxfer.save(make_classifier(pooling="mean"), tmp_path / "unfitted.skops")
    code, _, err = run(capsys, "transfer", "--source", path, "--train", folder / "train.csv")
    one_line_error(code, err, "unfitted.skops", "source model is not fitted")
    with pytest.raises(ValueError, match="source_model is not fitted"):
        lightxfer.transfer(make_classifier())


def test_dataset_previews_fit_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "72")
    code, out, _ = run(capsys, "datasets", "sst2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["label", "text"]
    assert max(map(len, lines[:11])) <= 72
    assert lines[1].startswith(("negative  ", "positive  "))  # texts left-aligned


# -- issue 22, point 8 --------------------------------------------------------------------------


def test_a_header_that_is_data_is_never_echoed(tmp_path):
    path = tmp_path / "no_header.csv"
    path.write_text("sk-live-51HcQ2eZvKYlo2C,1\nanother row,0\n")
    with pytest.raises(TableError) as error:
        read_table(path)
    assert "sk-live" not in str(error.value)
    assert "no column 'text'" in str(error.value) and "2 columns" in str(error.value)


def test_predict_output_is_atomic_and_replaces_a_symlink(small, tmp_path, capsys, monkeypatch):
    folder, _ = small
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("not to be touched\n")
    link = tmp_path / "predictions.csv"
    link.symlink_to(elsewhere)
    predict = ["predict", "--model", folder / "model.skops", "--input", folder / "train.csv",
               "--output", link]  # fmt: skip
    assert run(capsys, *predict)[0] == 0
    assert elsewhere.read_text() == "not to be touched\n"
    assert not link.is_symlink() and len(pd.read_csv(link)) == 40
    before = link.read_bytes()

    def fail_half_way(self, file, *args, **kwargs):
        file.write("text,prediction\nhalf")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_half_way)
    code, _, err = run(capsys, *predict)
    one_line_error(code, err, "disk full")
    assert link.read_bytes() == before  # the old predictions, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert os.access(link, os.R_OK)
