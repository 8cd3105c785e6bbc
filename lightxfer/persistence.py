"""``save`` and ``load``: model files that cannot run code on load, written atomically.

The default format is skops (``.skops``): loading rebuilds only types on an explicit
trusted list. Pickle-based joblib files (``.joblib``, ``.pkl``) stay available for those
who ask, and loading them needs ``allow_pickle=True``. Vectors are stored by reference
(source and fingerprint), so a file is small and loads against the same vectors.
"""

import os
import tempfile
from pathlib import Path

import joblib
import numpy as np
import sklearn
import skops.io as sio

from lightxfer.shared.vectorizer import CHECK_VECTORS

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

#: Types a ``.skops`` file may contain besides skops' own defaults (containers, numpy).
TRUSTED_PREFIXES = ("lightxfer.", "sklearn.", "numpy.", "scipy.sparse.")
TRUSTED_TYPES = ("builtins.slice", "builtins.type", "collections.OrderedDict")


def save(model, path):
    """Write ``model`` to ``path`` atomically, with the versions it was made with.

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
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        if path.suffix in PICKLE_SUFFIXES:
            joblib.dump(payload, tmp)
        else:
            sio.dump(payload, tmp)
        os.replace(tmp, path)  # atomic: a crash leaves the previous file intact
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def untrusted_types(path):
    """Return the types in a ``.skops`` file that lightxfer does not trust by default."""
    found = sio.get_untrusted_types(file=path)
    return [name for name in found if not _is_trusted(name)]


def _is_trusted(name):
    return name.startswith(TRUSTED_PREFIXES) or name in TRUSTED_TYPES


def load(path, *, trusted=(), allow_pickle=False, check_vectors=True):
    """Load a model written by :func:`save`.

    Parameters
    ----------
    path : str or path
    trusted : sequence of str or True, default=()
        Extra type names to allow in a ``.skops`` file; ``True`` allows any type.
    allow_pickle : bool, default=False
        Allow ``.joblib``/``.pkl`` files, which can run arbitrary code: only for files
        from a source you trust.
    check_vectors : bool, default=True
        Refuse vectors whose fingerprint differs from the ones the model was fitted with.

    Returns
    -------
    estimator
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    token = CHECK_VECTORS.set(check_vectors)
    try:
        if path.suffix in PICKLE_SUFFIXES:
            if not allow_pickle:
                raise ValueError(
                    f"{path} is a pickle file, which can run arbitrary code when loaded; pass "
                    "allow_pickle=True only if you trust its source"
                )
            payload = joblib.load(path)
        else:
            found = sio.get_untrusted_types(file=path)
            if trusted is not True:
                refused = [name for name in found if not (_is_trusted(name) or name in trusted)]
                if refused:
                    raise ValueError(
                        f"{path} contains types outside lightxfer's trusted list: "
                        f"{', '.join(refused)}; pass trusted=[...] naming them if you trust the file"
                    )
            payload = sio.load(path, trusted=found)
    finally:
        CHECK_VECTORS.reset(token)
    if not isinstance(payload, dict) or "model" not in payload:
        raise ValueError(f"{path} was not written by lightxfer.save")
    return payload["model"]
