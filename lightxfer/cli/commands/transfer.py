"""``lightxfer transfer``: does a saved source model help a target task? Print the table."""

from lightxfer.classifier import HEADS
from lightxfer.cli.common import add_allow_pickle, add_table_columns, load_model, read_labelled
from lightxfer.evaluation import evaluate_transfer, format_table
from lightxfer.persistence import save
from lightxfer.transferring import FREEZE, transfer

NAME = "transfer"
HELP = (
    "Reuse a saved source model's frozen layers on a target table: compare the transferred "
    "model with the frozen embedding alone and TF-IDF from scratch over training sizes and "
    "seeds, and say whether transfer helps or hurts."
)


def add_arguments(parser):
    parser.add_argument("--source", required=True, metavar="MODEL", help="fitted source model")
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled target table")
    parser.add_argument(
        "--test", metavar="FILE", help="labelled target test table (default: hold out 30%%)"
    )
    add_table_columns(parser)
    parser.add_argument(
        "--sizes", default="8,32,128,all", help="examples per class, comma-separated (8,32,128,all)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="random samples per size (5)")
    parser.add_argument("--head", choices=sorted(HEADS), default="logreg", help="new head (logreg)")
    parser.add_argument("--freeze", choices=FREEZE, default="hidden", help="layers reused (hidden)")
    parser.add_argument(
        "--fine-tune", action="store_true", help="keep training the source MLP's hidden layers"
    )
    parser.add_argument("--plot", metavar="PNG", help="also write the learning curves here")
    parser.add_argument(
        "--out", metavar="MODEL", help="also fit the transferred model on all of --train, save it"
    )
    add_allow_pickle(parser)


def run(args):
    source = load_model(args.source, args.allow_pickle)
    X, y = read_labelled(args.train, args.text_column, args.label_column)
    X_test = y_test = None
    if args.test:
        X_test, y_test = read_labelled(args.test, args.text_column, args.label_column)
    options = {"head": args.head, "freeze": args.freeze, "fine_tune": args.fine_tune}
    table = evaluate_transfer(
        source,
        X,
        y,
        train_sizes=parse_sizes(args.sizes),
        n_seeds=args.seeds,
        X_test=X_test,
        y_test=y_test,
        plot=args.plot,
        **options,
    )
    print(format_table(table))
    print()
    print("\n".join(table.attrs["summary"]))
    if args.plot:
        print(f"learning curves written to {args.plot}")
    if args.out:
        print(f"saved transferred model to {save(transfer(source, **options).fit(X, y), args.out)}")
    return 0


def parse_sizes(text):
    """Parse ``"8,32,all"`` into ``[8, 32, "all"]``."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            sizes.append(part)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise ValueError(f"--sizes: {part!r} is neither a positive integer nor 'all'")
    return sizes
