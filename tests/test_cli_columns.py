"""``lightxfer transfer`` finds the text and label columns of a newcomer's table by itself."""

import pandas as pd
import pytest
from conftest import read_shared

import lightxfer
from lightxfer.cli.columns import find_columns
from lightxfer.cli.entrypoint import main


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    """36 question-type texts (3 classes x 12) under the names a help desk would use."""
    trec = read_shared("trec_train")
    rows = pd.concat([trec[trec["label"] == c].head(12) for c in ("HUM", "LOC", "NUM")])
    table = pd.DataFrame(
        {
            "id": range(len(rows)),
            "body": rows["text"].to_numpy(),
            "category": rows["label"].to_numpy(),
        }
    )
    path = tmp_path_factory.mktemp("tickets") / "tickets.csv"
    table.to_csv(path, index=False)
    return path, table


def test_unambiguous_columns_are_found_and_named_in_one_line(tickets):
    path, _ = tickets
    text, label, note = find_columns(path)
    assert (text, label) == ("body", "category")
    assert note == (
        "tickets.csv: texts from 'body' and labels from 'category' "
        "(--text-column/--label-column to choose)"
    )
    assert find_columns(path, "body", "category")[2] is None  # nothing guessed, nothing said
    assert find_columns(path, label_column="id")[:2] == ("body", "id")


def test_the_usual_names_win_and_doubt_asks_for_the_flag(tickets, tmp_path):
    path, table = tickets
    usual = tmp_path / "usual.csv"
    table.rename(columns={"category": "label"}).assign(priority=[1, 2] * 18).to_csv(usual)
    assert find_columns(usual)[:2] == ("body", "label")
    two = tmp_path / "two.csv"
    table.assign(priority=["high", "low"] * 18).to_csv(two, index=False)
    with pytest.raises(ValueError, match=r"candidates: category, priority\); pass --label-column"):
        find_columns(two)
    assert find_columns(two, label_column="priority")[:2] == ("body", "priority")
    headless = tmp_path / "headless.csv"
    table.to_csv(headless, index=False, header=False)
    with pytest.raises(ValueError, match="does not look like a header") as error:
        find_columns(headless)
    assert table["body"].iloc[0] not in str(error.value)  # a data row is never echoed


def test_transfer_on_the_tickets_names_columns_and_recommends_a_model(tickets, sst2, capsys):
    path, _ = tickets
    X, y, _, _ = sst2
    source = path.with_name("source.skops")
    lightxfer.save(lightxfer.make_classifier(head="logreg").fit(X, y), source)
    argv = ["transfer", "--source", str(source), "--train", str(path), "--sizes", "all",
            "--seeds", "1"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tickets.csv: texts from 'body' and labels from 'category'")
    assert "Tested: 36 texts, each predicted once in each of 1 repeat of 3-fold" in "\n".join(lines)
    assert lines[-1].startswith("Use ") and "on your 36 texts" in lines[-1]
