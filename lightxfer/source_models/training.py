"""Training and writing the shipped source heads (run by ``benchmarks/train_sources.py``).

A source is trained exactly as a user trains one, ``make_classifier(encoder=...,
head="mlp").fit(X, y)``; its layers are taken from the fitted MLP as transfer takes them
(:meth:`lightxfer.FrozenHiddenLayers.from_mlp`) and written as float16 arrays with their
metadata as JSON, so the file holds no pickle and is read with ``allow_pickle=False``.
"""

import json
import os

import numpy as np
import sklearn

from lightxfer.classifier import make_classifier
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.shared.sentence_models import DEFAULT_MODEL

#: The head's parameters the recipe records (and :func:`lightxfer.source_models.shipped.load_source`
#: rebuilds the MLP with).
RECIPE_PARAMS = ("hidden_layer_sizes", "activation", "alpha", "early_stopping", "max_iter")
DTYPE = np.float16


def train_source(X, y, *, encoder=DEFAULT_MODEL):
    """Fit ``make_classifier(encoder=encoder, head="mlp")`` on a source task.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; steps ``"embedding"`` and ``"head"``.
    """
    return make_classifier(encoder=encoder, head="mlp").fit(X, y)


def recipe(model):
    """How a fitted source was trained: the call, the head's parameters, the library."""
    mlp = model.named_steps["head"]
    params = mlp.get_params()
    return {
        "call": f"make_classifier(encoder={model.named_steps['embedding'].model!r}, head='mlp')",
        "head_params": {
            key: list(params[key]) if key == "hidden_layer_sizes" else params[key]
            for key in RECIPE_PARAMS
        },
        "random_state": params["random_state"],
        "n_iter": int(mlp.n_iter_),
        "scikit_learn": sklearn.__version__,
        "dtype": np.dtype(DTYPE).name,
    }


def source_arrays(model):
    """The arrays of a source file: frozen hidden layer, output layer, classes."""
    mlp = model.named_steps["head"]
    hidden = FrozenHiddenLayers.from_mlp(mlp)
    if len(hidden.coefs) != 1:
        raise ValueError("a shipped source has one hidden layer")
    return {
        "hidden_coef": hidden.coefs[0].astype(DTYPE),
        "hidden_intercept": hidden.intercepts[0].astype(DTYPE),
        "output_coef": mlp.coefs_[-1].astype(DTYPE),
        "output_intercept": mlp.intercepts_[-1].astype(DTYPE),
        "classes": np.asarray(mlp.classes_).astype(str),
    }


def write_source(model, path, **metadata):
    """Write a fitted source's arrays and metadata (``recipe`` and the encoder added) to ``path``.

    Parameters
    ----------
    model : fitted Pipeline
        From :func:`train_source`.
    path : path
        The ``.npz`` file; written atomically.
    **metadata
        JSON-serialisable facts: ``task``, ``rows``, ``licence``, ``data``,
        ``source_test_accuracy``...
    """
    encoder = model.named_steps["embedding"]
    metadata = {
        "encoder": encoder.model,
        "encoder_fingerprint": encoder.fingerprint_,
        "recipe": recipe(model),
        **metadata,
    }
    partial = path.with_name(f".{path.name}.{os.getpid()}.npz")
    np.savez_compressed(partial, metadata=np.array(json.dumps(metadata)), **source_arrays(model))
    os.replace(partial, path)
    return path
