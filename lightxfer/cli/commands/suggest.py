"""``lightxfer suggest``: the texts of a pool to label next, written with an empty label column."""

from lightxfer.cli.arguments import (
    DEFAULT_VECTORS,
    add_allow_pickle,
    add_table_columns,
    add_trusted,
)

NAME = "suggest"
HELP = (
    "Choose the texts of a pool (CSV/TSV/JSONL) to label next and write them, best first, "
    "with an empty label column to fill and the reason for each. With --labelled, a model "
    "is trained on those labels and the texts it is least sure about are chosen, spread "
    "over distinct regions, beside texts drawn at random (fewer as labels grow); with "
    "--model, that model's; with neither, a cold start: one typical text of "
    "each region of the pool. The pool holds every text, labelled or not; "
    "labelled texts are never suggested again."
)
STRATEGIES = ("auto", "representative", "explore-margin", "diverse-margin", "margin", "random")


def add_arguments(parser):
    parser.add_argument("--pool", required=True, metavar="FILE", help="table of texts to label")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--labelled", metavar="FILE", help="table of the pool's texts labelled so far"
    )
    source.add_argument("--model", metavar="MODEL", help="a saved model to ask instead")
    parser.add_argument("--n", type=int, default=20, metavar="N", help="texts to suggest (20)")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=".csv, .tsv or .jsonl, or - for standard output (in the pool's format)",
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: representative without labels, else explore-margin (default: auto)",
    )
    add_table_columns(parser)
    parser.add_argument(
        "--vectors", help=f"vectors of the model trained on --labelled (default: {DEFAULT_VECTORS})"
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="a sentence-transformers model as the shared layer instead of word vectors",
    )
    add_allow_pickle(parser)
    add_trusted(parser)


def run(args):
    import sys

    from lightxfer.cli.common import check_output, load_model, read_texts, write_table
    from lightxfer.labelling.suggestions import suggest

    suffix = check_output(args.out, like=args.pool)
    check_new_file(args.out, args.force)
    table, texts = read_texts(args.pool, args.text_column)
    if "reason" in table.columns:
        raise ValueError(f"{args.pool} already has a 'reason' column; rename it first")
    labelled = None
    if args.model is not None:
        model = load_model(args.model, args.allow_pickle, args.trusted)
    else:
        model = _model(args)
        if args.labelled is not None:
            labelled, model = _fit_on_labelled(args, texts, model)
    out = suggest(model, texts, n=args.n, labelled=labelled, strategy=args.strategy)
    rows = table.iloc[out["index"]].reset_index(drop=True)
    rows[args.label_column] = ""
    rows["reason"] = out["reason"]
    target = write_table(rows, args.out, suffix)
    print(
        f"wrote {len(rows)} texts to label to {target}: fill in the {args.label_column!r} column",
        file=sys.stderr if target == "standard output" else sys.stdout,
    )
    return 0


def check_new_file(path, force):
    """Refuse to write over an existing ``path`` unless ``force``: it may hold labels."""
    from pathlib import Path

    if str(path) != "-" and Path(path).exists() and not force:
        raise FileExistsError(
            f"{path} exists (it may hold labels you typed); pass --force to replace it"
        )


def _model(args):
    from lightxfer.cli.commands.train import build_model
    from lightxfer.cli.common import preload_vectors

    preload_vectors(args.vectors, args.allow_pickle)
    return build_model(vectors=args.vectors, encoder=args.encoder, allow_pickle=args.allow_pickle)


def _fit_on_labelled(args, pool, model):
    """Return the positions in ``pool`` of the labelled texts, and ``model`` fitted on them."""
    import numpy as np

    from lightxfer.cli.common import check_trainable, read_labelled

    texts, labels = read_labelled(args.labelled, args.text_column, args.label_column)
    check_trainable(args.labelled, args.label_column, labels)
    position = {text: i for i, text in enumerate(pool)}
    missing = [i for i, text in enumerate(texts) if text not in position]
    if missing:
        raise ValueError(
            f"{args.labelled}: {len(missing)} of {len(texts)} labelled texts are not in the "
            f"pool {args.pool} (the first: row {missing[0] + 1}, {texts[missing[0]][:60]!r}); "
            "the pool must hold every text, labelled or not"
        )
    return np.array([position[text] for text in texts]), model.fit(texts, labels)
