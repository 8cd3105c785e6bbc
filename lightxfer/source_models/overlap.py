"""Which of a user's training texts a shipped source was trained on, or may have been.

A source's hidden layer has seen the texts of its task's data. Reused for a target whose
training texts are among them, it recognises those texts rather than the pattern, so the
target's validation (the sources' weight) and any held-out score of those texts overstate.
:func:`warn_overlap` says so in one line; the check compares each text, lower-cased with
its spaces collapsed, with every text of the source task's shipped dataset (all splits),
read once per process.
"""

import functools
import warnings

from lightxfer.datasets import DATASETS, load_dataset
from lightxfer.source_models.shipped import CONV_PREFIX


def normalise(text):
    """``text`` lower-cased with runs of white space as one space, for matching.

    Examples
    --------
    >>> normalise("  A  Good\\tfilm ")
    'a good film'
    """
    return " ".join(str(text).lower().split())


@functools.cache
def task_texts(task):
    """The normalised texts of a shipped task's dataset, every split (a frozenset)."""
    splits = DATASETS[task].splits
    return frozenset(normalise(t) for split in splits for t in load_dataset(task, split)[0])


def overlap(names, texts):
    """Count the ``texts`` found in each source's task data.

    Parameters
    ----------
    names : list of str
        Shipped sources (``"sst2"``, ``"conv_sst2"``...).
    texts : list of str

    Returns
    -------
    dict of str to int
        Sources with at least one of the texts, and how many.

    Examples
    --------
    >>> overlap(["trec", "sst2"], ["How far is it from Denver to Aspen ?", "new text"])
    {'trec': 1}
    """
    normalised = {normalise(text) for text in texts}
    found = {}
    for name in names:
        task = name[len(CONV_PREFIX) :] if name.startswith(CONV_PREFIX) else name
        count = len(normalised & task_texts(task))
        if count:
            found[name] = count
    return found


def warn_overlap(names, texts):
    """Warn, in one line, when training texts are in the data of the sources ``names``."""
    found = overlap(names, texts)
    if found:
        listed = ", ".join(f"{name}: {count}" for name, count in found.items())
        warnings.warn(
            f"training texts are in the data of shipped sources (texts found, by source: "
            f"{listed}): those sources may recognise them, so their validated weight and "
            "held-out scores of these texts overstate; leave them out with sources=[...]",
            UserWarning,
            stacklevel=3,
        )
