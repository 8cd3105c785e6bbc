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


class _Pieces(dict):
    """``TOKEN_PATTERN.findall`` of each distinct word, computed on first use.

    Words repeat (a batch of sentences has several tokens per distinct word), so the
    regular expression runs once per distinct word and repeats are a C-level look-up.
    """

    def __missing__(self, word):
        pieces = self[word] = TOKEN_PATTERN.findall(word)
        return pieces


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
        have it, and "great," becomes "great" and ",". ``"regex"`` gives exactly
        :func:`regex_tokenize` of each text.
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

    Examples
    --------
    >>> vocab = {"it": 0, "is": 1, "n't": 2, "u.s.": 3, ".": 4}
    >>> ids, lengths, unknown = tokenize_ids(["It isn't.", "the U.S."], vocab)
    >>> ids.tolist(), lengths.tolist(), unknown
    ([0, 1, 2, 4, -1, 3], [4, 2], ['the'])
    """
    if lowercase:
        texts = list(map(str.lower, texts))
    with _gc_paused():
        if tokenizer in ("auto", "regex"):
            return _split_then_repair(texts, vocab, regex=tokenizer == "regex")
        if tokenizer == "whitespace":
            token_lists = list(map(str.split, texts))
        elif tokenizer == "spacy":
            token_lists = list(map(spacy_tokenize, texts))
        else:
            token_lists = list(map(_tokens_of(tokenizer), texts))
        words, lengths = _flatten(token_lists)
        ids = _lookup(words, vocab)
    return ids, lengths, [words[i] for i in np.flatnonzero(ids < 0)]


def _tokens_of(tokenizer):
    """Wrap a user's tokenizer so it may return any iterable of tokens, as in scikit-learn."""

    def tokens(text):
        out = tokenizer(text)
        if isinstance(out, list):
            return out
        if isinstance(out, (str, bytes)) or not hasattr(out, "__iter__"):
            raise TypeError(
                f"the tokenizer must return an iterable of tokens (e.g. a list of str), "
                f"got a {type(out).__name__} for the text {text[:40]!r}"
            )
        return list(out)

    return tokens


def _split_then_repair(texts, vocab, regex=False):
    """Split on whitespace, then replace some words by their regex pieces.

    ``"auto"`` re-splits the words the vectors do not know. ``"regex"`` re-splits every
    word that is not purely alphanumeric, which gives exactly ``regex_tokenize(text)``:
    no token of ``TOKEN_PATTERN`` spans whitespace, and an alphanumeric word is a single
    token of it. Either way the regular expression only sees a few distinct words.
    """
    words, words_per_text = _flatten(list(map(str.split, texts)))
    ids = _lookup(words, vocab)
    if regex:
        resplit = np.flatnonzero(~np.fromiter(map(str.isalnum, words), bool, len(words)))
    else:
        resplit = np.flatnonzero(ids < 0)
    if not resplit.size:
        return ids, words_per_text, [words[i] for i in np.flatnonzero(ids < 0)]
    pieces, pieces_per_word = _flatten(
        list(map(_Pieces().__getitem__, [words[i] for i in resplit]))
    )
    piece_ids = _lookup(pieces, vocab)
    out, source, out_per_word = _splice(ids, resplit, piece_ids, pieces_per_word)
    text_of_word = np.repeat(np.arange(len(texts)), words_per_text)
    lengths = np.bincount(text_of_word, weights=out_per_word, minlength=len(texts))
    n_words = len(words)  # sources past the words index the pieces; no joined copy
    unknown = [words[i] if i < n_words else pieces[i - n_words] for i in source[out < 0]]
    return out, lengths.astype(np.int64), unknown


def _splice(ids, resplit, piece_ids, pieces_per_word):
    """Replace the words at ``resplit`` by their pieces, keeping the order of tokens.

    Returns the new ids, where each one comes from (an index into ``words + pieces``)
    and how many output tokens each word became.
    """
    n_words = len(ids)
    out_per_word = np.ones(n_words, dtype=np.int64)
    out_per_word[resplit] = pieces_per_word
    out_start = np.cumsum(out_per_word) - out_per_word
    kept = np.ones(n_words, dtype=bool)
    kept[resplit] = False
    source = np.empty(int(out_per_word.sum()), dtype=np.int64)
    source[out_start[kept]] = np.flatnonzero(kept)
    first_piece = np.cumsum(pieces_per_word) - pieces_per_word
    rank = np.arange(len(piece_ids)) - np.repeat(first_piece, pieces_per_word)
    source[np.repeat(out_start[resplit], pieces_per_word) + rank] = n_words + np.arange(
        len(piece_ids)
    )
    out = np.concatenate([ids, piece_ids])[source]
    return out, source, out_per_word
