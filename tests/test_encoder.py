"""SentenceEncoder on the real offline all-MiniLM-L6-v2: one model per session, no network."""

import inspect
import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

import lightxfer
from lightxfer import SentenceEncoder, make_classifier
from lightxfer.cli.commands.embed import read_features
from lightxfer.cli.entrypoint import main as cli
from lightxfer.exceptions import EncoderMismatchError, EncoderUnavailableError, MissingExtraError
from lightxfer.shared import sentence_models
from lightxfer.shared.feature_cache import FEATURE_CACHE

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub
TEXTS = ["A good film .", "a BAD, boring film!", "", "   ", "qwzxv plokij", "the the the"]
NO_NETWORK = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network access attempted")
socket.socket.connect = socket.create_connection = refuse
"""


@pytest.fixture(scope="session")
def encoder():
    """The default encoder, fitted (the model is loaded once for the whole session)."""
    return SentenceEncoder().fit(TEXTS)


@pytest.fixture(scope="session")
def sample(sst2):
    """160 SST-2 training and 80 test sentences: ``(X, y, X_test, y_test)``.

    Every test encodes from this small sample, so most texts come from the feature cache.
    """
    X, y, X_test, y_test = sst2
    return X[:160], y[:160], X_test[:80], y_test[:80]


def test_promised_signature_and_export():
    assert "SentenceEncoder" in lightxfer.__all__
    params = inspect.signature(SentenceEncoder).parameters
    assert list(params) == [
        "model", "batch_size", "n_jobs", "normalize", "max_seq_length", "cache", "progress",
        "allow_pickle", "long_texts", "chunk_pooling", "max_chunks", "precision",
        "fine_tune",
    ]  # fmt: skip
    assert params["model"].default == "all-MiniLM-L6-v2"


def test_embeddings_are_float32_unit_rows(encoder):
    X = encoder.transform(TEXTS)
    assert X.shape == (len(TEXTS), 384) == (len(TEXTS), encoder.embedding_dim_)
    assert X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(X[0], X[1])


def test_equal_to_sentence_transformers_encode_and_deterministic(encoder, minilm, sample):
    texts = list(sample[2][:24])
    expected = minilm.model.encode(texts, batch_size=16)
    uncached = clone(encoder).set_params(cache=False, batch_size=16).fit(texts)
    np.testing.assert_allclose(uncached.transform(texts), expected, atol=1e-6)
    np.testing.assert_array_equal(uncached.transform(texts), uncached.transform(texts))
    np.testing.assert_allclose(encoder.transform(texts), expected, atol=1e-5)


def test_each_text_is_encoded_once_across_clones_folds_and_candidates(sample, encode_calls):
    FEATURE_CACHE.clear()
    X, y = sample[0][:120], sample[1][:120]
    model = Pipeline([("embedding", SentenceEncoder()), ("head", LogisticRegression())])
    search = GridSearchCV(model, {"head__C": [0.1, 1.0, 10.0]}, cv=StratifiedKFold(3)).fit(X, y)
    encoded = [text for call in encode_calls for text in call]
    assert sorted(encoded) == sorted(set(X))  # 3 candidates x 3 folds + refit: once each
    assert FEATURE_CACHE.hits > 0
    clone(search.best_estimator_).fit(X, y).predict(X[::-1])
    assert sum(map(len, encode_calls)) == len(encoded)  # a new clone finds them all cached


def test_cache_false_encodes_every_time(sample, encode_calls):
    encoder = SentenceEncoder(cache=False).fit(sample[0][:5])
    encoder.transform(sample[0][:5])
    encoder.transform(sample[0][:5])
    assert [len(call) for call in encode_calls] == [5, 5]


def test_progress_bar_only_when_asked_or_long(encoder, capsys):
    encoder.transform(TEXTS)
    assert "encoding" not in capsys.readouterr().err  # short input: no bar by default
    clone(encoder).set_params(progress=True).fit(TEXTS).transform(TEXTS)
    assert f"{len(TEXTS)}/{len(TEXTS)}" in capsys.readouterr().err


def test_long_texts_are_truncated_at_the_token_limit(encoder):
    head = " ".join(["the film is long and slow"] * 60)  # 360 word pieces
    texts = [head + " but wonderful", head + " and dreadful"]
    X = clone(encoder).set_params(long_texts="truncate").fit(TEXTS).transform(texts)
    np.testing.assert_array_equal(X[0], X[1])  # the endings lie beyond 256 word pieces
    assert encoder.max_seq_length_ == 256
    with pytest.warns(UserWarning, match="1 of 6 training texts are longer than the 6 word"):
        short = clone(encoder).set_params(max_seq_length=8, long_texts="truncate").fit(TEXTS)
    assert short.max_seq_length_ == 8
    pair = ["a good film with a great cast but a dull end", "a good film with a great score"]
    cut = short.transform(pair)
    np.testing.assert_array_equal(cut[0], cut[1])  # the first 6 words (+ 2 special) agree
    assert not np.array_equal(*encoder.transform(pair))
    with pytest.raises(ValueError, match="exceeds the 512 word pieces"):
        SentenceEncoder(max_seq_length=1000).fit(TEXTS)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ("a single text", TypeError, "wrap it in a list"),
        (["fine", None], ValueError, "position 1 is a missing value"),
        (["fine", "ok", 3.5], TypeError, "position 2 is a number"),
        ([b"bytes"], TypeError, "decode them"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError, "one column"),
        (np.array([["a", "b"]]), ValueError, "1-D array"),
    ],
)
def test_bad_texts_get_the_vectorizers_errors(encoder, bad, error, message):
    with pytest.raises(error, match=message):
        encoder.transform(bad)
    with pytest.raises(error, match=message):
        SentenceEncoder().fit(bad)


def test_bad_parameters_and_empty_fit_are_rejected():
    with pytest.raises(InvalidParameterError, match="batch_size"):
        SentenceEncoder(batch_size=0).fit(TEXTS)
    with pytest.raises(InvalidParameterError, match="model"):
        SentenceEncoder(model=3).fit(TEXTS)
    with pytest.raises(ValueError, match="empty list"):
        SentenceEncoder().fit([])
    with pytest.raises(FileNotFoundError, match="no such sentence-transformers model"):
        SentenceEncoder("./no/such/model").fit(TEXTS)


def test_a_hub_name_offline_says_what_to_do(encoder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        EncoderUnavailableError, match="not on this machine.*lightxfer\\[encoder\\]"
    ):
        SentenceEncoder("someone/not-a-cached-model").fit(TEXTS)
    # A fitted model (e.g. read from a file) never downloads, whatever the environment.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    renamed = clone(encoder).set_params(model="someone/not-a-cached-model")
    renamed.fingerprint_, renamed.embedding_dim_ = encoder.fingerprint_, encoder.embedding_dim_
    with pytest.raises(EncoderUnavailableError, match="a fitted model never downloads"):
        renamed.transform(TEXTS)


def test_sklearn_api_names_tags_and_pandas_output(encoder, sample):
    names = encoder.get_feature_names_out()
    assert names[0] == "all_minilm_l6_v2_0" and len(names) == 384
    tags = encoder.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    series = pd.Series(sample[2][:3], index=[10, 11, 12])
    frame = clone(encoder).set_output(transform="pandas").fit(TEXTS).transform(series)
    assert list(frame.columns) == list(names) and list(frame.index) == [10, 11, 12]
    np.testing.assert_array_equal(frame.to_numpy(), encoder.transform(series))


def test_clone_and_pickle_share_the_model_and_hold_only_a_reference(encoder, minilm, sample):
    copy = clone(encoder)
    assert copy.get_params() == encoder.get_params()
    data = pickle.dumps(encoder)
    assert len(data) < 2_000
    restored = pickle.loads(data)
    assert restored.fingerprint_ == minilm.fingerprint
    np.testing.assert_array_equal(
        restored.transform(sample[2][:5]), encoder.transform(sample[2][:5])
    )
    assert sentence_models.load(restored.model) is minilm


def test_grid_search_and_make_classifier_on_the_encoder(sample):
    X, y, X_test, y_test = sample
    model = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg")  # the plain pipeline
    assert isinstance(model.named_steps["embedding"], SentenceEncoder)
    search = GridSearchCV(model, {"head__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert search.best_estimator_.score(X_test, y_test) > 0.7  # about 0.5 by chance
    with pytest.raises(ValueError, match="not both"):
        make_classifier(encoder="all-MiniLM-L6-v2", pooling="max")


def test_saved_model_stores_a_reference_and_loads_offline_in_a_new_process(sample, tmp_path):
    X, y, X_test, _ = sample
    # The plain pipeline: the recommended one also stores its n-gram vocabularies, whose
    # size in a skops file is issue 18's (item 10).
    model = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg").fit(X, y)
    path = lightxfer.save(model, tmp_path / "model.skops")
    assert path.stat().st_size < 5_000_000
    np.save(tmp_path / "expected.npy", model.predict_proba(X_test[:20]))
    (tmp_path / "texts.json").write_text(json.dumps(list(X_test[:20])))
    script = NO_NETWORK + (
        "import json, pathlib, numpy as np, lightxfer\n"
        f"model = lightxfer.load({str(path)!r})\n"
        f"texts = json.loads(pathlib.Path({str(tmp_path / 'texts.json')!r}).read_text())\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-6)\n"
        "assert not attempts, attempts\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("HF_HUB_OFFLINE", None)  # the default model needs no such setting
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_changed_model_files_are_refused_on_first_use(minilm, sample, tmp_path):
    copy = tmp_path / "minilm"
    shutil.copytree(minilm.directory, copy)
    X, y = sample[0][:40], sample[1][:40]
    model = make_classifier(encoder=str(copy), head="logreg").fit(X, y)
    assert model.named_steps["embedding"].fingerprint_ == minilm.fingerprint  # same files
    lightxfer.save(model, tmp_path / "model.skops")
    with open(copy / "model.safetensors", "r+b") as weights:
        weights.seek(-4, os.SEEK_END)
        weights.write(b"\x00\x00\x80\x3f")
    with pytest.raises(EncoderMismatchError, match="model.skops: .*not the one this model was"):
        lightxfer.load(tmp_path / "model.skops")  # checked on load, the model loaded lazily
    # On purpose: the changed files are accepted, and remembered as the model's.
    loaded = lightxfer.load(tmp_path / "model.skops", check_vectors=False)
    assert loaded.named_steps["embedding"].fingerprint_ != minilm.fingerprint
    assert loaded.predict(X).shape == (40,)
    # Files changed after loading are refused on the next use.
    with open(copy / "model.safetensors", "r+b") as weights:
        weights.seek(-4, os.SEEK_END)
        weights.write(b"\x00\x00\x00\x40")
    with pytest.raises(EncoderMismatchError, match="not the one this model was fitted with"):
        loaded.predict(X)


def test_without_the_extra_lightxfer_works_and_the_encoder_names_the_install():
    script = (
        "import sys\n"
        "class NotInstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('sentence_transformers', 'torch'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
        "import lightxfer\n"
        "texts, labels = ['a good film', 'a bad film'] * 4, ['pos', 'neg'] * 4\n"
        "lightxfer.make_classifier(head='logreg').fit(texts, labels)\n"
        "try:\n"
        "    lightxfer.SentenceEncoder().fit(texts)\n"
        "except lightxfer.exceptions.MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "'sentence_transformers' is not installed: run `pip install \"lightxfer[encoder]\"`"
    ]


def test_missing_extra_is_one_line_in_process(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingExtraError, match=r'pip install "lightxfer\[encoder\]"'):
        SentenceEncoder().fit(TEXTS)


def test_cli_train_and_embed_with_the_encoder(sample, tmp_path, capsys):
    table = pd.DataFrame({"text": sample[0][:80], "label": sample[1][:80]})
    table.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "model.skops"
    assert cli(["train", "--train", str(tmp_path / "train.csv"), "--encoder",
                "all-MiniLM-L6-v2", "--cv", "0", "--out", str(out)]) == 0  # fmt: skip
    # The recommended model on the encoder says what it chose: 40 per class stay frozen.
    assert "chose: frozen encoder; " in capsys.readouterr().out
    model = lightxfer.load(out)
    encoder = model.named_steps["embedding"].shared_.shared_  # hybrid > sources > encoder
    assert isinstance(encoder, SentenceEncoder) and not encoder.fine_tuned_
    argv = ["embed", "--input", str(tmp_path / "train.csv"), "--output", str(tmp_path / "emb")]
    assert cli([*argv, "--encoder", "all-MiniLM-L6-v2", "--chunk-size", "50"]) == 0
    np.testing.assert_allclose(
        read_features(tmp_path / "emb"), encoder.transform(table["text"]), atol=1e-5
    )
    capsys.readouterr()
    assert cli([*argv, "--encoder", "all-MiniLM-L6-v2", "--pooling", "max"]) == 2
    assert "--encoder replaces" in capsys.readouterr().err


def test_dask_workers_load_the_model_themselves(encoder, sample, tmp_path):
    distributed = pytest.importorskip("distributed")
    db = pytest.importorskip("dask.bag")
    from lightxfer import distributed as lx_distributed

    texts = list(sample[2][:40])
    features = lx_distributed.transform(encoder, db.from_sequence(texts, npartitions=2))
    assert lx_distributed.task_payload(features)["model_bytes"] < 10_000
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "texts.csv", index=False)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        expected = encoder.transform(texts)
        np.testing.assert_allclose(client.compute(features).result(), expected, atol=1e-5)
        loaded = client.run(lambda: list(sentence_models._MODELS))
        assert list(loaded.values()) == [[(encoder.fingerprint_, encoder.precision)]]
        argv = ["embed", "--input", str(tmp_path / "texts.csv"), "--output", str(tmp_path / "out")]
        assert cli([*argv, "--encoder", "all-MiniLM-L6-v2", "--chunk-size", "25",
                    "--scheduler", cluster.scheduler_address]) == 0  # fmt: skip
    np.testing.assert_allclose(read_features(tmp_path / "out"), expected, atol=1e-5)
