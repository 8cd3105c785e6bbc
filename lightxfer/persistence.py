"""``save`` and ``load``: model files that cannot run code on load, written atomically.

The default format is skops (``.skops``): loading rebuilds only types on an explicit
trusted list. Pickle-based joblib files (``.joblib``, ``.pkl``) stay available for those
who ask, and loading them needs ``allow_pickle=True``. Vectors are stored by reference
(source and fingerprint), so a file is small; the fingerprints are recorded in the file and
compared on load, so a model never silently runs on other vectors than it was fitted with.

What :func:`load` does, in order
--------------------------------
1. Checks the file before skops reads it: decompressed sizes are bounded
   (:data:`MAX_EXPANSION`), and every type must be trusted.
2. Rebuilds the object tree. Nothing in it resolves a reference while being rebuilt:
   ``__setstate__`` only stores what the file holds. Fitted vocabularies, which ``save``
   writes as arrays (:mod:`lightxfer.compact_vocabulary`), become dicts again.
3. Checks what would act at predict time: a ``token_pattern`` must be one lightxfer knows
   (:data:`KNOWN_TOKEN_PATTERNS`) or one the caller names; runtime-only parameters
   (:data:`RUNTIME_PARAMS`) are reset to their defaults or to the caller's values.
4. Binds the shared layers (the protocol below), with the caller's options.

The binding protocol
--------------------
A shared layer (a scikit-learn estimator whose fitted state refers to weights outside the
file, such as :class:`~lightxfer.EmbeddingVectorizer`'s vectors) implements::

    def __lightxfer_bind__(self, options: BindOptions) -> None

:class:`BindOptions` and the functions a layer uses are in :mod:`lightxfer.shared.binding`.
``load`` calls it once on every object of the rebuilt tree that has it, after steps 1-3.
The method resolves what the file refers to, using only checked names and paths (never a
pickle unless ``options.allow_pickle``, never a download, nothing outside the folders it
names) or the caller's replacement in ``options.sources`` (keyed by the parameter it
replaces, e.g. ``"vectors"``); it compares fingerprints unless ``options.check`` is false;
and it raises a one-line error that starts with ``options.where`` (the model file) and
names the option to pass. A layer may also just validate and keep ``options`` to resolve
lazily on first use. Two more rules make the protocol hold outside ``load``:

- ``__setstate__`` never resolves (skops calls it while rebuilding an untrusted file); a
  layer rebuilt without ``load`` (``skops.io.load``) binds itself with ``BindOptions()``
  on first use.
- A pickle is trusted by whoever unpickles it (worker processes, ``copy.deepcopy``, a
  joblib file loaded with ``allow_pickle=True``): ``__reduce_ex__`` may return
  ``(lightxfer.persistence.unpickle, (cls, state))``, which binds right away with
  ``allow_pickle=True`` except inside ``load``, which binds afterwards with its options.
"""

import importlib
import inspect
import io
import json
import os
import secrets
import stat
import sys
import warnings
import zipfile
from collections import deque
from pathlib import Path

import joblib
import numpy as np
import sklearn
import sklearn.base

from lightxfer import compact_vocabulary
from lightxfer._version import __version__
from lightxfer.exceptions import UnsafeFileError
from lightxfer.shared import binding
from lightxfer.shared.binding import BindOptions
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors import registry

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

#: Parameters that only say how a model runs here and now (processes, caches, batch
#: sizes, progress bars): ``load`` never takes them from a file. It resets them to the
#: estimator's defaults (with a warning naming the stored values it dropped) unless the
#: caller passes them, e.g. ``load(path, n_jobs=2)``. ``n_jobs`` and ``memory`` are reset
#: on every estimator; ``batch_size`` only where lightxfer defines it (for scikit-learn's
#: MLP it is a training setting).
RUNTIME_PARAMS = ("batch_size", "cache", "memory", "n_jobs", "progress")

#: ``token_pattern`` values a file may hold: scikit-learn's default and lightxfer's n-gram
#: pattern. A regular expression runs on every text at predict time and a crafted one can
#: take exponential time, so any other pattern is refused unless named in
#: ``load(..., token_patterns=[...])`` (or ``trusted=True``). lightxfer's own tokenizers
#: are fixed names (``EmbeddingVectorizer(tokenizer="auto")``) whose patterns live in the
#: code; a callable tokenizer is a function, which the trusted type list refuses.
KNOWN_TOKEN_PATTERNS = (None, r"(?u)\b\w\w+\b", r"\S+")

#: A ``.skops`` file may decompress to at most this many times its own size, plus
#: ``_EXPANSION_SLACK`` bytes, counting each member as often as the schema reads it.
#: lightxfer writes members uncompressed (ratio 1); a larger ratio is a zip bomb.
MAX_EXPANSION = 20
_EXPANSION_SLACK = 1 << 20


#: scikit-learn's array-API adapters for other libraries. Importing ``skops.io`` lists
#: scikit-learn's estimators by walking its packages, and the walk imports these, which
#: import torch or dask when installed: 1.5 s of a 2 s import, for no estimator.
_ARRAY_API_ADAPTERS = tuple(
    f"sklearn.externals.array_api_compat.{name}" for name in ("cupy", "dask", "torch")
)


def _skops_io():
    # skops imports much of scikit-learn: load it on the first save or load, not with
    # `import lightxfer`.
    if "skops.io" not in sys.modules:
        # A None entry makes the walk skip a package (its import fails) without
        # changing the estimators skops trusts; the adapters import normally afterwards.
        skipped = [name for name in _ARRAY_API_ADAPTERS if name not in sys.modules]
        sys.modules.update(dict.fromkeys(skipped))
        try:
            import skops.io
        finally:
            for name in skipped:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    import skops.io

    return skops.io


#: Exact names of types a ``.skops`` file may hold beyond skops' own defaults (containers,
#: numpy arrays and dtypes, ufuncs and scikit-learn's public estimators): the internal
#: helpers of the heads lightxfer offers and of common scikit-learn wrappers. Classes
#: defined in the ``lightxfer`` package are trusted too; functions never are, and nothing
#: is trusted by module prefix, because a prefix such as ``numpy.`` also covers
#: functions like ``numpy.testing`` helpers that execute strings. Types skops leaves out
#: on purpose are not here either: trees (``sklearn.tree._tree.Tree``, HistGradientBoosting's
#: ``TreePredictor``) and neighbour indexes (``KDTree``, ``BallTree``, their
#: ``EuclideanDistance64``) hold raw indices that scikit-learn follows without bounds
#: checks, so a crafted file crashes ``predict``. Load such a head you trust with
#: ``load(path, trusted=untrusted_types(path))`` after reviewing the list.
TRUSTED_TYPES = (
    "builtins.slice",
    "builtins.type",
    "collections.OrderedDict",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)


# Pickles written before the protocol moved to lightxfer.shared.binding name this one.
unpickle = binding.unpickle


def save(model, path):
    """Write ``model`` to ``path`` atomically, with versions and vectors' fingerprints.

    The file is written under a temporary name in the same directory and renamed over
    ``path``, so an interrupted save leaves the previous file intact. A new file gets the
    mode of any new file (0666 less the umask); an overwritten one keeps its mode.

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
    path = Path(path)
    payload = {
        "model": model,
        "versions": _versions(),
        "vectors": [_vectors_record(vectorizer) for vectorizer in _fitted_vectorizers(model)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path)
    try:
        if path.suffix in PICKLE_SUFFIXES:
            joblib.dump(payload, tmp)
        else:
            # Vocabularies as compact arrays: skops writes a dict as a JSON node per entry.
            _skops_io().dump(dict(payload, model=compact_vocabulary.compact(model)), tmp)
        if path.exists():  # overwriting keeps the file's mode
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        _fsync(tmp)  # the data must be on disk before the rename makes it the file
        os.replace(tmp, path)  # atomic: a crash leaves the previous file intact
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _create_temporary(path):
    """Create an empty hidden file next to ``path``, with the mode of any new file.

    Unlike ``tempfile.mkstemp`` (always 0600), the mode is 0666 less the umask (and any
    default ACL of the folder): a saved model is as readable as the user's other files.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


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
    path = Path(path)
    _check_sizes(path)
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


def load(
    path,
    *,
    trusted=(),
    allow_pickle=False,
    check_vectors=True,
    vectors=None,
    encoder=None,
    token_patterns=(),
    **runtime_params,
):
    """Load a model written by :func:`save`.

    Nothing the file holds runs code, is downloaded, or reaches a path the caller did not
    allow: see the module docstring for the steps.

    Parameters
    ----------
    path : str or path
    trusted : sequence of str or True, default=()
        Extra type names to allow in a ``.skops`` file (e.g. ``"sklearn.tree._tree.Tree"``
        for a decision-tree head you trust); ``True`` allows any type and any
        ``token_pattern``.
    allow_pickle : bool, default=False
        Allow ``.joblib``/``.pkl`` model files and vectors in gensim's pickle format
        (``KeyedVectors.save``), which can run arbitrary code when loaded: only for files
        from a source you trust.
    check_vectors : bool, default=True
        Refuse vectors, or a sentence encoder model, whose fingerprint differs from the
        one recorded in the file.
    vectors : str, path or KeyedVectors, optional
        Vectors to use instead of the ones the file refers to, e.g. the same file moved
        to another folder or machine. Checked against the recorded fingerprint unless
        ``check_vectors=False``.
    encoder : str or path, optional
        The sentence-transformers model (name or folder) to use instead of the one the
        file names, e.g. the same model copied elsewhere. Checked like any model folder
        (see :class:`~lightxfer.SentenceEncoder`) and against the recorded fingerprint
        unless ``check_vectors=False``. A reference read from the file is followed only
        to the packaged model, a hub model already in the local cache (never a
        download) or a folder that passes the checks.
    token_patterns : sequence of str, default=()
        ``token_pattern`` values to accept beyond :data:`KNOWN_TOKEN_PATTERNS`.
    **runtime_params
        Values for the :data:`RUNTIME_PARAMS` of every estimator that has them, e.g.
        ``n_jobs=2``; the file's own values are never used.

    Returns
    -------
    estimator

    Raises
    ------
    UnsafeFileError
        If the file holds an untrusted type or pattern, a pickle without
        ``allow_pickle=True``, or more data than its size allows.
    VectorsMismatchError
        If the vectors found differ from the ones the model was fitted with.
    """
    unknown = sorted(set(runtime_params) - set(RUNTIME_PARAMS))
    if unknown:
        raise TypeError(
            f"load() got unexpected keyword arguments {unknown}; runtime parameters it "
            f"accepts: {', '.join(RUNTIME_PARAMS)}"
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    with binding.deferred():
        payload = _read_payload(path, trusted, allow_pickle)
    if not (
        isinstance(payload, dict)
        and "model" in payload
        and isinstance(payload.get("versions"), dict)
    ):
        raise ValueError(f"{path} was not written by lightxfer.save")
    _warn_versions(path, payload.get("versions"))
    model = payload["model"]
    objects = list(_walk(model))
    try:
        compact_vocabulary.expand(objects)
    except ValueError as exc:
        raise ValueError(f"{path}: damaged or crafted file, {exc}") from None
    if trusted is not True:
        _check_token_patterns(path, objects, token_patterns)
    _reset_runtime_params(path, objects, runtime_params)
    options = BindOptions(
        path=path,
        allow_pickle=allow_pickle,
        check=check_vectors,
        sources={
            name: value
            for name, value in (("vectors", vectors), ("encoder", encoder))
            if value is not None
        },
    )
    for item in objects:
        if callable(getattr(type(item), "__lightxfer_bind__", None)):
            item.__lightxfer_bind__(options)
    return model


def _read_payload(path, trusted, allow_pickle):
    if path.suffix in PICKLE_SUFFIXES or _opens_as_pickle(path):
        if not allow_pickle:
            raise UnsafeFileError(
                f"{path} is a pickle file, which can run arbitrary code when loaded; pass "
                "allow_pickle=True only if you trust its source"
            )
        return joblib.load(path)
    _check_sizes(path)
    try:
        found = _skops_io().get_untrusted_types(file=path)
    except Exception as exc:  # zipfile/JSON errors: a damaged or foreign file
        raise _unreadable(path, exc) from None
    if trusted is not True:
        refused = [name for name in found if not (is_trusted(name) or name in trusted)]
        if refused:
            raise UnsafeFileError(
                f"{path} contains types outside lightxfer's trusted list: "
                f"{', '.join(refused)}; pass trusted=[...] naming them if you trust the file"
            )
    try:
        return _skops_io().load(path, trusted=found)
    except Exception as exc:  # nothing is resolved while rebuilding: the file is at fault
        raise _unreadable(path, exc) from None


def _unreadable(path, exc):
    return ValueError(f"{path}: not a readable .skops model file ({type(exc).__name__})")


def _opens_as_pickle(path):
    with open(path, "rb") as handle:
        return handle.read(1) == b"\x80"


def _check_sizes(path):
    """Refuse a zip whose members, as the schema reads them, expand beyond the limit."""
    limit = MAX_EXPANSION * path.stat().st_size + _EXPANSION_SLACK
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            total = sum(sizes.values())
            if total <= limit:
                schema = json.loads(archive.read("schema.json"))
                total = sizes["schema.json"] + sum(sizes.get(name, 0) for name in _files(schema))
                if total <= limit:
                    _check_arrays(path, archive, sizes)
    except UnsafeFileError:
        raise
    except Exception as exc:  # zip, JSON, npy header: a damaged or foreign file
        raise _unreadable(path, exc) from None
    if total > limit:
        raise UnsafeFileError(
            f"{path}: decompresses to {total} bytes, more than {MAX_EXPANSION} times its "
            f"size (lightxfer.persistence.MAX_EXPANSION); refusing a possible zip bomb"
        )


def _files(schema):
    """Yield every member name the schema reads, once per reading node."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                yield node["file"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _check_arrays(path, archive, sizes):
    # numpy allocates the shape an .npy header announces before reading the data: the
    # header may not announce more than the member holds.
    for name, size in sizes.items():
        if not name.endswith(".npy"):
            continue
        with archive.open(name) as member:
            head = io.BytesIO(member.read(1 << 16))
        major, _ = np.lib.format.read_magic(head)
        read_header = np.lib.format.read_array_header_1_0
        if major > 1:
            read_header = np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(head)
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > size:
            raise UnsafeFileError(
                f"{path}: array {name} announces more data than it holds; damaged or crafted"
            )


_NESTING = (dict, list, tuple, sklearn.base.BaseEstimator)


def _walk(model):
    """Yield every estimator and container inside ``model``, breadth first.

    Scalars and arrays are skipped, so a fitted vocabulary of a million words costs one
    pass over a dict, not a million visits.
    """
    seen, queue = set(), deque([model])
    while queue:
        item = queue.popleft()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        elif isinstance(item, sklearn.base.BaseEstimator):
            children = vars(item).values()
        else:
            continue
        queue.extend(child for child in children if isinstance(child, _NESTING))


def _check_token_patterns(path, objects, allowed):
    for item in objects:
        pattern = getattr(item, "token_pattern", None) if _is_estimator(item) else None
        if pattern not in KNOWN_TOKEN_PATTERNS and pattern not in allowed:
            raise UnsafeFileError(
                f"{path}: {type(item).__name__}.token_pattern {pattern!r} is not one "
                "lightxfer knows; a regular expression from a file can take exponential "
                "time on a short text: pass token_patterns=[...] naming it if you trust it"
            )


def _is_estimator(item):
    return isinstance(item, sklearn.base.BaseEstimator)


def _reset_runtime_params(path, objects, given):
    dropped = []
    for item in objects:
        if not _is_estimator(item):
            continue
        params = type(item)._get_param_names()
        defaults = inspect.signature(type(item)).parameters
        for name in RUNTIME_PARAMS:
            if name not in params or not _runtime_only(type(item), name):
                continue
            stored = getattr(item, name, None)
            value = given.get(name, defaults[name].default if name in defaults else None)
            if name not in given and not _same(stored, value):
                dropped.append(f"{type(item).__name__}.{name}={repr(stored)[:60]}")
            setattr(item, name, value)
    if dropped:
        warnings.warn(
            f"{path}: runtime settings are not taken from a model file; reset "
            f"{', '.join(dropped)} to the defaults (pass e.g. lightxfer.load(path, n_jobs=2) "
            "to choose them)",
            stacklevel=3,
        )


def _runtime_only(cls, name):
    if name in ("n_jobs", "memory"):
        return True
    # Elsewhere the class that introduces the parameter decides: scikit-learn's
    # MLPClassifier(batch_size=...) is a training setting, lightxfer's a working one.
    for base in reversed(cls.__mro__):
        if issubclass(base, sklearn.base.BaseEstimator) and name in base._get_param_names():
            return base.__module__.startswith("lightxfer.")
    return False


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:  # e.g. a comparison that numpy refuses to reduce to one bool
        return False


def _vectors_record(vectorizer):
    source = registry.reference(vectorizer.vectors_).source
    return {
        "source": source if source is not None else "in-memory vectors",
        "fingerprint": vectorizer.fingerprint_,
        "stored": bool(vectorizer.store_vectors),
    }


def _fitted_vectorizers(model):
    """Yield every fitted EmbeddingVectorizer inside ``model``, in a stable order.

    An unfitted one (a HybridVectorizer's ``shared`` parameter) has no vectors to record.
    """
    return (
        item
        for item in _walk(model)
        if isinstance(item, EmbeddingVectorizer) and hasattr(item, "fingerprint_")
    )


def _versions():
    """The versions a model file records and :func:`load` compares."""
    return {"lightxfer": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def _warn_versions(path, saved):
    changed = [
        f"{name} {str(saved.get(name))[:40]} -> {version}"
        for name, version in _versions().items()
        if saved.get(name) != version
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
