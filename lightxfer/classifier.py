"""``make_classifier``: the frozen shared layer plus a task-specific head, as a Pipeline.

``vectors`` or ``encoder`` choose the shared layer; ``head``, ``pooling`` or head
parameters choose the plain pipeline over the recommended configuration
(:func:`lightxfer.recommended.make_recommended`).
"""

from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline

from lightxfer.abstain import classifier_pipeline
from lightxfer.shared.conv import ConvLayer
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.source_models.blocks import SourceBlocks
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
    vectors=None,
    pooling=None,
    head=None,
    *,
    encoder=None,
    conv=None,
    fine_tune=None,
    sources=None,
    calibrate=False,
    n_jobs=None,
    **head_params,
):
    """Build a Pipeline: the frozen shared layer (step ``"embedding"``) then a head (``"head"``).

    One rule decides what is built:

    - **which shared layer**: ``encoder=NAME`` a :class:`lightxfer.SentenceEncoder`
      (a frozen sentence-transformers model); otherwise an
      :class:`lightxfer.EmbeddingVectorizer` on ``vectors`` (default
      ``"glove-wiki-gigaword-50"``). ``encoder`` excludes ``vectors`` and ``pooling``.
      ``conv=FILTERS`` a :class:`lightxfer.ConvLayer`: trained convolution filters over
      the word vectors (``pooling`` is then its pooling over time).
    - **which model**: the recommended one unless ``head``, ``pooling`` or head
      parameters are given. The recommended model is a
      :class:`lightxfer.recommended.HybridVectorizer` over the shared layer -- its
      features plus TF-IDF word and character n-grams whose weight and C are chosen by
      cross-validation on the training data -- and a softmax head: it keeps the frozen
      layer's lead on small data and is never far behind n-gram models on large data.
      ``head``, ``pooling`` or head parameters build the plain pipeline instead (the
      shared layer's features straight into the head), with defaults for the rest.
    - ``fine_tune`` (with ``encoder``) trains a copy of the encoder on the training
      labels before the head, and builds the plain pipeline.
    - **shipped sources**: ``sources="auto"`` or a list of names appends the frozen
      hidden layers of the source heads that ship with lightxfer
      (:func:`lightxfer.sources`, trained on the default encoder), or on the default
      GloVe vectors the shipped conv sources' features, to the shared layer's
      features, each block at the features' norm, with one weight chosen by validation
      on the training data that drops to 0 when they do not help
      (:class:`lightxfer.source_models.blocks.SourceBlocks`). With ``fine_tune`` too,
      the fine-tuned encoder gives the main block and the sources read the frozen one.
    - **the recommended model on an encoder** (``encoder=`` alone) is few-shot by
      default: ``sources="auto"`` and ``fine_tune="auto"`` (fine-tuning when there are at
      most :data:`lightxfer.shared.encoder.FINE_TUNE_UP_TO` training texts per class);
      ``sources=False`` or ``fine_tune=False`` turn either off. The fitted model's
      ``chosen_`` says what its fit chose.

    - ``calibrate`` wraps the head in a :class:`lightxfer.calibration.CalibratedHead`:
      its probabilities are recalibrated on held-out training texts, its predictions
      unchanged.

    ``n_jobs`` never changes the model. ``predict(texts, min_confidence=p)`` answers
    ``None`` ("not sure") where the top probability is below ``p``
    (:class:`lightxfer.abstain.AbstainingPipeline`).

    Parameters
    ----------
    vectors : str, path or KeyedVectors, optional
        The shared layer's word vectors (see :func:`lightxfer.load_vectors`).
    pooling : str or list of str, optional
        See :class:`lightxfer.EmbeddingVectorizer`; default ``"mean"``. Selects the
        plain pipeline.
    head : {"logreg", "mlp"} or classifier, optional
        The task-specific head; default ``"logreg"``. Selects the plain pipeline.
    encoder : str, path or SentenceEncoder, optional
        A sentence-transformers model as the shared layer, e.g. ``"all-MiniLM-L6-v2"``
        (needs ``pip install "lightxfer[encoder]"``); a ``SentenceEncoder`` sets its
        options too, e.g. ``SentenceEncoder(precision="int8")`` (used as an unfitted
        clone).
    conv : str, path, ConvFilters or ConvLayer, optional
        Convolution filters over the word vectors as the shared layer: a shipped conv
        source (``"sst2"``...), a filters file, :class:`lightxfer.ConvFilters` from
        :func:`lightxfer.train_conv_filters`, or a ``ConvLayer`` (used as an unfitted
        clone). Excludes ``encoder``.
    fine_tune : bool, "contrastive", "auto" or ContrastiveFineTuning, optional
        Fine-tune the encoder on the training labels, contrastively (SetFit's recipe;
        see :class:`lightxfer.SentenceEncoder`), then fit the head on its embeddings.
        Needs ``encoder``. ``"auto"``: only few labels. Default: ``"auto"`` in the
        recommended model on an encoder, off otherwise.
    sources : "auto", "all", list of str or False, optional
        Shipped source heads whose frozen hidden layers join the shared layer's features
        (``"all"``: every one trained on this shared layer: the source heads on the
        default encoder, the conv sources ``"conv_sst2"``... on the default GloVe
        vectors; ``"auto"``: those not for research use only). Default: ``"auto"`` in
        the recommended model on an encoder, none otherwise.
    calibrate : bool or {"temperature", "isotonic", "auto"}, default=False
        Fit a calibration map of the head's probabilities by cross-validation on the
        training data (``True``: temperature scaling). The head's parameters are then
        ``head__estimator__*``.
    n_jobs : int, optional
        Processes for the word-vector layer, torch threads for an encoder (and, in the
        recommended model, processes for its search).
    **head_params
        Passed to the head, e.g. ``C=10`` or ``hidden_layer_sizes=(128,)``. Select the
        plain pipeline.

    Returns
    -------
    lightxfer.abstain.AbstainingPipeline
        A scikit-learn ``Pipeline``: steps ``"embedding"`` and ``"head"``.

    Examples
    --------
    >>> type(make_classifier().named_steps["embedding"]).__name__
    'HybridVectorizer'
    >>> model = make_classifier(pooling=["mean", "max"], C=10)
    >>> [name for name, _ in model.steps]
    ['embedding', 'head']
    >>> type(model.named_steps["embedding"]).__name__
    'EmbeddingVectorizer'
    """
    if encoder is not None and (vectors is not None or pooling is not None):
        raise ValueError(
            "encoder is a shared layer of its own: pass either encoder= or "
            "vectors=/pooling=, not both"
        )
    if encoder is not None and conv is not None:
        raise ValueError("encoder and conv are two shared layers: pass one of them")
    recommended = head is None and pooling is None and not head_params
    recommended_encoder = recommended and encoder is not None and fine_tune in (None, "auto", False)
    if recommended_encoder:  # few-shot by default
        fine_tune = "auto" if fine_tune is None else fine_tune
        sources = "auto" if sources is None else sources
    tuning = "contrastive" if fine_tune is True else fine_tune or None
    if tuning is not None and encoder is None:
        raise ValueError(
            "fine_tune trains a sentence encoder: pass encoder= (e.g. 'all-MiniLM-L6-v2') "
            "too; word vectors stay frozen"
        )
    if conv is not None:
        shared = _conv_layer(conv, vectors, pooling)
    else:
        shared = _shared_layer(vectors, pooling, encoder, n_jobs)
    if tuning is not None:
        shared.set_params(fine_tune=tuning)
    if sources is not None and sources is not False:
        shared = SourceBlocks(shared, sources=sources, n_jobs=n_jobs)
    if recommended and tuning in (None, "auto"):
        from lightxfer.recommended import make_recommended

        return classifier_pipeline(make_recommended(shared=shared, n_jobs=n_jobs), calibrate)
    head = make_head("logreg" if head is None else head, **head_params)
    return classifier_pipeline(Pipeline([("embedding", shared), ("head", head)]), calibrate)


def _shared_layer(vectors, pooling, encoder, n_jobs):
    if isinstance(encoder, SentenceEncoder):
        layer = clone(encoder)
        return layer if n_jobs is None else layer.set_params(n_jobs=n_jobs)
    if encoder is not None:
        return SentenceEncoder(encoder, n_jobs=n_jobs)
    return EmbeddingVectorizer(
        vectors=DEFAULT_VECTORS if vectors is None else vectors,
        pooling="mean" if pooling is None else pooling,
        n_jobs=n_jobs,
    )


def _conv_layer(conv, vectors, pooling):
    layer = clone(conv) if isinstance(conv, ConvLayer) else ConvLayer(conv)
    if vectors is not None:
        layer.set_params(vectors=vectors)
    return layer if pooling is None else layer.set_params(pooling=pooling)


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
