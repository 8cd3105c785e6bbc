"""Issue 18: gensim ``.kv`` vectors (pickles) from the command line, with ``--allow-pickle``."""

import numpy as np
import pytest
from conftest import forget_loaded_vectors, read_shared
from gensim.models import KeyedVectors

from lightxfer.cli.entrypoint import main

pytestmark = pytest.mark.usefixtures("as_new_process")


@pytest.fixture
def kv_file(tmp_path, glove):
    kv = KeyedVectors(50)
    kv.add_vectors(glove.index_to_key[:2000], np.array(glove.vectors[:2000]))
    path = tmp_path / "small.kv"
    kv.save(str(path))
    forget_loaded_vectors()
    return path


@pytest.fixture
def train_file(tmp_path):
    path = tmp_path / "train.csv"
    read_shared("sst2_train", 80).to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_asks_for_the_flag(capsys, path, *argv):
    """Run ``argv``: a one-line error names the pickle ``path`` and ``--allow-pickle``."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "is a pickle" in lines[0]
    assert "pass --allow-pickle" in lines[0] and "allow_pickle=True" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("action", ["info", "convert"])
def test_vectors_command_opens_a_kv_file_only_with_the_flag(capsys, kv_file, action):
    assert_asks_for_the_flag(capsys, kv_file, "vectors", action, kv_file)
    code, out, _ = run(capsys, "vectors", action, kv_file, "--allow-pickle")
    assert code == 0 and "2000" in out


def test_train_then_predict_on_kv_vectors_need_the_flag(capsys, tmp_path, kv_file, train_file):
    model = tmp_path / "model.skops"
    train = ["train", "--train", train_file, "--vectors", kv_file, "--cv", "0", "--out", model]
    assert_asks_for_the_flag(capsys, kv_file, *train)
    assert not model.exists()
    code, _, _ = run(capsys, *train, "--allow-pickle")
    assert code == 0 and model.exists()
    forget_loaded_vectors()
    predictions = tmp_path / "predictions.csv"
    predict = ["predict", "--model", model, "--input", train_file, "--output", predictions]
    code, _, err = run(capsys, *predict)
    # A model file's vectors path gives one message, whatever is wrong with the file there.
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(model) in err and "'small.kv'" in err and "pass --allow-pickle" in err
    assert run(capsys, *predict, "--allow-pickle")[0] == 0
    assert len(predictions.read_text().splitlines()) == 81
    forget_loaded_vectors()
    code, out, _ = run(capsys, "evaluate", "--model", model, "--test", train_file, "--allow-pickle")
    assert code == 0 and "accuracy" in out


def test_embed_opens_kv_vectors_only_with_the_flag(capsys, tmp_path, kv_file, train_file):
    embed = [
        "embed",
        "--input",
        train_file,
        "--output",
        tmp_path / "features",
        "--vectors",
        kv_file,
    ]
    assert_asks_for_the_flag(capsys, kv_file, *embed)
    code, out, _ = run(capsys, *embed, "--allow-pickle", "--no-progress")
    assert code == 0 and "80 x 50 features" in out
