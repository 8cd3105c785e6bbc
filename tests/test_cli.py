"""Every CLI command end to end on small CSV/TSV/JSONL tables, and bad inputs."""

import csv

import numpy as np
import pandas as pd
import pytest
from conftest import read_shared

import lightxfer
from lightxfer.cli.entrypoint import build_parser, main
from lightxfer.tables import read_table

COMMANDS = [
    "train",
    "predict",
    "evaluate",
    "transfer",
    "vectors",
    "demo",
    "suggest",
    "check-labels",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """SST-2 train (CSV) and test (TSV, JSONL), an MPQA target (CSV) and a trained model."""
    folder = tmp_path_factory.mktemp("cli")
    paths = {
        "train": folder / "sst2.csv",
        "test": folder / "sst2_test.tsv",
        "input": folder / "texts.jsonl",
        "target": folder / "mpqa.csv",
        "model": folder / "source.skops",
    }
    read_shared("sst2_train", 300).to_csv(paths["train"], index=False)
    test = read_shared("sst2_test", 60, seed=1)
    test.to_csv(paths["test"], sep="\t", index=False, quoting=csv.QUOTE_NONE)
    test.to_json(paths["input"], orient="records", lines=True)
    read_shared("mpqa", 200).to_csv(paths["target"], index=False)
    argv = [
        "train",
        "--train",
        paths["train"],
        "--head",
        "mlp",
        "--cv",
        "0",
        "--out",
        paths["model"],
    ]
    code = main([str(arg) for arg in argv])
    assert code == 0
    return paths


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]


def test_every_command_is_registered():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert set(COMMANDS) <= set(choices)


@pytest.mark.parametrize("command", [*COMMANDS, "vectors info", "vectors convert"])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"])
    assert exit_.value.code == 0
    assert f"usage: lightxfer {command}" in capsys.readouterr().out


def test_train_saves_a_working_model(files):
    model = lightxfer.load(files["model"])
    assert model.classes_.tolist() == ["negative", "positive"]
    assert type(model[-1]).__name__ == "MLPClassifier"


def test_train_forecast_prints_what_more_labels_should_give(files, tmp_path, capsys):
    code, out, _ = run(
        capsys, "train", "--train", files["train"], "--pooling", "mean", "--cv", "3",
        "--forecast", "--out", tmp_path / "forecast.skops",
    )  # fmt: skip
    assert code == 0
    line = next(line for line in out.splitlines() if "forecast:" in line)
    n = len(read_table(files["train"]))
    assert f"at {2 * n}, " in line and f"at {4 * n} labels (80% intervals)" in line, line


def test_train_grid_prints_best_parameters(files, tmp_path, capsys):
    out_path = tmp_path / "grid.skops"
    code, out, _ = run(
        capsys, "train", "--train", files["train"], "--pooling", "mean", "--grid", "--cv", "3",
        "--out", out_path,
    )  # fmt: skip
    assert code == 0
    assert "best parameters: {'head__C':" in out
    assert "best 3-fold CV accuracy:" in out
    assert lightxfer.load(out_path).named_steps["embedding"].pooling == "mean"


def test_predict_writes_labels_and_probabilities(files, tmp_path, capsys):
    out_path = tmp_path / "predictions.csv"
    code, out, _ = run(
        capsys,
        "predict",
        "--model",
        files["model"],
        "--input",
        files["input"],
        "--output",
        out_path,
    )
    assert code == 0 and "wrote 60 predictions" in out
    table = pd.read_csv(out_path)
    assert set(table["prediction"]) <= {"negative", "positive"}
    proba = table[["proba_negative", "proba_positive"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (table["prediction"] == np.where(proba[:, 1] > 0.5, "positive", "negative")).all()
    assert table["text"].tolist() == pd.read_json(files["input"], lines=True)["text"].tolist()


def test_evaluate_prints_scores_and_confusion_matrix(files, capsys):
    code, out, _ = run(capsys, "evaluate", "--model", files["model"], "--test", files["test"])
    assert code == 0
    accuracy = float(out.split("accuracy: ")[1].split("%")[0]) / 100
    model = lightxfer.load(files["model"])
    test = pd.read_csv(files["test"], sep="\t")
    assert accuracy == pytest.approx(model.score(test["text"], test["label"]), abs=1e-3)
    assert "macro-F1:" in out
    matrix = out.split("predicted):\n")[1].splitlines()
    assert matrix[0].split() == ["negative", "positive"]
    assert sum(int(n) for line in matrix[1:] for n in line.split()[1:]) == 60


def test_transfer_prints_table_and_verdicts(files, tmp_path, capsys):
    plot, saved = tmp_path / "plots" / "curves.png", tmp_path / "target.skops"
    code, out, err = run(
        capsys, "transfer", "--source", files["model"], "--train", files["target"],
        "--sizes", "4,16", "--seeds", "2", "--plot", plot, "--out", saved,
    )  # fmt: skip
    assert code == 0, err
    assert "reused from" in out and "hidden layers (256,)" in out
    # No --test: every one of the 200 texts is tested, once per seed (3-fold cross-validation).
    for method in ("transfer", "frozen shared layer", "recommended from scratch", "TF-IDF"):
        assert f"| 4 | 8 | 200 | {method}" in out.replace("**", "")
        assert f"| 16 | 32 | 200 | {method}" in out.replace("**", "")
    assert "4 per class, 8 training and 200 test texts:" in out
    assert "Tested: 200 texts, each predicted once in each of 2 repeats of 3-fold" in out
    assert out.splitlines()[-3].startswith("Use ")  # the recommendation, before the files
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # into a folder not there before
    target = lightxfer.load(saved)
    assert [name for name, _ in target.steps] == ["embedding", "hidden", "head"]


def test_transfer_with_test_file_and_embedding_freeze(files, capsys):
    code, out, _ = run(
        capsys, "transfer", "--source", files["model"], "--train", files["target"],
        "--test", files["test"], "--sizes", "8", "--seeds", "1", "--freeze", "embedding",
    )  # fmt: skip
    assert code == 0
    assert "| 8 | 16 | 60 | transfer |" in out
    assert "| frozen shared layer |" not in out  # the same pipeline as transfer: not compared


@pytest.fixture(scope="module")
def recommended_model(files):
    """``lightxfer train`` with every default: the recommended model."""
    path = files["model"].with_name("recommended.skops")
    assert main(["train", "--train", str(files["train"]), "--cv", "0", "--out", str(path)]) == 0
    return path


def test_transfer_with_defaults_from_train_with_defaults(files, recommended_model, capsys):
    target = files["model"].with_name("mpqa_small.csv")
    read_shared("mpqa", 120).to_csv(target, index=False)
    code, out, err = run(capsys, "transfer", "--source", recommended_model, "--train", target)
    assert code == 0, err
    assert "reused from" in out and "the frozen shared layers (HybridVectorizer)" in out
    # Pools of 80 (3-fold): 128 per class is every training text, so "128" and "all" are one row.
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| ")]
    assert [row[0].strip("| ") for row in rows[2::3]] == ["8", "32", "128/all"]
    assert {row[3].strip("*").removesuffix(" (predicts one class)") for row in rows[1:]} == {
        "transfer", "recommended from scratch", "TF-IDF from scratch"
    }  # fmt: skip
    assert all(row[2] == "120" for row in rows[1:])  # every text tested
    verdict = out.split("\n\n")[-1].splitlines()[0]
    assert "training from scratch" in verdict.lower() or "too little" in verdict.lower()


def test_transfer_errors_speak_in_flags_and_come_before_any_work(
    files, recommended_model, tmp_path, capsys
):
    code, _, err = run(capsys, "transfer", "--source", recommended_model, "--train",
                       files["target"], "--freeze", "hidden")  # fmt: skip
    assert_one_line_error(code, err, "--freeze hidden needs", "--freeze embedding")
    assert "freeze=" not in err
    blocker = tmp_path / "plots"
    blocker.write_text("")
    code, out, err = run(capsys, "transfer", "--source", files["model"], "--train",
                         files["target"], "--plot", blocker / "x.png")  # fmt: skip
    assert_one_line_error(code, err, "plots is a file, not a folder")
    assert out == ""
    code, out, err = run(capsys, "transfer", "--source", files["model"], "--train",
                         files["target"], "--out", tmp_path)  # fmt: skip
    assert_one_line_error(code, err, "is a folder, not a file")


def test_vectors_info_and_convert(files, glove, tmp_path, capsys):
    code, out, _ = run(capsys, "vectors", "info", "--texts", files["train"])
    assert code == 0
    assert "dimension:   50" in out and "words:       400000" in out
    assert f"fingerprint: {lightxfer.fingerprint(glove)}" in out
    coverage = float(out.split("coverage:")[1].split("%")[0])
    assert 95 < coverage <= 100
    small = tmp_path / "small.txt"
    small.write_text(
        "".join(f"{w} {' '.join(map(str, glove[w][:5]))}\n" for w in glove.index_to_key[:300])
    )
    code, out, _ = run(capsys, "vectors", "convert", small)
    assert code == 0 and "300 words x 5 dimensions" in out
    cache = out.split("cache: ")[1].strip()
    assert (tmp_path / cache).is_dir()


def test_missing_column(files, tmp_path, capsys):
    code, _, err = run(
        capsys, "train", "--train", files["train"], "--label-column", "sentiment",
        "--out", tmp_path / "m.skops",
    )  # fmt: skip
    assert_one_line_error(code, err, "sst2.csv", "no column 'sentiment'")
    assert not (tmp_path / "m.skops").exists()


def test_empty_file(files, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, "predict", "--model", files["model"], "--input", empty,
                       "--output", tmp_path / "p.csv")  # fmt: skip
    assert_one_line_error(code, err, "empty.csv", "empty")


def test_unknown_label_in_evaluation(files, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    table = read_shared("sst2_test", 10)
    table.loc[3, "label"] = "neutral"
    table.to_json(bad, orient="records", lines=True)
    code, _, err = run(capsys, "evaluate", "--model", files["model"], "--test", bad)
    assert_one_line_error(code, err, "bad.jsonl, line 4", "'neutral'", "negative, positive")


def test_missing_model_and_bad_sizes(files, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "nope.skops", "--test",
                       files["test"])  # fmt: skip
    assert_one_line_error(code, err, "nope.skops", "no such model file")
    code, _, err = run(capsys, "transfer", "--source", files["model"], "--train",
                       files["target"], "--sizes", "8,lots")  # fmt: skip
    assert_one_line_error(code, err, "'lots'")
    code, _, err = run(capsys, "predict", "--model", files["model"], "--input", files["input"],
                       "--output", tmp_path / "out.xlsx")  # fmt: skip
    assert_one_line_error(code, err, "out.xlsx", "unknown output format")
