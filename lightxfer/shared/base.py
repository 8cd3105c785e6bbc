"""``SharedLayer``: what every frozen shared layer has in common.

A shared layer turns raw texts into features with frozen weights (word vectors, a
sentence encoder) that it names by reference, so ``clone`` and pickling copy a name,
not the weights. It learns nothing in ``fit`` but what the weights need to be applied,
caches its features per text (:mod:`lightxfer.shared.feature_cache`), and takes its
progress bar from :mod:`lightxfer.progress`.

A new shared layer subclasses :class:`SharedLayer`, sets :attr:`weights_parameter`, sets
``fingerprint_`` (the identity of the loaded weights) in ``fit`` and implements
:meth:`_feature_blocks`.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from lightxfer.progress import progress_bar


class TextInputMixin:
    """Declare raw texts as input: a 1-D sequence of ``str``, as scikit-learn's vectorizers."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


class SharedLayer(TextInputMixin, TransformerMixin, BaseEstimator):
    """Base of the frozen shared layers: texts in, features of frozen weights out.

    Subclasses set ``weights_parameter``, ``fingerprint_`` in ``fit``, and implement
    ``_feature_blocks``.
    """

    #: The parameter naming the frozen weights: ``clone`` passes it on as it is.
    weights_parameter = None

    def _reset(self):
        # A fit starts from nothing: state of an earlier fit with other parameters
        # (e.g. idf_ after set_params(pooling="mean")) must not survive it.
        for name in [name for name in vars(self) if name.endswith("_") and name[0] != "_"]:
            delattr(self, name)

    def _check_fitted(self):
        check_is_fitted(self, "fingerprint_")

    def _progress_bar(self, total, large, desc):
        """A bar over ``total`` texts, shown as the ``progress`` parameter says."""
        return progress_bar(self.progress, large=large, total=total, desc=desc, unit=" texts")

    def _feature_blocks(self):
        """Return ``[(prefix, width), ...]``: the blocks of features, in order."""
        raise NotImplementedError

    def get_feature_names_out(self, input_features=None):
        """Return ``<block>_<i>`` names, one per feature, block after block.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str objects
        """
        self._check_fitted()
        names = [f"{prefix}_{i}" for prefix, width in self._feature_blocks() for i in range(width)]
        return np.array(names, dtype=object)

    def __sklearn_clone__(self):
        # Clone every parameter but the weights: GridSearchCV clones per candidate and
        # fold, and a deep copy of a vector matrix would cost seconds and gigabytes.
        params = self.get_params(deep=False)
        new = type(self)(
            **{
                name: value if name == self.weights_parameter else clone(value, safe=False)
                for name, value in params.items()
            }
        )
        for name in ("_metadata_request", "_sklearn_output_config"):
            if hasattr(self, name):
                setattr(new, name, copy.deepcopy(getattr(self, name)))
        return new
