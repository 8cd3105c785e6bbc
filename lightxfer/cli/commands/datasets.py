"""``lightxfer datasets``: list the benchmark datasets shipped with lightxfer, or write one out."""

from lightxfer.cli.common import write_table
from lightxfer.datasets import list_datasets, load_dataset

NAME = "datasets"
HELP = (
    "List the benchmark datasets shipped with lightxfer (SST-2, SST-5, TREC, SUBJ, MPQA), "
    "or write one split to a CSV/TSV/JSONL file."
)


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="dataset to write (omit to list them all)")
    parser.add_argument(
        "--split", help="train, dev or test where the set has them (train); SUBJ, MPQA: all"
    )
    parser.add_argument("--output", metavar="FILE", help="table to write (.csv, .tsv, .jsonl)")


def run(args):
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
        print(table.head(10).to_string(index=False))
        print(f"... {len(table)} rows; pass --output FILE to write them all")
        return 0
    path = write_table(table, args.output)
    print(f"wrote {len(table)} rows ({', '.join(table.columns)}) to {path}")
    return 0
