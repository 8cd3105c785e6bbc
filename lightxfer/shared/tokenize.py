"""Turn batches of texts into word ids without a per-token Python loop.

Splitting, lower-casing and dictionary look-ups run through ``map`` over C functions;
only the pieces the vectors do not know are looked at again.
"""

import gc
import re
from contextlib import contextmanager
from functools import cache
from itertools import chain, repeat

import numpy as np

#: Words, clitics in the style of the Penn Treebank ("do", "n't", "'s") and single
#: punctuation marks, as the GloVe and word2vec corpora were tokenised.
TOKEN_PATTERN = re.compile(r"n't|\w+(?=n't)|'\w+|\w+|[^\w\s]")
TOKENIZERS = ("auto", "regex", "whitespace", "spacy")


def regex_tokenize(text):
    """Split ``text`` into words, clitics and punctuation.

    Examples
    --------
    >>> regex_tokenize("it's great, isn't it?")
    ['it', "'s", 'great', ',', 'is', "n't", 'it', '?']
    """
    return TOKEN_PATTERN.findall(text)


@cache
def _spacy_tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def spacy_tokenize(text):
    """Split ``text`` with spaCy's rule-based English tokenizer (no model needed)."""
    return [token.text for token in _spacy_tokenizer()(text)]


@contextmanager
def _gc_paused():
    # Building millions of small lists triggers the cyclic collector over and over,
    # which costs more than the splitting itself; none of these objects form cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lookup(words, vocab):
    return np.fromiter(map(vocab.get, words, repeat(-1)), dtype=np.int64, count=len(words))


def _flatten(token_lists):
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    return list(chain.from_iterable(token_lists)), lengths


def tokenize_ids(texts, vocab, *, tokenizer="auto", lowercase=True):
    """Tokenise ``texts`` and look every token up in ``vocab``.

    Parameters
    ----------
    texts : list of str
    vocab : dict
        Word to row index (``KeyedVectors.key_to_index``).
    tokenizer : {"auto", "regex", "whitespace", "spacy"} or callable
        ``"auto"`` splits on whitespace and splits a piece the vectors do not know
        further with :func:`regex_tokenize`; so "u.s." stays one word when the vectors
        have it, and "great," becomes "great" and ",".
    lowercase : bool
        Lower-case texts first.

    Returns
    -------
    ids : ndarray of int64
        Row index of every token, ``-1`` where the vectors do not know it.
    lengths : ndarray of int64
        Number of tokens in each text.
    unknown : list of str
        The tokens whose id is ``-1``, in order.
    """
    if lowercase:
        texts = list(map(str.lower, texts))
    with _gc_paused():
        if tokenizer == "auto":
            return _split_then_repair(texts, vocab)
        split = {"regex": regex_tokenize, "whitespace": str.split, "spacy": spacy_tokenize}
        words, lengths = _flatten(list(map(split.get(tokenizer, tokenizer), texts)))
        ids = _lookup(words, vocab)
    return ids, lengths, [words[i] for i in np.flatnonzero(ids < 0)]


def _split_then_repair(texts, vocab):
    words, words_per_text = _flatten(list(map(str.split, texts)))
    ids = _lookup(words, vocab)
    missing = np.flatnonzero(ids < 0)
    if not missing.size:
        return ids, words_per_text, []
    pieces, pieces_per_word = _flatten(
        list(map(TOKEN_PATTERN.findall, [words[i] for i in missing]))
    )
    piece_ids = _lookup(pieces, vocab)
    # Each unknown word is replaced in place by its pieces: compute where every known
    # word and every piece lands in the output.
    out_len = np.ones(len(words), dtype=np.int64)
    out_len[missing] = pieces_per_word
    out_start = np.cumsum(out_len) - out_len
    out = np.empty(int(out_len.sum()), dtype=np.int64)
    known = np.ones(len(words), dtype=bool)
    known[missing] = False
    out[out_start[known]] = ids[known]
    first_piece = np.cumsum(pieces_per_word) - pieces_per_word
    rank = np.arange(len(pieces)) - np.repeat(first_piece, pieces_per_word)
    out[np.repeat(out_start[missing], pieces_per_word) + rank] = piece_ids
    text_of_word = np.repeat(np.arange(len(texts)), words_per_text)
    lengths = np.bincount(text_of_word, weights=out_len, minlength=len(texts)).astype(np.int64)
    return out, lengths, [pieces[i] for i in np.flatnonzero(piece_ids < 0)]
