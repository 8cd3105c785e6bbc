"""The convolutional shared layer: trained with torch, applied in numpy, saved as checked arrays."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import read_shared, texts_and_labels

import lightxfer
from lightxfer import ConvFilters, ConvLayer, make_classifier, train_conv_filters
from lightxfer.exceptions import ModelFileError, VectorsMismatchError
from lightxfer.shared import conv_filters, conv_training
from lightxfer.shared.conv import convolve
from lightxfer.shared.tokenize import tokenize_ids

#: Texts the padding and pooling must get right: shorter than every filter, empty, no
#: known word, and long enough for every window.
EDGE_TEXTS = ["", "good", "xqzzy vvrrq", "a bad , dull film", "one of the best films of the year ."]


@pytest.fixture(scope="module")
def trained():
    """Filters trained for one pass on 300 SST-2 sentences (4 maps per width), and the data."""
    X, y, X_test, y_test = texts_and_labels(
        read_shared("sst2_train", 300), read_shared("sst2_test", 100)
    )
    filters = train_conv_filters(X, y, maps=4, epochs=1, random_state=0)
    return filters, X, y, X_test, y_test


def network_features(filters, texts, glove):
    """The features the torch network that training uses computes for ``texts``."""
    torch = pytest.importorskip("torch")
    ids, lengths, _ = tokenize_ids(texts, glove.key_to_index, lowercase=True)
    used, compact = np.unique(ids[ids >= 0], return_inverse=True)
    rows = np.zeros(len(ids), dtype=np.int64)
    rows[ids >= 0] = compact + 1
    table = np.vstack([np.zeros((1, glove.vector_size), np.float32), glove.vectors[used]])
    sequences = np.split(rows, np.cumsum(lengths)[:-1])
    maps = filters.coefs[0].shape[2]
    network = conv_training._network(torch, table, filters.widths, maps, 2, 0.5)
    with torch.no_grad():
        for conv, coef, intercept in zip(network.convs, filters.coefs, filters.intercepts):
            conv.weight.copy_(torch.as_tensor(coef.transpose(2, 1, 0).copy()))
            conv.bias.copy_(torch.as_tensor(intercept))
        network.eval()
        batch = np.arange(len(texts))
        return network.features(*conv_training._batch(torch, sequences, batch, filters.widths))


def test_numpy_layer_computes_what_the_trained_network_computes(trained, glove):
    filters = trained[0]
    texts = EDGE_TEXTS + list(trained[3][:40])
    expected = network_features(filters, texts, glove).numpy()
    features = ConvLayer(filters, cache=False).fit(texts).transform(texts)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    assert features.shape == (len(texts), 12) and (features >= 0).all()


def test_mean_pooling_is_the_mean_of_the_rectified_windows(trained, glove):
    filters = trained[0]
    text = "a bad , dull film"
    ids, lengths, _ = tokenize_ids([text], glove.key_to_index, lowercase=True)
    window, lead = filters.widths[0], max(filters.widths) - 1
    vectors = np.vstack([np.zeros((lead, 50)), glove.vectors[ids], np.zeros((lead, 50))])
    responses = [
        np.einsum("kd,kdm->m", vectors[p : p + window], filters.coefs[0]) + filters.intercepts[0]
        for p in range(len(vectors) - window + 1)
    ]
    mean = convolve(glove.vectors, ids, lengths, filters, ["mean"])[0, :4]
    np.testing.assert_allclose(mean, np.maximum(responses, 0).mean(axis=0), rtol=1e-5, atol=1e-6)


def test_chunks_give_the_features_of_one_pass(trained, glove, monkeypatch):
    filters, X = trained[0], list(trained[1][:60])
    ids, lengths, _ = tokenize_ids(X, glove.key_to_index, lowercase=True)
    whole = convolve(glove.vectors, ids, lengths, filters, ["max", "mean"])
    monkeypatch.setattr("lightxfer.shared.conv.CHUNK_BYTES", 4 * 144 * 30)  # ~30 tokens
    np.testing.assert_allclose(
        convolve(glove.vectors, ids, lengths, filters, ["max", "mean"]), whole, rtol=1e-6
    )


def test_training_records_its_recipe_and_a_softmax_that_learned(trained):
    filters, X, y, X_test, y_test = trained
    recipe = filters.metadata["recipe"]
    assert recipe["widths"] == [3, 4, 5] and recipe["maps"] == 4 and recipe["epochs_run"] == 1
    features = ConvLayer(filters).fit(X).transform(X)
    logits = features @ filters.output_coef + filters.output_intercept
    assert list(filters.classes) == sorted(set(y))
    assert np.mean(filters.classes[logits.argmax(axis=1)] == y) > 0.5


def test_a_pipeline_saves_loads_and_transfers_with_the_filters(trained, tmp_path):
    filters, X, y, X_test, y_test = trained
    source = make_classifier(conv=filters, head="logreg").fit(X, y)
    path = tmp_path / "conv.skops"
    lightxfer.save(source, path)
    loaded = lightxfer.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), source.predict_proba(X_test))
    target = lightxfer.transfer(loaded).fit(X_test[:60], y_test[:60])
    layer = target.named_steps["embedding"]
    assert isinstance(getattr(layer, "estimator", layer), ConvLayer)
    assert target.score(X_test[60:], y_test[60:]) > 0.4


def test_a_saved_model_predicts_without_torch(trained, tmp_path):
    filters, X, y, X_test, _ = trained
    model = make_classifier(conv=filters).fit(X, y)
    path = tmp_path / "conv.skops"
    lightxfer.save(model, path)
    expected = model.predict(X_test[:20]).tolist()
    script = textwrap.dedent(
        f"""
        import sys
        class NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
        sys.meta_path.insert(0, NotInstalled())
        import lightxfer
        model = lightxfer.load({str(path)!r})
        print(model.predict({list(X_test[:20])!r}).tolist())
        try:
            lightxfer.train_conv_filters(["a", "b"], [0, 1])
        except lightxfer.exceptions.MissingExtraError as error:
            print(error)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [
        str(expected),
        "'torch' is not installed: run `pip install \"lightxfer[train]\"`",
    ]


def test_a_tampered_model_file_is_refused(trained, tmp_path):
    filters, X, y, _, _ = trained
    model = make_classifier(conv=filters, head="logreg").fit(X, y)
    layer = model.named_steps["embedding"]
    big = ConvFilters.__new__(ConvFilters)
    big.__dict__.update(vars(filters))
    big.coefs = [np.zeros((10, 50, 20_000), np.float32)]  # 10 M weights a word
    big.intercepts = [np.zeros(20_000, np.float32)]
    layer.filters_ = big
    path = tmp_path / "big.skops"
    lightxfer.save(model, path)
    with pytest.raises(ModelFileError, match="more than 8000000 weights"):
        lightxfer.load(path)
    nan = ConvFilters.__new__(ConvFilters)
    nan.__dict__.update(vars(filters))
    nan.coefs = [filters.coefs[0].copy()]
    nan.intercepts = [filters.intercepts[0]]
    nan.output_coef = nan.output_intercept = nan.classes = None
    nan.coefs[0][0, 0, 0] = np.nan
    layer.filters_ = nan
    lightxfer.save(model, path)
    with pytest.raises(ModelFileError, match="not finite"):
        lightxfer.load(path)


def test_filters_files_round_trip_and_crafted_ones_are_refused(trained, tmp_path):
    filters = trained[0]
    path = filters.save(tmp_path / "filters.npz")
    again = conv_filters.read_filters(path)
    assert again.widths == filters.widths and again.metadata == filters.metadata
    np.testing.assert_array_equal(again.coefs[2], filters.coefs[2])
    crafted = tmp_path / "crafted.npz"
    arrays = {f"coef_{i}": c for i, c in enumerate(filters.coefs)}
    arrays.update({f"intercept_{i}": b for i, b in enumerate(filters.intercepts)})
    meta = '{"vectors": "glove-wiki-gigaword-50", "vectors_fingerprint": "%s", "n_banks": %d}'
    fp = filters.vectors_fingerprint
    np.savez(crafted, metadata=np.array(meta % (fp, 1_000_000)), **arrays)
    with pytest.raises(ValueError, match="no valid n_banks"):
        conv_filters.read_filters(crafted)
    huge = {**arrays, "coef_0": np.zeros((3, 50, 60_000), np.float64)}
    np.savez(crafted, metadata=np.array(meta % (fp, 3)), **huge)
    with pytest.raises(ValueError, match="larger than conv filters may be"):
        conv_filters.read_filters(crafted)
    np.savez(crafted, metadata=np.array(meta % (fp, 3)), **{**arrays, "intercept_1": np.ones(7)})
    with pytest.raises(ValueError, match=r"crafted.npz: conv filters: intercept of shape \(7,\)"):
        conv_filters.read_filters(crafted)
    with pytest.raises(ValueError, match="neither a shipped conv source"):
        ConvLayer("no-such-filters").fit(["a text"])


def test_other_vectors_are_refused():
    with pytest.raises(VectorsMismatchError, match="the conv filters were trained on"):
        ConvLayer("sst2", vectors=_other_vectors()).fit(["fine"])


def _other_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(50)
    kv.add_vectors(["fine", "good"], np.ones((2, 50), np.float32))
    return kv


def test_shipped_conv_sources_are_small_float16_and_join_the_glove_model(sst2, tmp_path):
    names = conv_filters.shipped_names()
    assert names == sorted(lightxfer.sources("conv").index)
    for name in names:
        path = conv_filters.shipped_path(name)
        filters = conv_filters.read_filters(name)
        assert path.stat().st_size < 500_000 and filters.coefs[0].dtype == np.float16
        assert filters.metadata["source_test_accuracy"] > 0.35
    X, y, X_test, y_test = sst2
    model = make_classifier(sources="all").fit(X, y)  # "auto" leaves conv_mpqa out
    blocks = model.named_steps["embedding"].shared_
    units = [conv_filters.read_filters(name).n_features for name in blocks.sources_]
    assert sorted(blocks.sources_) == names and blocks.source_units_.tolist() == units
    assert set(blocks.cv_results_["weight"]) == {0.0, 1.0}
    weight = blocks.weights_[0]
    assert weight in (0.0, 1.0) and (blocks.weights_ == weight).all()
    n_used = sum(units) if weight else 0
    assert blocks.transform(X_test[:5]).shape == (5, 50 + n_used)
    path = tmp_path / "auto.skops"
    lightxfer.save(model, path)
    np.testing.assert_array_equal(lightxfer.load(path).predict(X_test), model.predict(X_test))
    # At weight 0 the conv sources leave the GloVe features as they are.
    unused = lightxfer.SourceBlocks(lightxfer.EmbeddingVectorizer(), weight=0.0).fit(X, y)
    glove = lightxfer.EmbeddingVectorizer().fit(X).transform(X_test)
    np.testing.assert_allclose(unused.transform(X_test), glove / unused.shared_norm_, rtol=1e-6)


def test_a_shipped_conv_source_is_a_fitted_source_pipeline():
    X_test, y_test = texts_and_labels(read_shared("sst2_test", 300))
    source = lightxfer.load_source("conv_sentiment")
    recorded = conv_filters.read_filters("conv_sst2").metadata["source_test_accuracy"]
    assert abs(source.score(X_test, y_test) - recorded) < 0.08  # 300 of its 1,821 test texts
    X, y = texts_and_labels(read_shared("mpqa", 200))
    target = lightxfer.transfer("conv_sst2").fit(X[:100], y[:100])
    assert isinstance(target.named_steps["embedding"].estimator, ConvLayer)
    assert set(target.predict(X[100:])) <= set(y)


def test_the_cli_measures_a_shipped_conv_source(tmp_path, capsys):
    from lightxfer.cli.entrypoint import main

    path = tmp_path / "opinions.csv"
    read_shared("mpqa", 150).to_csv(path, index=False)
    assert (
        main(
            [
                "transfer",
                "--source",
                "conv_sst2",
                "--train",
                str(path),
                "--sizes",
                "8",
                "--seeds",
                "2",
            ]
        )
        == 0
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("reused from conv_sst2: the frozen shared layers (ConvLayer)")
