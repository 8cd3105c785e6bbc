"""Contrastive fine-tuning of the sentence encoder: a tiny budget on 16 short texts."""

import copy
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import read_shared, texts_and_labels
from sklearn.base import clone

import lightxfer
from lightxfer import SentenceEncoder, make_classifier
from lightxfer.exceptions import MissingExtraError
from lightxfer.shared import encoder as encoder_module
from lightxfer.shared import fine_tuning
from lightxfer.shared.fine_tuning import ContrastiveFineTuning, make_pairs

os.environ.setdefault("HF_HUB_OFFLINE", "1")
POSITIVE = ["a good film", "great fun", "a lovely story", "superb acting", "i loved it",
            "warm and funny", "a delight", "brilliant work"]  # fmt: skip
NEGATIVE = ["a bad film", "dull and slow", "a boring story", "awful acting", "i hated it",
            "cold and flat", "a mess", "lazy work"]  # fmt: skip
TEXTS = POSITIVE + NEGATIVE
LABELS = ["pos"] * 8 + ["neg"] * 8
#: Two steps of eight pairs on the last 2 layers: enough to move the weights, seconds.
TINY = ContrastiveFineTuning(max_pairs=16, pairs_per_step=8, learning_rate=1e-3, layers=2)


@pytest.fixture(autouse=True)
def _no_memo(monkeypatch):
    """Every fit of these tests fine-tunes: no result kept from an identical earlier fit."""
    monkeypatch.setattr(encoder_module, "_FITS", type(encoder_module._FITS)())
    monkeypatch.setattr(encoder_module, "KEPT_FITS", 0)


@pytest.fixture(scope="module")
def model():
    """The plain pipeline on the fine-tuned encoder: the one fine-tuning of the module."""
    return make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=TINY).fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def tuned(model):
    return model.named_steps["embedding"]


def test_fit_trains_only_the_last_two_layers_of_a_copy(tuned, minilm):
    weights = tuned.fine_tuned_weights_
    assert weights and all(".encoder.layer.4." in n or ".encoder.layer.5." in n for n in weights)
    base = minilm.model.state_dict()
    changed = [n for n, a in weights.items() if not np.array_equal(a, base[n].numpy())]
    assert len(changed) > len(weights) / 2
    frozen = SentenceEncoder(cache=False).fit(TEXTS).transform(TEXTS)
    assert not np.allclose(tuned.transform(TEXTS), frozen, atol=1e-4)
    # The shared base model is untouched: the frozen encoder still encodes as before.
    direct = minilm.model.encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_array_equal(frozen, direct)


def test_fit_is_deterministic_under_random_state(tuned):
    again = SentenceEncoder(fine_tune=clone(TINY)).fit(TEXTS, LABELS)
    assert again.fine_tuned_fingerprint_ == tuned.fine_tuned_fingerprint_
    for name, weight in tuned.fine_tuned_weights_.items():
        np.testing.assert_array_equal(again.fine_tuned_weights_[name], weight)


def test_frozen_and_fine_tuned_features_never_share_cache_entries(tuned):
    frozen = SentenceEncoder().fit(TEXTS)
    uncached = SentenceEncoder(cache=False).fit(TEXTS)
    tuned_rows = tuned.transform(TEXTS)  # fills the cache with fine-tuned rows first
    frozen_rows = frozen.transform(TEXTS)
    assert not np.allclose(frozen_rows, tuned_rows, atol=1e-4)
    # Rows encoded in other batches (earlier tests cache these texts too) may differ in
    # their last bits, never by what fine-tuning changes.
    np.testing.assert_allclose(frozen_rows, uncached.transform(TEXTS), atol=1e-5)
    fine = SentenceEncoder(fine_tune=TINY, cache=False)
    fine.__dict__.update({k: v for k, v in vars(tuned).items() if k.endswith("_")})
    np.testing.assert_allclose(tuned_rows, fine.transform(TEXTS), atol=1e-5)


def test_pairs_are_balanced_capped_and_never_pair_a_text_with_itself():
    y = np.repeat(np.arange(9), 8)
    pairs = make_pairs(y, pairs_per_text=20, max_pairs=1440, random_state=0)
    assert pairs.shape == (1440, 3)
    assert np.all(pairs[:, 0] != pairs[:, 1])
    np.testing.assert_array_equal(pairs[:, 2], y[pairs[:, 0]] == y[pairs[:, 1]])
    assert pairs[:, 2].mean() == 0.5
    np.testing.assert_array_equal(pairs, make_pairs(y, 20, 1440, random_state=0))
    assert not np.array_equal(pairs, make_pairs(y, 20, 1440, random_state=1))


def test_one_example_of_a_class_refuses_and_two_warn():
    with pytest.raises(ValueError, match=r"at least 2 examples per class.*\['neg'\]"):
        SentenceEncoder(fine_tune=TINY).fit(TEXTS[:8] + TEXTS[8:9], LABELS[:9])
    with pytest.raises(ValueError, match="needs the training labels"):
        SentenceEncoder(fine_tune=TINY).fit(TEXTS)
    two = ContrastiveFineTuning(max_pairs=2, pairs_per_step=2)
    with pytest.warns(UserWarning, match="on 2 examples of a class.*may overfit"):
        SentenceEncoder(fine_tune=two).fit(TEXTS[6:10], LABELS[6:10])


def test_the_default_stays_frozen_and_fit_ignores_labels():
    encoder = SentenceEncoder().fit(TEXTS, LABELS)
    assert encoder.fine_tune is None and not hasattr(encoder, "fine_tuned_weights_")


def test_make_classifier_fine_tune_builds_the_plain_pipeline():
    model = make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=True)
    assert model.named_steps["embedding"].fine_tune == "contrastive"
    assert type(model.named_steps["head"]).__name__ == "LogisticRegression"
    with pytest.raises(ValueError, match="pass encoder="):
        make_classifier(fine_tune=True)
    with pytest.raises(ValueError, match="fine_tune must be None, 'contrastive'"):
        SentenceEncoder(fine_tune="lora").fit(TEXTS, LABELS)


def test_altered_weights_are_refused(model, tmp_path):
    altered = copy.deepcopy(model)
    weights = altered.named_steps["embedding"].fine_tuned_weights_
    next(iter(weights.values()))[0] += 1
    with pytest.raises(ValueError, match="do not match their recorded fingerprint"):
        fine_tuning.check_weights(weights, altered[0].fine_tuned_fingerprint_)
    path = lightxfer.save(altered, tmp_path / "altered.skops")
    with pytest.raises(ValueError, match=f"^{path}: the fine-tuned encoder weights do not"):
        lightxfer.load(path)


def _swapped(model, minilm, change):
    """A copy of ``model`` whose weights ``change`` altered, with a fingerprint to match."""
    altered = copy.deepcopy(model)
    encoder = altered.named_steps["embedding"]
    base = minilm.model.state_dict()
    change(encoder.fine_tuned_weights_, base)
    encoder.fine_tuned_fingerprint_ = fine_tuning.weights_fingerprint(encoder.fine_tuned_weights_)
    return altered


EMBEDDINGS = "0.model.embeddings.word_embeddings.weight"


@pytest.mark.parametrize(
    "change, problem",
    [
        # Issue 31, case 5: a base parameter outside the trained layers, set to NaN.
        (
            lambda w, base: w.update({EMBEDDINGS: np.full(base[EMBEDDINGS].shape, np.nan, "f4")}),
            "is not one that fine-tuning layers=2",
        ),
        (lambda w, base: w.popitem(), "is missing"),
        (lambda w, base: next(iter(w.values())).fill(np.inf), "NaN or infinite"),
        (
            lambda w, base: w.update({name: a[:1] for name, a in list(w.items())[:1]}),
            "has shape",
        ),
    ],
)
def test_weights_that_swap_the_base_model_are_refused_on_load(
    model, minilm, tmp_path, change, problem
):
    path = lightxfer.save(_swapped(model, minilm, change), tmp_path / "swapped.skops")
    with pytest.raises(ValueError, match=f"^{path}: the fine-tuned encoder weight") as info:
        lightxfer.load(path)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_saved_model_predicts_identically_in_a_new_offline_process(model, tmp_path):
    path = lightxfer.save(model, tmp_path / "tuned.skops")
    assert path.stat().st_size < 20e6  # two layers of MiniLM (14 MB), not the whole model
    queries = ["what a good film", "so dull", "a story"]
    expected = model.predict_proba(queries)
    script = (
        "import json, sys, lightxfer\n"
        "model = lightxfer.load(sys.argv[1])\n"
        "print(json.dumps(model.predict_proba(json.loads(sys.argv[2])).tolist()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), json.dumps(queries)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.array(json.loads(done.stdout)), expected)


def test_files_from_when_the_default_trained_2_layers_still_load(model, tuned, tmp_path):
    old = copy.deepcopy(model)  # fine_tune="contrastive" meant the last 2 layers then,
    old.named_steps["embedding"].fine_tune = "contrastive"  # and fit recorded no layers
    del old.named_steps["embedding"].fine_tuned_layers_
    assert fine_tuning.resolve("contrastive").layers == 3
    queries = ["what a good film", "so dull"]
    loaded = lightxfer.load(lightxfer.save(old, tmp_path / "old.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(queries), model.predict_proba(queries))


def test_missing_extra_is_the_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with warnings.catch_warnings(), pytest.raises(MissingExtraError, match=r"lightxfer\[encoder\]"):
        make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=True).fit(TEXTS, LABELS)


def test_evaluate_transfer_adds_the_fine_tuned_encoder_row(monkeypatch):
    from lightxfer import evaluation

    monkeypatch.setattr(evaluation, "ContrastiveFineTuning", lambda: clone(TINY))
    X, y = texts_and_labels(read_shared("mpqa", 80))
    source = make_classifier(head="logreg").fit(TEXTS, LABELS)
    table = evaluation.evaluate_transfer(
        source, X, y, train_sizes=(4,), n_seeds=1, encoder="all-MiniLM-L6-v2",
        fine_tune_encoder=True,
    )  # fmt: skip
    assert evaluation.FINE_TUNED in set(table["method"])
    assert table.loc[table["method"].isin(evaluation.SCRATCH), "best_scratch"].sum() == 1
    with pytest.raises(ValueError, match="pass encoder= too"):
        evaluation.evaluate_transfer(source, X, y, fine_tune_encoder=True)


def test_cli_fine_tune_encoder_needs_the_encoder(capsys):
    from lightxfer.cli.entrypoint import main as cli

    argv = ["transfer", "--source", "s.skops", "--train", "t.csv", "--fine-tune-encoder"]
    assert cli(argv) == 2
    assert (
        "--fine-tune-encoder fine-tunes the encoder: pass --encoder NAME" in capsys.readouterr().err
    )


@pytest.fixture
def layer_rows(minilm):
    """Rows (texts) each transformer layer of the base model and its copies encodes."""
    layers = minilm.model[0].auto_model.encoder.layer
    rows = {index: [] for index in range(len(layers))}
    hooks = [  # a fit deep-copies the model, and its hooks with it
        layer.register_forward_hook(lambda _, args, out, i=i: rows[i].append(len(args[0])))
        for i, layer in enumerate(layers)
    ]
    yield rows
    for hook in hooks:
        hook.remove()


def _distinct(settings):
    pairs = make_pairs(LABELS, settings.pairs_per_text, settings.max_pairs, settings.random_state)
    steps = [pairs[s : s + settings.pairs_per_step] for s in range(0, len(pairs), 8)]
    return len(np.unique(pairs[:, :2])), [len(np.unique(step[:, :2])) for step in steps]


def test_frozen_layers_run_once_per_distinct_text_and_the_fit_shows_its_time(layer_rows, capsys):
    SentenceEncoder(fine_tune=clone(TINY), progress=True).fit(TEXTS, LABELS)
    used, per_step = _distinct(TINY)
    # Once, before training, and for 2 texts once more: the check of the cached path
    # against the model's own forward pass.
    assert sum(layer_rows[0]) == sum(layer_rows[3]) == used + 2
    assert layer_rows[5][-len(per_step) :] == per_step
    err = capsys.readouterr().err
    assert "fine-tuning" in err and "s in all" in err and f"{len(per_step)}/{len(per_step)}" in err


def test_without_the_cache_every_step_reruns_the_frozen_layers_and_learns_the_same(
    tuned, layer_rows, monkeypatch
):
    monkeypatch.setattr(fine_tuning, "CACHE_BYTES", 0)
    again = SentenceEncoder(fine_tune=clone(TINY)).fit(TEXTS, LABELS)
    _, per_step = _distinct(TINY)
    assert layer_rows[0] == per_step
    assert set(again.fine_tuned_weights_) == set(tuned.fine_tuned_weights_)
    # The same dropout draws, on float32 instead of float16 states of the frozen layers.
    for name, weight in tuned.fine_tuned_weights_.items():
        np.testing.assert_allclose(again.fine_tuned_weights_[name], weight, atol=1e-3)


def test_the_cached_path_encodes_as_the_model_does(minilm):
    model = copy.deepcopy(minilm.model)
    cache = fine_tuning._Cache(model, TEXTS, layers=2)
    cache.keep(np.arange(len(TEXTS)))
    assert cache.states is not None and [len(s) for s in cache.states] == list(cache.lengths)
    with torch.no_grad():
        np.testing.assert_allclose(
            cache.embed(np.arange(len(TEXTS))).numpy(),
            model.encode(TEXTS, convert_to_numpy=True),
            atol=2e-3,
        )
    everything = fine_tuning._Cache(model, TEXTS, layers=None)  # all layers train
    everything.keep(np.arange(len(TEXTS)))
    assert everything.states is None


def test_the_word_piece_budget_cuts_the_steps_and_old_settings_have_none(layer_rows, capsys):
    one = clone(TINY).set_params(max_word_pieces=1)
    SentenceEncoder(fine_tune=one, progress=True).fit(TEXTS, LABELS)
    assert "1/1" in capsys.readouterr().err  # one step of the two: at least one is kept
    _, per_step = _distinct(TINY)
    assert layer_rows[5][-1] == per_step[0]
    state = clone(TINY).__getstate__()
    del state["max_word_pieces"]  # as a file from before the budget
    old = ContrastiveFineTuning.__new__(ContrastiveFineTuning)
    old.__setstate__(state)
    assert old.get_params()["max_word_pieces"] is None
