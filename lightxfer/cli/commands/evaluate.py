"""``lightxfer evaluate``: accuracy, calibration and confusion matrix of a model on a table."""

from lightxfer.cli.arguments import add_allow_pickle, add_table_columns, add_trusted

NAME = "evaluate"
HELP = (
    "Score a saved model on a labelled CSV/TSV/JSONL table: accuracy, macro-F1, how far its "
    "confidence holds (calibration error, Brier score, log-loss, coverage and accuracy above "
    "a confidence threshold) and the confusion matrix."
)


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="MODEL", help="saved model")
    parser.add_argument("--test", required=True, metavar="FILE", help="labelled test table")
    add_table_columns(parser)
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.8,
        metavar="P",
        help="report the share of texts whose top probability reaches P and the accuracy on "
        "them (0.8)",
    )
    parser.add_argument(
        "--target-accuracy",
        type=float,
        metavar="A",
        help="pick the lowest confidence threshold whose answers reach accuracy A (e.g. 0.95) "
        "and measure it on held-out folds of the table",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the reliability diagram and the accuracy-coverage curve (.png, .pdf, .svg)",
    )
    add_allow_pickle(parser)
    add_trusted(parser)


def run(args):
    from lightxfer.cli.common import load_model, read_labelled
    from lightxfer.evaluation import check_plot_path
    from lightxfer.reliability import ECE_BINS, check_min_confidence
    from lightxfer.scoring import plot_reliability

    check_min_confidence(args.min_confidence, "--min-confidence")
    if args.target_accuracy is not None:
        check_min_confidence(args.target_accuracy, "--target-accuracy")
    if args.plot is not None:
        check_plot_path(args.plot)
    model = load_model(args.model, args.allow_pickle, args.trusted)
    X, y = read_labelled(
        args.test, args.text_column, args.label_column, classes=getattr(model, "classes_", None)
    )
    scores = evaluate(model, X, y, args.min_confidence, args.target_accuracy)
    print(f"{len(y)} texts from {args.test}")
    print(f"accuracy: {scores['accuracy']:.1%}")
    print(f"macro-F1: {scores['macro_f1']:.1%}")
    if "ece" not in scores:
        print("calibration: not measured, the model gives no probabilities")
    else:
        print(
            f"calibration error (ECE, top label, {ECE_BINS} equal-mass bins): {scores['ece']:.3f}"
        )
        print(f"Brier score: {scores['brier']:.3f}")
        print(f"log-loss: {scores['log_loss']:.3f}")
        print(
            f"confidence >= {scores['min_confidence']:g}: answers {scores['coverage']:.1%} of "
            f"the texts, {_percent(scores['answered_accuracy'])} of them right"
        )
    if args.target_accuracy is not None:
        print(_threshold_line(scores, args.target_accuracy))
    if args.plot is not None and "proba" in scores:
        plot_reliability(
            y, scores["proba"], model.classes_, args.plot, min_confidence=args.min_confidence
        )
        print(f"wrote the reliability plot to {args.plot}")
    print("confusion matrix (rows: true label, columns: predicted):")
    print(scores["confusion"].to_string())
    return 0


def evaluate(model, X, y, min_confidence=0.8, target_accuracy=None):
    """Return :func:`lightxfer.scoring.evaluate` of ``model`` on ``X, y``."""
    from lightxfer.scoring import evaluate as score

    return score(model, X, y, min_confidence=min_confidence, target_accuracy=target_accuracy)


def _threshold_line(scores, target):
    if "ece" not in scores:
        return f"target accuracy {target:g}: the model gives no probabilities to threshold"
    if scores["threshold"] is None:
        return f"target accuracy {target:.1%}: no confidence threshold reaches it on this table"
    return (
        f"target accuracy {target:.1%}: threshold {scores['threshold']:.3f} (--min-confidence); "
        f"on held-out folds of the table it answers {scores['threshold_coverage']:.1%} of the "
        f"texts, {_percent(scores['threshold_accuracy'])} of them right"
    )


def _percent(value):
    return "none" if value != value else f"{value:.1%}"  # NaN: nothing answered
