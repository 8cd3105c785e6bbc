"""``lightxfer vectors``: inspect word vectors and build their memory-mapped cache."""

from lightxfer.cli.arguments import DEFAULT_VECTORS, add_allow_pickle, add_table_columns

NAME = "vectors"
HELP = "Inspect word vectors (info) or convert them into lightxfer's memory-mapped cache (convert)."


def add_arguments(parser):
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser(
        "info",
        help="dimension, words, fingerprint, source, cache path, and coverage of --texts",
        description="Show what a vector set is and, with --texts, how many tokens it knows.",
    )
    info.add_argument(
        "source",
        nargs="?",
        default=DEFAULT_VECTORS,
        help=f"vectors name or path (default: {DEFAULT_VECTORS}, the vectors shipped offline)",
    )
    info.add_argument("--texts", metavar="FILE", help="CSV/TSV/JSONL table to measure coverage on")
    add_table_columns(info, labels=False)
    add_allow_pickle(info, "vectors saved by gensim's KeyedVectors.save")
    convert = actions.add_parser(
        "convert",
        help="build the memory-mapped cache of a vectors file and print where it is",
        description="Convert vectors into the cache that later loads memory-map.",
    )
    convert.add_argument("source", help="vectors name or path")
    add_allow_pickle(convert, "vectors saved by gensim's KeyedVectors.save")


def run(args):
    from lightxfer.cli.common import read_texts
    from lightxfer.vectors.loading import cache_path, load_vectors

    kv = load_vectors(args.source, allow_pickle=args.allow_pickle)
    if args.action == "convert":
        print(f"{args.source}: {len(kv.index_to_key)} words x {kv.vector_size} dimensions")
        print(f"cache: {cache_path(args.source) or 'none needed (read memory-mapped in place)'}")
        return 0
    for name, value in describe(args.source, kv).items():
        print(f"{name + ':':<13}{value}")
    if args.texts:
        _, texts = read_texts(args.texts, args.text_column)
        print(f"{'coverage:':<13}{coverage(kv, texts):.1%} of the tokens of {args.texts}")
    return 0


def describe(source, kv):
    """Return the facts ``vectors info`` prints, in order."""
    from lightxfer.vectors import registry
    from lightxfer.vectors.loading import cache_path

    ref = registry.reference(kv)
    return {
        "source": ref.source or source,
        "dimension": kv.vector_size,
        "words": len(kv.index_to_key),
        "fingerprint": ref.fingerprint,
        "cache": cache_path(source) or "none (read memory-mapped in place)",
    }


def coverage(kv, texts):
    """Share of the tokens of ``texts`` (tokenised as EmbeddingVectorizer does) that ``kv`` knows."""
    from lightxfer.shared.tokenize import tokenize_ids
    from lightxfer.vectors import loaded

    lowercase = loaded.is_lowercase(kv)
    ids, _, _ = tokenize_ids(list(texts), kv.key_to_index, tokenizer="auto", lowercase=lowercase)
    return float((ids >= 0).mean()) if len(ids) else 0.0
