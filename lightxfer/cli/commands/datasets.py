"""``lightxfer datasets``: list the benchmark datasets shipped with lightxfer, or write one out."""

import shutil

from lightxfer.cli.arguments import DATASETS

NAME = "datasets"
HELP = (
    "List the benchmark datasets shipped with lightxfer (SST-2, SST-5, TREC, SUBJ, MPQA), "
    "or write one split to a CSV/TSV/JSONL file."
)


def add_arguments(parser):
    parser.add_argument(
        "name", nargs="?", choices=DATASETS, help="dataset to write (omit to list them all)"
    )
    parser.add_argument(
        "--split", help="train, dev or test where the set has them (train); SUBJ, MPQA: all"
    )
    parser.add_argument("--output", metavar="FILE", help="table to write (.csv, .tsv, .jsonl)")


def run(args):
    from lightxfer.cli.common import write_table
    from lightxfer.datasets import list_datasets, load_dataset

    if args.name is None:
        if args.split or args.output:
            raise ValueError("--split and --output need a dataset name, e.g. `datasets sst2`")
        for name, row in list_datasets().iterrows():
            print(f"{name}: {row['task']} ({row['classes']})")
            for field in ("rows", "evaluation", "source", "licence"):
                print(f"  {field + ':':<12}{row[field]}")
        return 0
    table = load_dataset(args.name, args.split, as_frame=True)
    if args.output is None:
        print("\n".join(preview(table.head(10), shutil.get_terminal_size().columns)))
        print(f"... {len(table)} rows; pass --output FILE to write them all")
        return 0
    path = write_table(table, args.output)
    print(f"wrote {len(table)} rows ({', '.join(table.columns)}) to {path}")
    return 0


def preview(table, width):
    """Lines showing ``table``: other columns first, the text last, each line cut to ``width``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"text": ["a long text that goes on", "short"], "label": ["a", "bb"]})
    >>> print("\\n".join(preview(table, 20)))
    label  text
    a      a long text …
    bb     short
    """
    columns = [c for c in table.columns if c != "text"] + ["text"] * ("text" in table.columns)
    cells = table[columns].astype(str)
    widths = [max(len(str(c)), *cells[c].str.len()) for c in columns[:-1]]
    rows = [list(map(str, columns)), *cells.itertuples(index=False, name=None)]
    lines = []
    for row in rows:
        line = "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths))
        line = f"{line}  {row[-1]}" if widths else row[-1]
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines
