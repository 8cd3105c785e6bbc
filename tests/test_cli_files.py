"""The CLI keeps what a file says: TSV rows, numeric labels, output columns; it reports as it goes."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import lightxfer
from lightxfer import make_classifier
from lightxfer.cli.commands import train
from lightxfer.cli.commands.predict import predictions
from lightxfer.cli.common import write_table
from lightxfer.cli.entrypoint import main
from lightxfer.tables import TableError, read_table


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def numeric(tmp_path_factory):
    """SST-2 with labels 0.0/1.0 for training, 0/1 for testing, and a model trained by the CLI."""
    folder = tmp_path_factory.mktemp("numeric")
    train_table = read_shared("sst2_train", 200)
    test_table = read_shared("sst2_test", 40, seed=1)
    positive = {"negative": 0, "positive": 1}
    train_table["label"] = train_table["label"].map(positive).astype(float)
    test_table["label"] = test_table["label"].map(positive)
    paths = {"train": folder / "train.csv", "test": folder / "test.csv"}
    train_table.to_csv(paths["train"], index=False)
    test_table.to_csv(paths["test"], index=False)
    assert "0.0" in paths["train"].read_text() and "0.0" not in paths["test"].read_text()
    paths["model"] = folder / "model.skops"
    argv = ["train", "--train", paths["train"], "--pooling", "mean", "--cv", "0"]
    argv += ["--out", paths["model"]]
    assert main([str(arg) for arg in argv]) == 0
    return paths, test_table


# -- TSV ---------------------------------------------------------------------------------


def test_tsv_has_no_quoting(tmp_path):
    path = tmp_path / "quotes.tsv"
    texts = ['"a quote opens', "the next line", 'she said "fine"', '""', "last one"]
    path.write_text("text\tlabel\n" + "".join(f"{text}\t{i}\n" for i, text in enumerate(texts)))
    table = read_table(path, label_column="label")
    assert table["text"].tolist() == texts
    assert table["label"].tolist() == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("line", ["a text\t1\textra", "a text without its label"])
def test_a_tsv_row_with_another_number_of_fields_names_its_line(tmp_path, line):
    path = tmp_path / "bad.tsv"
    path.write_text(f"text\tlabel\nfine\t0\n{line}\nfine again\t1\n")
    with pytest.raises(TableError, match=r"bad.tsv, line 3: \d tab-separated fields"):
        read_table(path, label_column="label")


def test_written_tsv_reads_back_unchanged(tmp_path):
    table = pd.DataFrame({"text": ['"quoted" start', "plain"], "prediction": [1, 0]})
    write_table(table, tmp_path / "out.tsv")
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "out.tsv").astype({"prediction": int}), table, check_dtype=False
    )
    with pytest.raises(ValueError, match="row 2, column 'text' holds a tab"):
        write_table(pd.DataFrame({"text": ["fine", "a\ttab"]}), tmp_path / "tab.tsv")


# -- numeric labels -------------------------------------------------------------------------


def test_numeric_labels_stay_numbers(numeric):
    paths, test_table = numeric
    model = lightxfer.load(paths["model"])
    assert model.classes_.dtype.kind in "iuf" and model.classes_.tolist() == [0, 1]
    accuracy = model.score(test_table["text"], test_table["label"])
    assert accuracy == np.mean(model.predict(test_table["text"]) == test_table["label"])
    assert accuracy > 0.6


def test_a_model_trained_on_floats_evaluates_integer_labels(numeric, capsys):
    paths, test_table = numeric
    code, out, err = run(capsys, "evaluate", "--model", paths["model"], "--test", paths["test"])
    assert code == 0, err
    model = lightxfer.load(paths["model"])
    expected = model.score(test_table["text"], test_table["label"])
    assert f"accuracy: {expected:.1%}" in out


@pytest.mark.parametrize(
    ("second", "place"),
    [("a fine film", "line 4"), ('"a quoted text\nover two lines"', "data row 3")],
)
def test_an_unknown_label_names_where_its_row_is(numeric, tmp_path, capsys, second, place):
    # Past a quoted field that spans lines, a row's line is not its position + 2.
    paths, _ = numeric
    path = tmp_path / "test.csv"
    path.write_text(f"text,label\na good film,1\n{second},0\nan odd one,7\n")
    code, _, err = run(capsys, "evaluate", "--model", paths["model"], "--test", path)
    assert code != 0
    assert f"{path}, {place}, column 'label': label 7 is not one the model" in err


def test_predictions_of_numeric_labels_are_numbers(numeric, tmp_path, capsys):
    paths, _ = numeric
    out_path = tmp_path / "predictions.jsonl"
    argv = ["predict", "--model", paths["model"], "--input", paths["test"], "--output", out_path]
    assert run(capsys, *argv)[0] == 0
    first = json.loads(out_path.read_text().splitlines()[0])
    assert first["prediction"] in (0, 1) and isinstance(first["prediction"], int)


# -- predict -------------------------------------------------------------------------------


def test_predict_transforms_the_texts_once(sst2):
    calls = []

    def count(texts):
        calls.append(len(texts))
        return texts

    model = make_classifier(pooling="mean")
    model = Pipeline([("count", FunctionTransformer(count)), *model.steps]).fit(*sst2[:2])
    calls.clear()
    out = predictions(model, sst2[2][:30])
    assert calls == [30]
    assert out["prediction"].tolist() == model.predict(sst2[2][:30]).tolist()
    np.testing.assert_allclose(
        out[["proba_negative", "proba_positive"]], model.predict_proba(sst2[2][:30]), atol=1e-6
    )


def test_predict_checks_the_output_before_any_work(tmp_path, capsys):
    argv = ["--model", tmp_path / "missing.skops", "--input", tmp_path / "missing.csv"]
    code, _, err = run(capsys, "predict", *argv, "--output", tmp_path / "p.txt")
    assert code == 2 and "p.txt: unknown output format '.txt'" in err


def test_predict_writes_to_stdout(numeric, capsys):
    paths, test_table = numeric
    argv = ["--model", paths["model"], "--input", paths["test"], "--output", "-"]
    code, out, err = run(capsys, "predict", *argv)
    assert code == 0 and "wrote 40 predictions to standard output" in err
    table = pd.read_csv(io.StringIO(out))
    assert table["text"].tolist() == test_table["text"].tolist()
    assert set(table["prediction"]) <= {0, 1}


def test_predict_refuses_an_input_that_has_a_prediction_column(numeric, tmp_path, capsys):
    paths, test_table = numeric
    path = tmp_path / "predicted.csv"
    test_table.assign(prediction=1).to_csv(path, index=False)
    argv = ["predict", "--model", paths["model"], "--input", path, "--output", tmp_path / "o.csv"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "already has the column(s) 'prediction'" in err
    assert "--prediction-column" in err and not (tmp_path / "o.csv").exists()
    code, _, _ = run(capsys, *argv, "--prediction-column", "again")
    assert code == 0
    written = pd.read_csv(tmp_path / "o.csv")
    assert {"prediction", "again", "again_proba_0", "again_proba_1"} <= set(written.columns)


# -- train, help, progress ------------------------------------------------------------------------


def test_grid_on_the_recommended_model_leaves_its_c_alone():
    assert train.default_grid(make_classifier()) == {}  # it searches its n-gram weight and C
    assert "already chooses" in train.nothing_to_grid(make_classifier())
    assert "head__C" in train.default_grid(make_classifier(pooling="mean"))


@pytest.mark.parametrize(
    "command, fragments",
    [
        ("train", ["default: logreg", "default: mean", "recommended model"]),
        ("vectors info", ["default: glove-wiki-gigaword-50"]),
    ],
)
def test_help_states_the_defaults(capsys, command, fragments):
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in fragments:
        assert fragment in text


def test_train_lines_reach_a_pipe_as_each_stage_starts(numeric, tmp_path, monkeypatch):
    # A pipe is block-buffered: a line reaches it only once flushed.
    pipe = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(pipe, encoding="utf-8"))
    seen_when_saving = []

    def save(model, path):
        seen_when_saving.append(pipe.getvalue().decode())
        return path

    monkeypatch.setattr(lightxfer.persistence, "save", save)
    paths, _ = numeric
    argv = [
        "train",
        "--train",
        paths["train"],
        "--pooling",
        "mean",
        "--cv",
        "0",
        "--out",
        tmp_path / "m",
    ]
    assert main([str(arg) for arg in argv]) == 0
    assert "training on 200 texts, 2 classes (0, 1)" in seen_when_saving[0]


def test_embed_off_a_terminal_prints_plain_lines(numeric, tmp_path, capsys):
    paths, _ = numeric
    argv = ["embed", "--input", paths["test"], "--output", tmp_path / "out", "--chunk-size", "15"]
    code, out, err = run(capsys, *argv)
    assert code == 0 and "wrote 40 x 50 features in 3 npy chunks" in out
    assert "\r" not in err and "embedded 40/40 texts" in err


def test_tsv_written_by_predict_keeps_texts_with_quotes(numeric, tmp_path, capsys):
    paths, test_table = numeric
    path = tmp_path / "in.tsv"
    texts = test_table.assign(text='"' + test_table["text"])
    texts.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    argv = ["predict", "--model", paths["model"], "--input", path, "--output", tmp_path / "o.tsv"]
    assert run(capsys, *argv)[0] == 0
    assert read_table(tmp_path / "o.tsv")["text"].tolist() == texts["text"].tolist()


def test_a_reader_closing_the_pipe_early_is_not_an_error():
    # As in `lightxfer datasets sst2 --output - | head -1`.
    command = [sys.executable, "-m", "lightxfer.cli.entrypoint", "datasets", "sst2"]
    process = subprocess.Popen(
        [*command, "--split", "train", "--output", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().startswith(b"text,label")
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert b"Broken pipe" not in process.stderr.read()
