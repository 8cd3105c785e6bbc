"""``save`` and ``load``: model files that cannot run code on load, written atomically.

The default format is skops (``.skops``): loading rebuilds only types on an explicit
trusted list. Pickle-based joblib files (``.joblib``, ``.pkl``) stay available for those
who ask, and loading them needs ``allow_pickle=True``. Vectors are stored by reference
(source and fingerprint), so a file is small; the fingerprints are recorded in the file and
compared on load, so a model never silently runs on other vectors than it was fitted with.
"""

import importlib
import inspect
import os
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
import sklearn
import sklearn.base

from lightxfer.exceptions import (
    VectorsFileError,
    VectorsMismatchError,
    VectorsUnavailableError,
)
from lightxfer.vectors import loading, registry

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _skops_io():
    # skops imports much of scikit-learn: load it on the first save or load, not with
    # `import lightxfer`.
    import skops.io

    return skops.io


#: Exact names of types a ``.skops`` file may hold beyond skops' own defaults (containers,
#: numpy arrays and dtypes, ufuncs and scikit-learn's public estimators): the internal
#: helpers of the heads lightxfer offers and of common scikit-learn wrappers. Classes
#: defined in the ``lightxfer`` package are trusted too; functions never are, and nothing
#: is trusted by module prefix, because a prefix such as ``numpy.`` also covers
#: functions like ``numpy.testing`` helpers that execute strings.
TRUSTED_TYPES = (
    "builtins.slice",
    "builtins.type",
    "collections.OrderedDict",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
)


def save(model, path):
    """Write ``model`` to ``path`` atomically, with versions and vectors' fingerprints.

    The file is written under a temporary name in the same directory and renamed over
    ``path``, so an interrupted save leaves the previous file intact.

    Parameters
    ----------
    model : estimator
        Typically a fitted lightxfer pipeline.
    path : str or path
        ``.skops`` (safe, default for other suffixes too) or ``.joblib``/``.pkl``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from lightxfer import __version__

    path = Path(path)
    payload = {
        "model": model,
        "versions": {
            "lightxfer": __version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "vectors": [_vectors_record(vectorizer) for vectorizer in _fitted(_vectorizers(model))],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        if path.suffix in PICKLE_SUFFIXES:
            joblib.dump(payload, tmp)
        else:
            _skops_io().dump(payload, tmp)
        _fsync(tmp)  # the data must be on disk before the rename makes it the file
        os.replace(tmp, path)  # atomic: a crash leaves the previous file intact
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def untrusted_types(path):
    """Return the types in a ``.skops`` file that lightxfer does not trust by default.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    list of str
        Names to review before passing them to ``load(path, trusted=[...])``.
    """
    return [name for name in _skops_io().get_untrusted_types(file=path) if not is_trusted(name)]


def is_trusted(name):
    """Tell whether lightxfer trusts the type ``name`` (``"module.Qualname"``) by default.

    Parameters
    ----------
    name : str

    Returns
    -------
    bool
    """
    return name in TRUSTED_TYPES or _is_lightxfer_class(name)


def _is_lightxfer_class(name):
    # Importing lightxfer's own modules is safe; the name must resolve to a class that
    # lightxfer defines (not a function, not something it merely imports).
    module_name, _, attribute = name.rpartition(".")
    if not (module_name == "lightxfer" or module_name.startswith("lightxfer.")):
        return False
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found) and found.__module__ == module_name


def load(path, *, trusted=(), allow_pickle=False, check_vectors=True, vectors=None):
    """Load a model written by :func:`save`.

    Parameters
    ----------
    path : str or path
    trusted : sequence of str or True, default=()
        Extra type names to allow in a ``.skops`` file; ``True`` allows any type.
    allow_pickle : bool, default=False
        Allow ``.joblib``/``.pkl`` files, which can run arbitrary code when loaded: only
        for files from a source you trust.
    check_vectors : bool, default=True
        Refuse vectors whose fingerprint differs from the one recorded in the file.
    vectors : str, path or KeyedVectors, optional
        Vectors to use instead of the ones the file refers to, e.g. the same file moved
        to another folder or machine. Checked against the recorded fingerprint unless
        ``check_vectors=False``.

    Returns
    -------
    estimator

    Raises
    ------
    VectorsMismatchError
        If the vectors found differ from the ones the model was fitted with.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    override = None if vectors is None else loading.load_vectors(vectors)
    try:
        # Fingerprints are compared below, against the file's record, with its name.
        with registry.resolving(override, check=False):
            payload = _read_payload(path, trusted, allow_pickle)
    except (VectorsFileError, VectorsUnavailableError) as exc:
        raise type(exc)(
            f"{path}: cannot find the model's vectors ({exc}); pass vectors=... to "
            "lightxfer.load to point it at them"
        ) from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise ValueError(f"{path} was not written by lightxfer.save")
    _warn_versions(path, payload.get("versions", {}))
    model = payload["model"]
    found = list(_vectorizers(model))
    if check_vectors:
        _check_vectors(path, payload.get("vectors"), _fitted(found))
    if vectors is not None:
        for vectorizer in found:
            if not vectorizer.store_vectors:
                vectorizer.vectors = vectors  # refits use the vectors the caller named
    return model


def _read_payload(path, trusted, allow_pickle):
    if path.suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise ValueError(
                f"{path} is a pickle file, which can run arbitrary code when loaded; pass "
                "allow_pickle=True only if you trust its source"
            )
        return joblib.load(path)
    try:
        found = _skops_io().get_untrusted_types(file=path)
    except Exception as exc:  # zipfile/JSON errors: a damaged or foreign file
        raise ValueError(
            f"{path}: not a readable .skops model file ({type(exc).__name__}: {exc})"
        ) from None
    if trusted is not True:
        refused = [name for name in found if not (is_trusted(name) or name in trusted)]
        if refused:
            raise ValueError(
                f"{path} contains types outside lightxfer's trusted list: "
                f"{', '.join(refused)}; pass trusted=[...] naming them if you trust the file"
            )
    return _skops_io().load(path, trusted=found)


def _check_vectors(path, records, found):
    if records is None:  # written before fingerprints were recorded
        records = [_vectors_record(vectorizer) for vectorizer in found]
    for vectorizer, record in zip(found, records):
        if record["stored"] or record["fingerprint"] is None:
            continue  # a stored pruned copy travels with the model
        actual = registry.fingerprint(vectorizer.vectors_)
        if actual != record["fingerprint"]:
            raise VectorsMismatchError(
                f"{path}: the vectors found ({_describe(vectorizer.vectors_)}, fingerprint "
                f"{actual}) are not the ones the model was fitted with ({record['source']}, "
                f"fingerprint {record['fingerprint']}); pass vectors=<the original vectors> "
                "or check_vectors=False to use these anyway"
            )


def _describe(kv):
    ref = registry.reference(kv)
    return ref.source or "in-memory vectors"


def _vectors_record(vectorizer):
    fitted = getattr(vectorizer, "fingerprint_", None)
    kv = getattr(vectorizer, "vectors_", None)
    source = registry.reference(kv).source if kv is not None else None
    return {
        "source": source if source is not None else "in-memory vectors",
        "fingerprint": fitted,
        "stored": bool(vectorizer.store_vectors),
    }


def _fitted(vectorizers):
    # A HybridVectorizer also holds its unfitted ``shared`` parameter: no vectors to record.
    return [vectorizer for vectorizer in vectorizers if hasattr(vectorizer, "fingerprint_")]


def _vectorizers(model):
    """Yield every EmbeddingVectorizer inside ``model``, in a stable order."""
    from lightxfer.shared.vectorizer import EmbeddingVectorizer

    seen, stack = set(), [model]
    while stack:
        item = stack.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EmbeddingVectorizer):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, sklearn.base.BaseEstimator):
            stack.extend(vars(item).values())


def _warn_versions(path, saved):
    from lightxfer import __version__

    current = {"lightxfer": __version__, "scikit-learn": sklearn.__version__}
    current["numpy"] = np.__version__
    changed = [
        f"{name} {saved[name]} -> {version}"
        for name, version in current.items()
        if name in saved and saved[name] != version
    ]
    if changed:
        warnings.warn(
            f"{path} was saved with other library versions ({', '.join(changed)}); "
            "check its predictions, or refit and save it again",
            stacklevel=3,
        )


def _fsync(name):
    with open(name, "rb") as handle:
        os.fsync(handle.fileno())
