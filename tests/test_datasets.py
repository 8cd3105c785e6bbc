"""The shipped benchmark datasets: exact bytes, sizes, labels, loaders, errors and the CLI."""

import ast
import bz2
import hashlib
import re
from fnmatch import fnmatch
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from outside_reads import REPO

from lightxfer.cli.commands.demo import DEMO_TEXTS, demo_data
from lightxfer.cli.entrypoint import main
from lightxfer.datasets import (
    DATASETS,
    list_datasets,
    load_dataset,
    load_mpqa,
    load_sst2,
    load_sst5,
    load_subj,
    load_trec,
)

DATA = resources.files("lightxfer") / "data"
SPLITS = [(name, split) for name, info in DATASETS.items() for split in info.splits]


def checksums():
    """``{file: sha256 of its CSV}`` from the provenance table of ``lightxfer/data/README.md``."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `(\w+\.csv\.bz2)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M))


def test_every_shipped_file_is_the_published_csv_byte_for_byte():
    expected = checksums()
    shipped = sorted(path.name for path in DATA.iterdir() if path.name.endswith(".bz2"))
    assert shipped == sorted(expected) and len(shipped) == len(SPLITS)
    for name in shipped:
        csv = bz2.decompress((DATA / name).read_bytes())
        assert hashlib.sha256(csv).hexdigest() == expected[name], f"{name} was changed"


def test_setup_ships_every_data_file_in_the_wheel():
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.keywords)
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    patterns = package_data["lightxfer"]
    for path in DATA.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            name = path.relative_to(DATA.parent).as_posix()
            assert any(fnmatch(name, p) for p in patterns), f"{name} not shipped"


@pytest.mark.parametrize(("name", "split"), SPLITS)
def test_each_split_has_its_rows_classes_and_no_missing_text(name, split):
    table = load_dataset(name, split, as_frame=True)
    info = DATASETS[name]
    assert len(table) == info.splits[split]
    assert set(table["label"]) == set(info.classes)
    assert table["text"].str.strip().str.len().gt(0).all()
    assert list(table.columns[:2]) == ["text", "label"]


def test_trec_fine_labels_refine_the_coarse_ones():
    table = load_trec("train", as_frame=True)
    assert (table["fine_label"].str.split(":").str[0] == table["label"]).all()
    texts, fine = load_trec("train", fine=True)
    assert len(set(fine)) == 50 and list(fine) == table["fine_label"].tolist()
    assert list(texts) == table["text"].tolist()


def test_loaders_return_object_arrays_like_sklearn():
    texts, labels = load_sst2()  # default split: train
    assert texts.dtype == object and labels.dtype == object
    assert isinstance(texts[0], str) and len(texts) == DATASETS["sst2"].splits["train"]
    for loader, name in [(load_sst5, "sst5"), (load_subj, "subj"), (load_mpqa, "mpqa")]:
        X, y = loader()
        X_ref, y_ref = load_dataset(name)
        assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)


def test_frames_are_fresh_copies():
    first = load_sst2("dev", as_frame=True)
    first.loc[0, "label"] = "changed"
    assert load_sst2("dev", as_frame=True).loc[0, "label"] != "changed"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load_dataset("imdb"), "unknown dataset 'imdb': choose one of 'sst2', 'sst5'"),
        (lambda: load_sst2("validation"), "no split 'validation': choose one of 'train', 'dev'"),
        (lambda: load_dataset("subj", "train"), "'subj' has no split 'train': choose one of 'all'"),
        (lambda: load_dataset("sst2", label_column="fine_label"), "no column 'fine_label'"),
    ],
)
def test_bad_name_split_or_column_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_own_copy_in_data_dir_is_read_as_strings(tmp_path):
    pd.DataFrame({"text": ["NA", "null", "fine"], "label": ["a", "b", "a"]}).to_csv(
        tmp_path / "sst2_dev.csv", index=False
    )
    texts, labels = load_dataset("sst2", "dev", data_dir=tmp_path)
    assert list(texts) == ["NA", "null", "fine"] and list(labels) == ["a", "b", "a"]
    with pytest.raises(FileNotFoundError, match="sst2_test.csv: no such file"):
        load_dataset("sst2", "test", data_dir=tmp_path)


def test_list_datasets_describes_every_set():
    table = list_datasets()
    assert table.index.tolist() == list(DATASETS)
    assert table.notna().all().all()
    assert table.loc["subj", "evaluation"].endswith("10-fold cross-validated accuracy")
    assert "research use only" in table.loc["mpqa", "licence"]


def test_cli_lists_and_writes_a_dataset(tmp_path, capsys):
    assert main(["datasets"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name}: " in listed for name in DATASETS)
    out = tmp_path / "trec_test.jsonl"
    assert main(["datasets", "trec", "--split", "test", "--output", str(out)]) == 0
    written, shipped = pd.read_json(out, lines=True, dtype=str), load_trec("test", as_frame=True)
    assert list(written.columns) == list(shipped.columns)
    assert written.to_numpy().tolist() == shipped.to_numpy().tolist()


def test_cli_dataset_errors_are_one_line(capsys):
    assert main(["datasets", "trec", "--split", "dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "lightxfer datasets: error: dataset 'trec' has no split 'dev': choose one of 'train', 'test'"
    )


def test_demo_samples_a_shipped_dataset_stratified():
    texts, labels = demo_data("mpqa")
    assert len(texts) == DEMO_TEXTS
    share = np.mean(labels == "negative")
    _, all_labels = load_mpqa()
    assert share == pytest.approx(np.mean(all_labels == "negative"), abs=0.002)
    with pytest.raises(SystemExit):
        main(["demo", "--dataset", "imdb"])


def test_all_texts_are_every_split_or_the_users_csvs(tmp_path):
    from lightxfer.datasets import load_all_texts

    texts = load_all_texts()
    assert len(texts) == sum(
        len(load_dataset(n, s)[0]) for n in DATASETS for s in DATASETS[n].splits
    )
    assert texts[0] == load_dataset("mpqa")[0][0]  # file-name order: mpqa first
    (tmp_path / "b.csv").write_text("text,label\nsecond,x\n")
    (tmp_path / "a.csv").write_text("text\nfirst\n")
    assert load_all_texts(tmp_path) == ["first", "second"]
    with pytest.raises(FileNotFoundError, match="no CSV files"):
        load_all_texts(tmp_path / "b.csv")
