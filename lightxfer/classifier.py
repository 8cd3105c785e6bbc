"""``make_classifier``: the shared embedding layer plus a task-specific head, as a Pipeline."""

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors.loading import DEFAULT_VECTORS

HEADS = {
    "logreg": lambda **params: LogisticRegression(**{"max_iter": 1000, **params}),
    "mlp": lambda **params: MLPClassifier(
        **{
            "hidden_layer_sizes": (256,),
            "early_stopping": True,
            "max_iter": 300,
            "random_state": 0,
            **params,
        }
    ),
}


def make_head(head="logreg", **head_params):
    """Return an unfitted head: ``"logreg"`` (the softmax layer) or ``"mlp"``.

    Parameters
    ----------
    head : {"logreg", "mlp"} or estimator
        A scikit-learn classifier is returned as is (with ``head_params`` set on it).
    **head_params
        Passed to the head's constructor.
    """
    if isinstance(head, str):
        if head not in HEADS:
            raise ValueError(f"head must be one of {sorted(HEADS)} or a classifier, got {head!r}")
        return HEADS[head](**head_params)
    return head.set_params(**head_params)


def make_classifier(
    vectors=DEFAULT_VECTORS, pooling="mean", head="logreg", *, n_jobs=None, **head_params
):
    """Build a Pipeline: ``EmbeddingVectorizer`` (frozen vectors) then a head.

    Parameters
    ----------
    vectors : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        The shared layer's vectors (see :func:`lightxfer.load_vectors`).
    pooling : str or list of str, default="mean"
        See :class:`lightxfer.EmbeddingVectorizer`.
    head : {"logreg", "mlp"} or classifier, default="logreg"
        The task-specific head.
    n_jobs : int, optional
        Processes for embedding.
    **head_params
        Passed to the head, e.g. ``C=10`` or ``hidden_layer_sizes=(128,)``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"embedding"`` and ``"head"``.

    Examples
    --------
    >>> model = make_classifier(pooling=["mean", "max"], C=10)
    >>> [name for name, _ in model.steps]
    ['embedding', 'head']
    """
    return Pipeline(
        [
            ("embedding", EmbeddingVectorizer(vectors=vectors, pooling=pooling, n_jobs=n_jobs)),
            ("head", make_head(head, **head_params)),
        ]
    )
