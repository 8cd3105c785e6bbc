"""Long texts through a sentence encoder: chunks that fit the model, pooled into one row.

A sentence-transformers model reads at most ``limit`` word pieces of a text, its special
tokens included. :func:`plan_texts` cuts a longer text into chunks of at most
``limit - specials`` word pieces with the model's own tokenizer: between sentences where
it can, else between words, else between word pieces, each chunk a substring of the text
that starts up to :data:`OVERLAP` word pieces before the previous one ended. At most
``max_chunks`` chunks are made: the text after them is not read (its size is the plan's
``cut``). :func:`encode_pooled` encodes the chunks together with the texts that fit,
through the caller's per-text cache, and pools each text's chunk rows into one row.

A text that fits is its own one chunk, encoded as it is: its row is the one a truncating
encoder gives it.

Work per text is bounded by what is read, not by the text's length: before anything is
tokenized, a text is cut to :func:`head` of ``max_chunks`` chunks' word pieces
(:data:`CHARS_PER_PIECE` characters a piece), and sentence ends are sought only there.
A text of any length thus costs at most as much as one of ``max_chunks * 4,000``
characters with all-MiniLM-L6-v2; a text whose head holds fewer pieces than that
(white space, very long words) is read only as far as its head. ``max_chunks=None``
reads every text whole, whatever it costs.
"""

import re
import threading
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from lightxfer.shared.feature_cache import FEATURE_CACHE

POOLINGS = ("mean", "max", "mean+max")
#: Word pieces a chunk repeats from the end of the one before it (whole sentences when
#: the cut fell between sentences, whole words otherwise).
OVERLAP = 16
# Where a sentence ends: ., ! or ? (and closing quotes or brackets) before a space, or a
# line break. A chunk boundary right after one of these is a boundary between sentences.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026]+[\"'\u201d\u2019)\]]*(?=\s)|\n")
_WHITESPACE_BEFORE_LAST_WORD = re.compile(r"\s\S*\Z")
#: Characters of a text tokenized per word piece that may be read (English averages 4-5).
CHARS_PER_PIECE = 16


@dataclass(frozen=True)
class Plan:
    """How a text longer than the model's limit is read.

    Parameters
    ----------
    chunks : tuple of str
        Substrings of the text, in order, each fitting the model.
    sizes : tuple of int
        Word pieces of each chunk.
    cut : int
        Characters at the end of the text that no chunk reads (``max_chunks`` reached).
    """

    chunks: tuple
    sizes: tuple
    cut: int


def budget(tokenizer, limit):
    """Word pieces of text a chunk may hold: ``limit`` less the model's special tokens."""
    return limit - tokenizer.num_special_tokens_to_add(pair=False)


def head(text, pieces):
    """The start of ``text`` that can hold ``pieces`` word pieces, and one more.

    Nothing past it is tokenized: its length bounds the work one text costs.

    >>> head("word " * 1000, 10) == ("word " * 1000)[:176]
    True
    """
    return text[: (pieces + 1) * CHARS_PER_PIECE]


def plan_texts(texts, tokenizer, limit, *, max_chunks, lock=None, key=None):
    """Return each text's :class:`Plan`, or ``None`` for a text that fits as it is.

    Parameters
    ----------
    texts : list of str
    tokenizer : transformers fast tokenizer
        The model's own (character offsets are needed).
    limit : int
        Word pieces the model reads, special tokens included.
    max_chunks : int or None
        Chunks per text at most (``None``: no cap); ``1`` describes truncation.
    lock : lock, optional
        Held while tokenizing (a tokenizer is not safe to share between threads).
    key : hashable, optional
        Keep the plans in :data:`~lightxfer.shared.feature_cache.FEATURE_CACHE` under
        this key, so each distinct text is tokenized once per process.

    Returns
    -------
    list of Plan or None

    Examples
    --------
    >>> from lightxfer.shared import sentence_models
    >>> tokenizer = sentence_models.load("all-MiniLM-L6-v2").model.tokenizer
    >>> text = "A short sentence. " * 100  # 400 word pieces, 4 a sentence
    >>> fits, long = plan_texts(["A short sentence.", text], tokenizer, 256, max_chunks=None)
    >>> fits is None, long.sizes, long.cut  # the second chunk repeats 4 sentences
    (True, (252, 164), 0)
    >>> plan_texts([text], tokenizer, 256, max_chunks=1)[0].cut  # characters not read
    659
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "reading long texts in chunks needs a fast tokenizer (with character offsets), "
            "which this model lacks: pass long_texts='truncate'"
        )
    table = None if key is None else FEATURE_CACHE.get(key)
    if key is not None and table is None:
        table = PlanTable()
    known = {} if table is None else table.plans
    new = [text for text in dict.fromkeys(texts) if text not in known]
    if new:
        room = max(budget(tokenizer, limit), 1)
        heads = new if max_chunks is None else [head(text, max_chunks * room) for text in new]
        with lock or nullcontext():
            offsets = _offsets(tokenizer, heads, new)
        plans = [
            _plan(text, start, where, room, max_chunks)
            for text, start, where in zip(new, heads, offsets)
        ]
        if table is None:
            known = dict(zip(new, plans))
        else:
            table.add(new, plans)
            FEATURE_CACHE.put(key, table)
    return [known[text] for text in texts]


def encode_pooled(texts, plans, encode, pooling="mean"):
    """Rows of ``texts``: texts that fit as they are, longer ones pooled over their chunks.

    Parameters
    ----------
    texts : list of str
    plans : list of Plan or None
        From :func:`plan_texts`.
    encode : callable
        Maps a list of texts that fit the model to their rows (through the per-text
        cache, so a chunk shared by several texts is encoded once).
    pooling : {"mean", "max", "mean+max"}
        ``"mean"``: the chunks' mean weighted by their word pieces, scaled to their mean
        length (unit length stays unit length); ``"max"``: per feature; ``"mean+max"``:
        both, side by side (twice the width).

    Returns
    -------
    ndarray of shape (len(texts), width), float32
    """
    if pooling != "mean+max" and all(plan is None for plan in plans):
        return encode(texts)  # nothing to pool: the exact call a truncating encoder makes
    pieces = [plan.chunks if plan else (text,) for text, plan in zip(texts, plans)]
    distinct = list(dict.fromkeys(chunk for chunks in pieces for chunk in chunks))
    rows = encode(distinct)
    row_of = dict(zip(distinct, range(len(distinct))))
    out = np.empty((len(texts), rows.shape[1] * (2 if pooling == "mean+max" else 1)), np.float32)
    for i, (chunks, plan) in enumerate(zip(pieces, plans)):
        chunk_rows = rows[[row_of[chunk] for chunk in chunks]]
        out[i] = _pool(chunk_rows, plan.sizes if plan else (1,), pooling)
    return out


def _pool(rows, sizes, pooling):
    if len(rows) == 1:
        return np.concatenate([rows[0], rows[0]]) if pooling == "mean+max" else rows[0]
    parts = []
    if pooling in ("mean", "mean+max"):
        weights = np.asarray(sizes, np.float32) / np.sum(sizes)
        mean = weights @ rows
        norm = np.linalg.norm(mean)
        # The mean of unit vectors is shorter than they are: give it their mean length, so
        # a long text's row is on the scale of a short text's.
        parts.append(mean * (weights @ np.linalg.norm(rows, axis=1) / norm) if norm else mean)
    if pooling in ("max", "mean+max"):
        parts.append(rows.max(axis=0))
    return np.concatenate(parts)


def cut_summary(texts, plans):
    """``(texts cut, characters not read, characters of those texts)`` of a plan list."""
    cut = [(plan.cut, len(text)) for text, plan in zip(texts, plans) if plan and plan.cut]
    return len(cut), sum(lost for lost, _ in cut), sum(total for _, total in cut)


class PlanTable:
    """Plans of distinct texts, kept in the feature cache (it counts :attr:`nbytes`)."""

    def __init__(self):
        self.plans = {}
        self.nbytes = 0
        self._lock = threading.Lock()

    def add(self, texts, plans):
        """Store the plans of new ``texts``."""
        with self._lock:
            self.plans.update(zip(texts, plans))
            # The texts, about 100 bytes of dict per text, and the chunks of long ones.
            self.nbytes += sum(len(text) + 100 for text in texts)
            self.nbytes += sum(len(text) * 2 for text, plan in zip(texts, plans) if plan)


# -- splitting ------------------------------------------------------------------------------


def _tokenize(tokenizer, texts):
    encoded = tokenizer(
        texts,
        add_special_tokens=False,
        truncation=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,  # no "longer than the model's maximum" notice: that is the point
    )
    return [np.asarray(where, np.int64).reshape(-1, 2) for where in encoded["offset_mapping"]]


def _offsets(tokenizer, heads, texts):
    """Character spans of the word pieces of each text's head, whole words only.

    The last word of a head that cuts its text may be cut too: its pieces are dropped
    (unless the head is one word: its pieces are all there is to read).
    """
    offsets = _tokenize(tokenizer, heads)
    for i, (start, text) in enumerate(zip(heads, texts)):
        last = _WHITESPACE_BEFORE_LAST_WORD.search(start) if len(start) < len(text) else None
        if last is not None:
            offsets[i] = offsets[i][offsets[i][:, 1] <= last.start()]
    return offsets


def _plan(text, start, offsets, room, max_chunks):
    """The plan of ``text``, read as far as ``start`` (its head), split at ``offsets``."""
    whole = len(start) == len(text)
    if len(offsets) <= room and whole:
        return None
    if not len(offsets):  # a head of white space or control characters: nothing to split
        return Plan((start,), (1,), len(text) - len(start))
    levels = _boundary_levels(start, offsets)
    overlap = min(OVERLAP, room // 4)
    chunks, sizes = [], []
    begin = 0
    while True:
        end = min(begin + room, len(offsets))
        last = max_chunks is not None and len(chunks) + 1 == max_chunks
        if end < len(offsets) and not last:
            end = _best_end(levels, begin + max(room // 2, 1), end)
        chunks.append(text[offsets[begin, 0] : offsets[end - 1, 1]])
        sizes.append(end - begin)
        if end == len(offsets) or last:
            break
        begin = _next_start(levels, end, overlap)
    cut = 0 if end == len(offsets) and whole else len(text) - int(offsets[end - 1, 1])
    return Plan(tuple(chunks), tuple(sizes), cut)


def _boundary_levels(text, offsets):
    """For each boundary before a word piece: 2 between sentences, 1 between words, else 0.

    Index ``t`` is the boundary before piece ``t``; the text's start and end count as 2.
    """
    starts, ends = offsets[:, 0], offsets[:, 1]
    levels = np.zeros(len(offsets) + 1, np.int8)
    levels[1:-1] = starts[1:] > ends[:-1]
    sentence_ends = np.array([m.end() for m in _SENTENCE_END.finditer(text)], np.int64)
    # A sentence ends in the gap between two pieces: at or after the first one's end, at
    # or before the next one's start.
    in_gap = np.searchsorted(sentence_ends, starts[1:], "right") - np.searchsorted(
        sentence_ends, ends[:-1], "left"
    )
    levels[1:-1][in_gap > 0] = 2
    levels[0] = levels[-1] = 2
    return levels


def _best_end(levels, low, high):
    """The last boundary in ``[low, high]`` between sentences, else between words, else ``high``."""
    window = levels[low : high + 1]
    for level in (2, 1):
        found = np.flatnonzero(window >= level)
        if len(found):
            return low + int(found[-1])
    return high


def _next_start(levels, end, overlap):
    """The first boundary of the same kind as ``end`` at most ``overlap`` pieces before it."""
    window = levels[end - overlap : end]
    if levels[end] == 2:
        found, otherwise = np.flatnonzero(window == 2), end  # no need to overlap
    else:
        found, otherwise = np.flatnonzero(window >= 1), end - overlap
    return end - overlap + int(found[0]) if len(found) else otherwise
