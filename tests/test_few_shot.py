"""Few-shot by default: the fine-tuned encoder beside the shipped sources, the default's
choices (fine-tuning few labels, sources without research-only terms), and what it says."""

import os
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import lightxfer
from lightxfer import SentenceEncoder, SourceBlocks, make_classifier
from lightxfer.chosen import describe
from lightxfer.datasets import load_dataset
from lightxfer.shared import encoder as encoder_module
from lightxfer.shared import fine_tuning
from lightxfer.shared.fine_tuning import ContrastiveFineTuning

os.environ.setdefault("HF_HUB_OFFLINE", "1")
POSITIVE = ["a good film", "great fun", "a lovely story", "superb acting", "i loved it",
            "warm and funny", "a delight", "brilliant work"]  # fmt: skip
NEGATIVE = ["a bad film", "dull and slow", "a boring story", "awful acting", "i hated it",
            "cold and flat", "a mess", "lazy work"]  # fmt: skip
TEXTS = POSITIVE + NEGATIVE
LABELS = ["pos"] * 8 + ["neg"] * 8
#: Two steps of eight pairs: enough to move the weights, seconds on a CPU.
TINY = ContrastiveFineTuning(max_pairs=16, pairs_per_step=8, learning_rate=1e-3)


@pytest.fixture
def count_fine_tunings(monkeypatch):
    """Count the fine-tunings that really run (not answered from the per-process memo)."""
    calls = []
    real = fine_tuning.fine_tune

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fine_tuning, "fine_tune", counted)
    monkeypatch.setattr(encoder_module, "_FITS", type(encoder_module._FITS)())
    return calls


def blocks(fine_tune, weight=1.0):
    encoder = SentenceEncoder(fine_tune=fine_tune)
    return SourceBlocks(encoder, sources=["trec", "subj"], weight=weight).fit(TEXTS, LABELS)


def test_fine_tuned_encoder_beside_sources_reads_them_from_the_frozen_encoder(minilm):
    tuned, frozen = blocks(TINY), blocks(None)
    assert tuned.shared_.fine_tuned_ and not tuned.frozen_.fine_tuned_
    assert not hasattr(frozen, "frozen_")
    new = ["an odd little film", "what a waste"]
    width = tuned.n_shared_features_
    # The sources' columns: the same hidden layers of the same frozen features.
    np.testing.assert_allclose(tuned.transform(new)[:, width:], frozen.transform(new)[:, width:])
    # The main block is the fine-tuned encoder's.
    assert not np.allclose(tuned.transform(new)[:, :width], frozen.transform(new)[:, :width])


def test_sources_weight_is_validated_on_the_frozen_features(minilm):
    # A fine-tuned encoder separates its own training texts perfectly: validated on its
    # features no source could ever help. On the frozen ones the choice is the same as
    # without fine-tuning.
    tuned, frozen = blocks(TINY, "auto"), blocks(None, "auto")
    np.testing.assert_array_equal(tuned.weights_, frozen.weights_)
    # The very same validation scores: the search saw the frozen features, not the tuned.
    np.testing.assert_array_equal(tuned.cv_results_["accuracy"], frozen.cv_results_["accuracy"])


def test_make_classifier_fine_tune_with_sources_fits_and_round_trips(minilm, tmp_path):
    model = make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=TINY, sources=["trec"])
    model.set_params(embedding__weight=1.0).fit(TEXTS, LABELS)
    assert model.chosen_ == {"sources": {"trec": 1.0}, "fine_tuned": True}
    again = lightxfer.load(lightxfer.save(model, tmp_path / "model.skops"))
    new = ["an odd little film", "what a waste", "i loved the acting"]
    np.testing.assert_allclose(again.predict_proba(new), model.predict_proba(new), atol=1e-6)


def test_the_default_on_an_encoder_fine_tunes_few_labels_and_says_so(minilm):
    model = make_classifier(encoder="all-MiniLM-L6-v2")
    encoder = model.named_steps["embedding"].shared.shared
    assert (encoder.fine_tune, model.named_steps["embedding"].shared.sources) == ("auto", "auto")
    model.fit(TEXTS, LABELS)  # 8 per class: fine-tuned
    chosen = model.chosen_
    assert chosen["fine_tuned"] is True
    assert sorted(chosen["sources"]) == ["sst2", "sst5", "subj", "trec"]  # not MPQA's
    assert describe(chosen).startswith("fine-tuned the encoder; ")


def test_auto_stays_frozen_with_many_or_too_few_labels(minilm):
    texts, labels = load_dataset("trec", "test")
    keep = np.isin(labels, ["NUM", "LOC"])
    many = SentenceEncoder(fine_tune="auto").fit(texts[keep][:120], labels[keep][:120])
    assert many.fine_tuned_ is False  # more than 32 per class
    few = SentenceEncoder(fine_tune="auto").fit(TEXTS[:3] + TEXTS[8:], LABELS[:3] + LABELS[8:])
    assert few.fine_tuned_ is False  # a class of 3: too few pairs to learn from
    assert SentenceEncoder(fine_tune="auto").fit(TEXTS).fine_tuned_ is False  # no labels


def test_switches_turn_the_default_off():
    model = make_classifier(encoder="all-MiniLM-L6-v2", sources=False, fine_tune=False)
    shared = model.named_steps["embedding"].shared
    assert isinstance(shared, SentenceEncoder) and shared.fine_tune is None
    frozen = make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=False)  # sources stay
    blocks = frozen.named_steps["embedding"].shared
    assert blocks.sources == "auto" and blocks.shared.fine_tune is None
    # Word vectors keep their recommended model; a plain pipeline stays frozen.
    assert type(make_classifier().named_steps["embedding"].shared).__name__ == (
        "EmbeddingVectorizer"
    )
    plain = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg")
    assert plain.named_steps["embedding"].fine_tune is None


def test_grid_search_over_the_head_fine_tunes_once_per_fold(minilm, count_fine_tunings):
    model = make_classifier(encoder="all-MiniLM-L6-v2", fine_tune=TINY)
    search = GridSearchCV(model, {"head__C": [0.1, 1.0, 10.0]}, cv=2).fit(TEXTS, LABELS)
    # 2 folds + the refit on everything; the 3 candidates of a fold share its fine-tuning.
    assert len(count_fine_tunings) == 3
    assert search.best_estimator_.named_steps["embedding"].fine_tuned_
    clone(model).fit(TEXTS, LABELS)  # the refit's inputs again: no new fine-tuning
    assert len(count_fine_tunings) == 3


def test_auto_leaves_research_only_sources_out_and_all_takes_them(glove):
    table = lightxfer.sources()
    assert table.loc["mpqa", "research_only"] and not table["research_only"].drop("mpqa").any()
    auto = SourceBlocks(lightxfer.EmbeddingVectorizer()).fit(TEXTS, LABELS)
    every = SourceBlocks(lightxfer.EmbeddingVectorizer(), sources="all").fit(TEXTS, LABELS)
    assert "conv_mpqa" not in auto.sources_ and "conv_mpqa" in every.sources_


def test_training_texts_in_a_source_data_warn_in_one_line(glove):
    texts, labels = load_dataset("trec", "test")
    with pytest.warns(UserWarning, match=r"data of shipped sources \(texts found, by source: "):
        SourceBlocks(lightxfer.EmbeddingVectorizer(), sources=["conv_trec"]).fit(
            texts[:20], labels[:20]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # texts of no shipped task: no warning
        SourceBlocks(lightxfer.EmbeddingVectorizer(), sources=["conv_trec"]).fit(TEXTS, LABELS)
