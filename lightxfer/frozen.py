"""Frozen layers: fitted parts of a source model reused, never refit, on a target task."""

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0, out=z),
}


def freeze(estimator):
    """Wrap a fitted estimator so that fitting a pipeline around it leaves it untouched.

    ``fit`` is a no-op, ``clone`` returns the same object (so cross-validation and grid
    search share it instead of unfitting it) and every other method delegates.

    Parameters
    ----------
    estimator : fitted estimator
        Typically the fitted embedding prefix of a source pipeline.

    Returns
    -------
    sklearn.frozen.FrozenEstimator
    """
    check_is_fitted(estimator)
    return FrozenEstimator(estimator)


class FrozenHiddenLayers(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Apply fixed hidden layers (weights, biases, activation) as a feature extractor.

    The weights are parameters, not learned state: ``fit`` only checks that the input
    width matches them, so fitting on target data can never change them. Build one from
    a fitted ``MLPClassifier`` with :meth:`from_mlp`.

    Parameters
    ----------
    coefs : sequence of ndarray of shape (n_in, n_out), optional
        Weight matrix of each layer, in order. ``None`` means no layer: the input passes
        through unchanged.
    intercepts : sequence of ndarray of shape (n_out,), optional
        Bias of each layer; required when ``coefs`` is given.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Applied after every layer, as ``MLPClassifier`` does for its hidden layers.

    Attributes
    ----------
    n_features_in_ : int
        Width of the input.
    n_layers_ : int
        Number of layers applied.

    Examples
    --------
    >>> import numpy as np
    >>> layers = FrozenHiddenLayers([np.eye(2)], [np.array([0.0, -1.0])], activation="relu")
    >>> layers.fit_transform(np.array([[1.0, 3.0], [-2.0, 0.5]]))
    array([[1., 2.],
           [0., 0.]])
    """

    _parameter_constraints: dict = {
        "coefs": ["array-like", None],
        "intercepts": ["array-like", None],
        "activation": [StrOptions(set(ACTIVATIONS))],
    }

    def __init__(self, coefs=None, intercepts=None, activation="relu"):
        self.coefs = coefs
        self.intercepts = intercepts
        self.activation = activation

    @classmethod
    def from_mlp(cls, mlp, n_layers=None):
        """Return the hidden layers of a fitted ``MLPClassifier`` or ``MLPRegressor``.

        Parameters
        ----------
        mlp : fitted MLPClassifier or MLPRegressor
        n_layers : int, optional
            Keep only the first ``n_layers`` hidden layers (default: all of them).

        Returns
        -------
        FrozenHiddenLayers
            Holding copies of the weights, so refitting ``mlp`` later changes nothing here.
        """
        check_is_fitted(mlp, "coefs_")
        hidden = len(mlp.coefs_) - 1
        n_layers = hidden if n_layers is None else n_layers
        if not 1 <= n_layers <= hidden:
            raise ValueError(f"n_layers must be between 1 and {hidden}, got {n_layers!r}")
        return cls(
            coefs=[np.array(c) for c in mlp.coefs_[:n_layers]],
            intercepts=[np.array(b) for b in mlp.intercepts_[:n_layers]],
            activation=mlp.activation,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # a source vectorizer may append sparse n-grams
        return tags

    def _check_params(self):
        coefs = _as_layers(self.coefs, "coefs")
        intercepts = _as_layers(self.intercepts, "intercepts")
        if len(coefs) != len(intercepts):
            raise ValueError(f"got {len(coefs)} coefs but {len(intercepts)} intercepts")
        for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
            if np.ndim(coef) != 2 or np.shape(intercept) != (np.shape(coef)[1],):
                raise ValueError(
                    f"layer {i}: coef of shape {np.shape(coef)} does not match intercept of "
                    f"shape {np.shape(intercept)}"
                )
            if i and np.shape(coef)[0] != np.shape(coefs[i - 1])[1]:
                raise ValueError(
                    f"layer {i} takes {np.shape(coef)[0]} inputs, not the previous "
                    f"layer's {np.shape(coefs[i - 1])[1]} outputs"
                )
        return coefs, intercepts

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input width; the weights are not touched.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        coefs, _ = self._check_params()
        X = validate_data(self, X, accept_sparse=["csr", "csc"])
        if coefs and coefs[0].shape[0] != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but the frozen layers expect {coefs[0].shape[0]}"
            )
        self.n_layers_ = len(coefs)
        self._n_features_out = coefs[-1].shape[1] if coefs else X.shape[1]
        return self

    def transform(self, X):
        """Return the last hidden layer's activations for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_units)
        """
        check_is_fitted(self, "n_layers_")
        coefs, intercepts = self._check_params()
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if not coefs:
            return X.copy()
        activate = ACTIVATIONS[self.activation]
        out = X
        for coef, intercept in zip(coefs, intercepts):
            out = out @ coef
            out = np.asarray(out.todense() if sparse.issparse(out) else out, dtype=np.float64)
            out = activate(out + intercept)
        return out


def _as_layers(values, name):
    # Weights may come as nested lists (e.g. read from JSON): arrays from here on.
    layers = [] if values is None else [np.asarray(value) for value in values]
    for layer in layers:
        if layer.dtype.kind not in "fiu":
            raise ValueError(f"{name} must hold numeric arrays, got one of dtype {layer.dtype}")
    return layers
