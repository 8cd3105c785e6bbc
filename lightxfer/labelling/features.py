"""The frozen shared layer inside any lightxfer model, and the pool's features from it.

Query strategies measure distances between texts on the shared layer's features, not on
a model's whole input (n-grams, source blocks): those are the features every lightxfer
model shares, and the shared layers cache them per text
(:mod:`lightxfer.shared.feature_cache`), so a second round over the same pool embeds
only its new texts.
"""

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from lightxfer.recommended import HybridVectorizer
from lightxfer.source_models.blocks import SourceBlocks


def is_fitted(model):
    """Tell whether ``model`` (a pipeline: its last step) is fitted."""
    try:
        check_is_fitted(model[-1] if isinstance(model, Pipeline) else model)
    except NotFittedError:
        return False
    return True


def shared_layer(model):
    """Return the shared layer of ``model``: fitted if the model is, else an unfitted clone.

    Parameters
    ----------
    model : Pipeline or transformer
        A lightxfer pipeline (its ``"embedding"`` step, or its first) or a shared layer.

    Returns
    -------
    transformer
    """
    layer = model.named_steps.get("embedding", model[0]) if isinstance(model, Pipeline) else model
    # The recommended model and the source blocks hold the shared layer inside (shared_).
    while isinstance(layer, (HybridVectorizer, SourceBlocks)):
        if hasattr(layer, "shared_"):
            layer = layer.shared_
        elif isinstance(layer, HybridVectorizer):
            layer = layer._shared_layer()
        else:
            from lightxfer.shared.encoder import SentenceEncoder

            layer = clone(layer.shared) if layer.shared is not None else SentenceEncoder()
    return layer


def pool_features(model, texts):
    """Return the shared layer's features of ``texts`` as a dense float array.

    An unfitted layer is fitted on ``texts`` first (it learns no labels: word vectors
    or an encoder are loaded, and, for SIF pooling, word frequencies counted).
    """
    layer = shared_layer(model)
    if not is_fitted(layer):
        layer = clone(layer)
        features = layer.fit_transform(texts)
    else:
        features = layer.transform(texts)
    features = features.toarray() if hasattr(features, "toarray") else features
    return np.asarray(features, dtype=np.float32)
