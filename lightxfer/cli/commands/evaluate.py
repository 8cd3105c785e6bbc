"""``lightxfer evaluate``: accuracy, macro-F1 and confusion matrix of a model on a table."""

from lightxfer.cli.arguments import add_allow_pickle, add_table_columns, add_trusted

NAME = "evaluate"
HELP = (
    "Score a saved model on a labelled CSV/TSV/JSONL table: accuracy, macro-F1, confusion matrix."
)


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL", help="saved model")
    parser.add_argument("--test", required=True, metavar="FILE", help="labelled test table")
    add_table_columns(parser)
    add_allow_pickle(parser)
    add_trusted(parser)


def run(args):
    from lightxfer.cli.common import load_model, read_labelled

    model = load_model(args.model, args.allow_pickle, args.trusted)
    X, y = read_labelled(
        args.test, args.text_column, args.label_column, classes=getattr(model, "classes_", None)
    )
    scores = evaluate(model, X, y)
    print(f"{len(y)} texts from {args.test}")
    print(f"accuracy: {scores['accuracy']:.1%}")
    print(f"macro-F1: {scores['macro_f1']:.1%}")
    print("confusion matrix (rows: true label, columns: predicted):")
    print(scores["confusion"].to_string())
    return 0


def evaluate(model, X, y):
    """Return ``{"accuracy", "macro_f1", "confusion"}`` of ``model`` on ``X, y``."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    predicted = model.predict(X)
    matrix = confusion_matrix(y, predicted, labels=model.classes_)
    names = [str(c) for c in model.classes_]
    return {
        "accuracy": accuracy_score(y, predicted),
        "macro_f1": f1_score(y, predicted, average="macro", zero_division=0),
        "confusion": pd.DataFrame(matrix, index=names, columns=names),
    }
