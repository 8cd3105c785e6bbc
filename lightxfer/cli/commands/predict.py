"""``lightxfer predict``: label a table of texts with a saved model."""

import sys

from lightxfer.cli.arguments import add_allow_pickle, add_table_columns, add_trusted

NAME = "predict"
HELP = (
    "Predict labels and class probabilities for the texts of a CSV/TSV/JSONL table with a "
    "saved model; writes the input columns plus a 'prediction' column and 'proba_<class>' "
    "columns (named after --prediction-column when it is given). An input that already has "
    "one of these columns is refused: choose another --prediction-column. With "
    "--min-confidence P, a text whose top probability is below P gets an empty prediction "
    "(not sure)."
)


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL", help="saved model")
    parser.add_argument("--input", required=True, metavar="FILE", help="table of texts")
    parser.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help=".csv, .tsv or .jsonl, or - for standard output (in the input's format)",
    )
    parser.add_argument(
        "--prediction-column",
        default="prediction",
        metavar="C",
        help="column of predicted labels (prediction); probabilities go to 'proba_<class>', "
        "or '<C>_proba_<class>' for another name",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="leave the prediction empty ('not sure') where the top probability is below P, "
        "e.g. 0.8 (lightxfer evaluate --target-accuracy picks P)",
    )
    add_table_columns(parser, labels=False)
    add_allow_pickle(parser)
    add_trusted(parser)


def run(args):
    import pandas as pd

    from lightxfer.cli.common import check_output, load_model, read_texts, write_table
    from lightxfer.reliability import check_min_confidence

    if args.min_confidence is not None:
        check_min_confidence(args.min_confidence, "--min-confidence")
    suffix = check_output(args.output, like=args.input)
    model = load_model(args.model, args.allow_pickle, args.trusted)
    table, texts = read_texts(args.input, args.text_column)
    out = predictions(
        model, texts, column=args.prediction_column, min_confidence=args.min_confidence
    )
    clash = [name for name in out.columns if name in table.columns]
    if clash:
        raise ValueError(
            f"{args.input} already has the column(s) {', '.join(map(repr, clash))}; pass "
            "--prediction-column with another name"
        )
    out = pd.concat([table, out], axis=1)
    target = write_table(out, args.output, suffix)
    # The predictions may be on stdout: the summary goes to stderr then.
    print(
        f"wrote {len(out)} predictions to {target}",
        file=sys.stderr if target == "standard output" else sys.stdout,
    )
    return 0


def predictions(model, texts, column="prediction", min_confidence=None):
    """Return a DataFrame of predicted labels and, if the model has them, probabilities.

    A pipeline's shared layer transforms the texts once for both. With
    ``min_confidence``, a label whose top probability is below it is left out
    (:data:`lightxfer.abstain.NOT_SURE`, an empty cell).
    """
    import pandas as pd
    from sklearn.pipeline import Pipeline

    head = model
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        texts, head = model[:-1].transform(texts), model[-1]
    if min_confidence is not None:
        from lightxfer.abstain import predict_or_abstain

        labels = predict_or_abstain(head, texts, min_confidence)
    else:
        labels = head.predict(texts)
    out = pd.DataFrame({column: labels})
    if hasattr(head, "predict_proba"):
        proba = head.predict_proba(texts)
        prefix = "proba_" if column == "prediction" else f"{column}_proba_"
        for i, label in enumerate(head.classes_):
            out[f"{prefix}{label}"] = proba[:, i].astype(float).round(6)
    return out
