"""``lightxfer predict``: label a table of texts with a saved model."""

import pandas as pd

from lightxfer.cli.common import (
    add_allow_pickle,
    add_table_columns,
    load_model,
    read_texts,
    write_table,
)

NAME = "predict"
HELP = (
    "Predict labels and class probabilities for the texts of a CSV/TSV/JSONL table with a "
    "saved model; writes the input columns plus 'prediction' and 'proba_<class>' columns."
)


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL", help="saved model")
    parser.add_argument("--input", required=True, metavar="FILE", help="table of texts")
    parser.add_argument("--output", required=True, metavar="FILE", help=".csv, .tsv or .jsonl")
    add_table_columns(parser, labels=False)
    add_allow_pickle(parser)


def run(args):
    model = load_model(args.model, args.allow_pickle)
    table, texts = read_texts(args.input, args.text_column)
    out = pd.concat([table, predictions(model, texts)], axis=1)
    print(f"wrote {len(out)} predictions to {write_table(out, args.output)}")
    return 0


def predictions(model, texts):
    """Return a DataFrame of predicted labels and, if the model has them, probabilities."""
    out = pd.DataFrame({"prediction": model.predict(texts)})
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(texts)
        for i, label in enumerate(model.classes_):
            out[f"proba_{label}"] = proba[:, i].astype(float).round(6)
    return out
