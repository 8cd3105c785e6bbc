"""``make_classifier``: the shared embedding layer plus a task-specific head, as a Pipeline.

Called with no model arguments it returns the recommended configuration
(:func:`lightxfer.recommended.make_recommended`); with any, the plain pipeline asked for.
"""

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline

from lightxfer.shared.encoder import SentenceEncoder
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
    vectors=None, pooling=None, head=None, *, encoder=None, n_jobs=None, **head_params
):
    """Build a Pipeline: an ``EmbeddingVectorizer`` (frozen vectors) then a head.

    With no ``vectors``, ``pooling``, ``head`` or head parameters, return the
    recommended configuration: frozen pooled vectors plus TF-IDF word and character
    n-grams whose weight and C are chosen by cross-validation on the training data
    (:func:`lightxfer.recommended.make_recommended`). It is never far behind n-gram
    models on large data and keeps the frozen vectors' lead on small data. Any model
    argument builds the plain pipeline instead, with defaults for the rest.

    Parameters
    ----------
    vectors : str, path or KeyedVectors, optional
        The shared layer's vectors (see :func:`lightxfer.load_vectors`); default
        ``"glove-wiki-gigaword-50"``.
    pooling : str or list of str, optional
        See :class:`lightxfer.EmbeddingVectorizer`; default ``"mean"``.
    head : {"logreg", "mlp"} or classifier, optional
        The task-specific head; default ``"logreg"``.
    encoder : str or path, optional
        A sentence-transformers model (e.g. ``"all-MiniLM-L6-v2"``) as the shared layer
        instead of word vectors: the pipeline's first step is a
        :class:`lightxfer.SentenceEncoder`.
    n_jobs : int, optional
        Processes for embedding (torch threads for an encoder; in the recommended model,
        also processes for its search); does not select the plain pipeline.
    **head_params
        Passed to the head, e.g. ``C=10`` or ``hidden_layer_sizes=(128,)``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"embedding"`` and ``"head"``.

    Examples
    --------
    >>> make_classifier().named_steps["embedding"]
    HybridVectorizer()
    >>> model = make_classifier(pooling=["mean", "max"], C=10)
    >>> [name for name, _ in model.steps]
    ['embedding', 'head']
    >>> type(model.named_steps["embedding"]).__name__
    'EmbeddingVectorizer'
    """
    if encoder is not None:
        if vectors is not None or pooling is not None:
            raise ValueError("pass either encoder= or vectors=/pooling=, not both")
        return Pipeline(
            [
                ("embedding", SentenceEncoder(encoder, n_jobs=n_jobs)),
                ("head", make_head("logreg" if head is None else head, **head_params)),
            ]
        )
    if vectors is None and pooling is None and head is None and not head_params:
        from lightxfer.recommended import make_recommended

        return make_recommended(n_jobs=n_jobs)
    return Pipeline(
        [
            (
                "embedding",
                EmbeddingVectorizer(
                    vectors=DEFAULT_VECTORS if vectors is None else vectors,
                    pooling="mean" if pooling is None else pooling,
                    n_jobs=n_jobs,
                ),
            ),
            ("head", make_head("logreg" if head is None else head, **head_params)),
        ]
    )


def make_tfidf_baseline():
    """Return the from-scratch baseline lightxfer compares against: TF-IDF 1-2 grams + LR.

    Examples
    --------
    >>> [name for name, _ in make_tfidf_baseline().steps]
    ['tfidfvectorizer', 'logisticregression']
    """
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000)
    )
