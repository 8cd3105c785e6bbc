"""Labelled text that installed packages ship, for offline demos and tests."""

from pathlib import Path

import numpy as np


def load_movie_reviews():
    """Return the 200 labelled movie-review sentences (Pang & Lee) shipped with gensim.

    Returns
    -------
    texts : ndarray of str, shape (200,)
    labels : ndarray of str, shape (200,)
        ``"neg"`` or ``"pos"``.

    Examples
    --------
    >>> texts, labels = load_movie_reviews()
    >>> len(texts), sorted(set(labels))
    (200, ['neg', 'pos'])
    """
    from gensim.test.utils import datapath

    texts, labels = [], []
    raw = Path(datapath("pang_lee_polarity.cor")).read_text(encoding="cp1252")  # as distributed
    for line in raw.splitlines():
        label, _, text = line.partition(" ")
        labels.append(label.removeprefix("__label__"))
        texts.append(text.strip())
    return np.array(texts, dtype=object), np.array(labels, dtype=object)
