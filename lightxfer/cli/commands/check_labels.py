"""``lightxfer check-labels``: the labels of a table that look wrong, most suspect first."""

from lightxfer.cli.arguments import DEFAULT_VECTORS, add_allow_pickle, add_table_columns

NAME = "check-labels"
HELP = (
    "Find the labels of a labelled table (CSV/TSV/JSONL) that look wrong: every text is "
    "scored by a model trained without it (cross-validation), and cleanlab's confident "
    "learning flags the labels that model finds unlikely, most suspect first. Prints the "
    "first ones; --out writes them all. Needs lightxfer[labels]."
)
SHOWN = 20


def add_arguments(parser):
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled table")
    add_table_columns(parser)
    parser.add_argument("--cv", type=int, default=5, metavar="K", help="folds (5)")
    parser.add_argument(
        "--out", metavar="FILE", help="write every suspect row (.csv, .tsv, .jsonl)"
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--vectors", help=f"vectors name or path (default: {DEFAULT_VECTORS})")
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="a sentence-transformers model as the shared layer instead of word vectors",
    )
    add_allow_pickle(parser)


def run(args):
    if args.cv < 2:
        raise ValueError(f"--cv must be at least 2 folds, got {args.cv}")
    from lightxfer.cli.commands.suggest import check_new_file
    from lightxfer.cli.commands.train import build_model
    from lightxfer.cli.common import (
        check_output,
        check_trainable,
        preload_vectors,
        read_labelled,
        write_table,
    )
    from lightxfer.exceptions import require
    from lightxfer.labelling.label_issues import label_issues

    require("cleanlab", "labels")  # before any work
    suffix = None
    if args.out is not None:
        suffix = check_output(args.out, like=args.train)
        check_new_file(args.out, args.force)
    texts, labels = read_labelled(args.train, args.text_column, args.label_column)
    check_trainable(args.train, args.label_column, labels)
    preload_vectors(args.vectors, args.allow_pickle)
    model = build_model(vectors=args.vectors, encoder=args.encoder, allow_pickle=args.allow_pickle)
    issues = label_issues(model, texts, labels, cv=args.cv)
    print(f"{len(issues)} of {len(texts)} labels look wrong ({len(issues) / len(texts):.1%})")
    if len(issues):
        shown = issues.head(SHOWN).assign(row=issues["index"].head(SHOWN) + 1)
        shown["text"] = shown["text"].str.slice(0, 70)
        columns = ["row", "label", "predicted", "score", "text"]
        print(shown[columns].to_string(index=False))
    if args.out is not None:
        issues = issues.assign(row=issues["index"] + 1).drop(columns="index")
        print(f"wrote {len(issues)} suspect rows to {write_table(issues, args.out, suffix)}")
    return 0
