"""Query strategies: which unlabelled texts to label next, each a class with one method.

As small-text's query strategies, each is a small class behind one method,
``query(features, probabilities, unlabelled, n, random_state)``, over arrays only: the
rows of the pool's shared-layer features and, for the strategies that need a fitted
model, its class probabilities. :func:`lightxfer.suggest` picks one and adds the texts.
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state


class RandomSampling:
    """Texts drawn at random: the baseline every other strategy must beat.

    Each strategy says whether its ``query`` reads ``probabilities`` (``needs_model``)
    and ``features`` (``needs_features``), so that a caller computes only those.
    """

    needs_model = False
    needs_features = False

    def query(self, features, probabilities, unlabelled, n, random_state=None):
        """Return ``(positions, reasons)`` of ``n`` of the ``unlabelled`` rows.

        Parameters
        ----------
        features : ndarray of shape (n_texts, n_features)
            Unused.
        probabilities : ndarray of shape (n_texts, n_classes) or None
            Unused.
        unlabelled : ndarray of int
            Rows that may be chosen.
        n : int
        random_state : int, RandomState or None

        Returns
        -------
        positions : ndarray of int
        reasons : list of str
        """
        chosen = check_random_state(random_state).choice(unlabelled, n, replace=False)
        return chosen, ["drawn at random"] * n


class Representative:
    """Cold start: k-means on the features, the text nearest each centre.

    With no model yet, the first labels should cover the pool: one typical text of
    each of ``n`` regions, largest region first. The regions are those of cosine
    similarity (:func:`nearest_to_centres`), the geometry sentence encoders are trained for.
    """

    needs_model = False
    needs_features = True

    def query(self, features, probabilities, unlabelled, n, random_state=None):
        """Return ``(positions, reasons)`` of ``n`` typical ``unlabelled`` rows.

        Parameters are those of :meth:`RandomSampling.query`.
        """
        nearest, sizes = nearest_to_centres(features[unlabelled], n, random_state)
        order = np.argsort(-sizes, kind="stable")
        chosen = unlabelled[nearest[order]]
        reasons = [f"typical of {size} unlabelled texts like it" for size in sizes[order]]
        if len(chosen) < n:  # fill up with texts the clusters did not pick
            rest = np.setdiff1d(unlabelled, chosen)
            more, _ = RandomSampling().query(None, None, rest, n - len(chosen), random_state)
            chosen = np.concatenate([chosen, more])
            reasons += ["a duplicate region: drawn at random"] * len(more)
        return chosen, reasons


class BreakingTies:
    """The smallest margin between the two likeliest classes (Luo et al. 2005).

    Small-text's ``BreakingTies``: a strong baseline with transformers (Schröder et al.,
    ACL Findings 2022), but on its own a batch of it can be near-duplicates.

    Parameters
    ----------
    classes : array-like, optional
        The class of each column of the probabilities, named in the reasons.
    """

    needs_model = True
    needs_features = False

    def __init__(self, classes=None):
        self.classes = classes

    def query(self, features, probabilities, unlabelled, n, random_state=None):
        """Return ``(positions, reasons)`` of the ``n`` smallest margins, smallest first.

        Parameters are those of :meth:`RandomSampling.query`; ``probabilities`` are
        needed.
        """
        margin, first, second = margins(probabilities[unlabelled])
        order = np.argsort(margin, kind="stable")[:n]
        return unlabelled[order], self._reasons(margin[order], first[order], second[order])

    def _reasons(self, margin, first, second):
        name = (lambda i: repr(self.classes[i])) if self.classes is not None else str
        return [
            f"uncertain between {name(a)} and {name(b)} (margin {m:.3f})"
            for m, a, b in zip(margin, first, second)
        ]


class DiverseBreakingTies(BreakingTies):
    """Breaking ties with a diversity term: the most uncertain of distinct regions.

    Zhdanov's diverse mini-batch active learning (2019): take the ``candidates * n``
    smallest margins, cluster them into ``n`` groups by k-means weighted by their
    uncertainty (1 - margin) (:func:`nearest_to_centres`), and from each group take the
    text nearest its centre. A batch then spreads over the uncertain regions instead of
    piling onto one.

    Parameters
    ----------
    classes : array-like, optional
        The class of each column of the probabilities, named in the reasons.
    candidates : int, default=10
        Multiple of ``n`` prefiltered by margin.
    """

    needs_features = True

    def __init__(self, classes=None, candidates=10):
        super().__init__(classes)
        self.candidates = candidates

    def query(self, features, probabilities, unlabelled, n, random_state=None):
        """Return ``(positions, reasons)``: ``n`` uncertain, mutually distinct rows.

        Parameters are those of :meth:`RandomSampling.query`.
        """
        margin, first, second = margins(probabilities[unlabelled])
        pool = np.argsort(margin, kind="stable")[: self.candidates * n]
        if len(pool) > n:
            weights = 1.0 - margin[pool] + 1e-6
            picked, _ = nearest_to_centres(features[unlabelled[pool]], n, random_state, weights)
            rest = np.setdiff1d(np.arange(len(pool)), picked)  # already sorted by margin
            pool = pool[np.sort(np.concatenate([picked, rest[: n - len(picked)]]).astype(int))]
        pool = pool[np.argsort(margin[pool], kind="stable")]
        return unlabelled[pool], self._reasons(margin[pool], first[pool], second[pool])


class ExploreThenMargin(DiverseBreakingTies):
    """Part of each batch drawn at random, the rest diverse breaking ties.

    A model fitted on a few dozen labels is uncertain near a boundary that can lie inside
    one class: a batch of only its uncertain texts is then of one class, and a strongly
    regularised head fitted on the lopsided labels can fall far below random sampling
    (18 to 24 points at 32 labels on SUBJ and MPQA with MiniLM,
    ``benchmarks/active_learning.py``). Random draws keep the classes in their shares
    (typical texts of k-means regions do not: regions are topics, not classes). So the
    batch starts as mostly random draws and hands over to :class:`DiverseBreakingTies` as
    labels grow: the random share falls from 1 to ``floor`` over the first ``batches``
    batches' worth of labels. The schedule was chosen on held-out training texts.

    Parameters
    ----------
    classes : array-like, optional
        The class of each column of the probabilities, named in the reasons.
    candidates : int, default=10
        Multiple of the margin part prefiltered by margin.
    batches : int, default=8
        Batches of ``n`` labels after which the random share reaches ``floor``.
    floor : float, default=0.25
        Share of random draws kept in every later batch.
    """

    def __init__(self, classes=None, candidates=10, batches=8, floor=0.25):
        super().__init__(classes, candidates)
        self.batches = batches
        self.floor = floor

    def query(self, features, probabilities, unlabelled, n, random_state=None):
        """Return ``(positions, reasons)``: uncertain texts first, then random ones.

        Parameters are those of :meth:`RandomSampling.query`; the labelled rows are those
        of ``probabilities`` not in ``unlabelled``.
        """
        n_labelled = len(probabilities) - len(unlabelled)
        share = max(self.floor, 1 - n_labelled / (self.batches * n))
        n_random = min(n, round(share * n))
        drawn, reasons = RandomSampling().query(None, None, unlabelled, n_random, random_state)
        if n_random == n:
            return drawn, reasons
        rest = np.setdiff1d(unlabelled, drawn)
        uncertain, why = super().query(features, probabilities, rest, n - n_random, random_state)
        return np.concatenate([uncertain, drawn]), why + reasons


def nearest_to_centres(features, n, random_state=None, weights=None):
    """Cluster rows into ``n`` groups by k-means; return each group's row nearest its centre.

    Rows are L2-normalised first, so that the groups are those of cosine similarity.

    Returns
    -------
    nearest : ndarray of int
        Per non-empty group, the position of its row nearest the centre (duplicate rows
        can leave groups empty).
    sizes : ndarray of int
        The groups' sizes, in the same order.
    """
    points = normalize(np.asarray(features, dtype=np.float64))
    kmeans = KMeans(n, n_init=1, random_state=check_random_state(random_state))
    kmeans.fit(points, sample_weight=weights)
    gaps = np.linalg.norm(points - kmeans.cluster_centers_[kmeans.labels_], axis=1)
    groups = [np.flatnonzero(kmeans.labels_ == group) for group in range(n)]
    groups = [members for members in groups if len(members)]
    nearest = np.array([members[np.argmin(gaps[members])] for members in groups], dtype=np.intp)
    return nearest, np.array([len(members) for members in groups])


def margins(probabilities):
    """Return the margin between the two likeliest classes, and those classes' columns.

    Parameters
    ----------
    probabilities : ndarray of shape (n_texts, n_classes)

    Returns
    -------
    margin, first, second : ndarray of shape (n_texts,)

    Examples
    --------
    >>> margin, first, second = margins(np.array([[0.2, 0.5, 0.3]]))
    >>> round(float(margin[0]), 2), int(first[0]), int(second[0])
    (0.2, 1, 2)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape[1] < 2:
        raise ValueError("margins need at least 2 classes of probabilities")
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :2]
    rows = np.arange(len(probabilities))
    margin = probabilities[rows, top[:, 0]] - probabilities[rows, top[:, 1]]
    return margin, top[:, 0], top[:, 1]


#: Strategies by the name :func:`lightxfer.suggest` takes; ``"auto"`` is resolved there.
STRATEGIES = {
    "representative": Representative,
    "explore-margin": ExploreThenMargin,
    "diverse-margin": DiverseBreakingTies,
    "margin": BreakingTies,
    "random": RandomSampling,
}
