"""``save`` and ``load``: model files that cannot run code on load, written atomically.

The default format is skops (``.skops``): loading rebuilds only types on an explicit
trusted list. Pickle-based joblib files (``.joblib``, ``.pkl``) stay available for those
who ask, and loading them needs ``allow_pickle=True``. Vectors are stored by reference
(source and fingerprint), so a file is small; the fingerprints are recorded in the file and
compared on load, so a model never silently runs on other vectors than it was fitted with.
A vectors path is recorded relative to the model file's folder (:func:`save`).

What :func:`load` does, in order
--------------------------------
1. Checks the file before skops reads it: decompressed sizes are bounded
   (:data:`MAX_EXPANSION`), every array holds numbers, booleans or strings
   (:data:`ARRAY_KINDS`) and announces no more than it holds, and every type must be
   trusted.
2. Rebuilds the object tree. Nothing in it resolves a reference while being rebuilt:
   ``__setstate__`` only stores what the file holds. Fitted vocabularies, which ``save``
   writes as arrays (:mod:`lightxfer.compact_vocabulary`), become dicts again.
3. Finds every object of the tree, wherever it sits: in containers, object arrays and the
   attributes of every object (estimators or not, e.g. ``_CalibratedClassifier.estimator``
   or an attribute added to a lightxfer object), and refuses a file that rebuilds an
   estimator or shared layer this search does not reach.
4. Checks, on every estimator found, what would act at predict time: a ``token_pattern``
   must be one lightxfer knows (:data:`KNOWN_TOKEN_PATTERNS`) or one the caller names;
   n-gram lengths are bounded (:data:`MAX_NGRAM`), an ``analyzer`` must be one of
   :data:`KNOWN_ANALYZERS`, and a vectorizer reads the texts it is given, never files they
   name; runtime-only parameters
   (:data:`RUNTIME_PARAMS`) are reset to their defaults or to the caller's values; and
   every lightxfer estimator's parameters must pass its own validation
   (``_parameter_constraints``), as ``fit`` would check them.
5. Binds every shared layer found (the protocol below), with the caller's options.

The binding protocol
--------------------
A shared layer (a scikit-learn estimator whose fitted state refers to weights outside the
file, such as :class:`~lightxfer.EmbeddingVectorizer`'s vectors) implements::

    def __lightxfer_bind__(self, options: BindOptions) -> None

:class:`BindOptions` and the functions a layer uses are in :mod:`lightxfer.shared.binding`.
``load`` calls it once on every object of the rebuilt tree that has it, after steps 1-4.
The method resolves what the file refers to, using only checked names and paths (never a
pickle unless ``options.allow_pickle``, never a download, nothing outside the folders it
names) or the caller's replacement in ``options.sources`` (keyed by the parameter it
replaces, e.g. ``"vectors"``); it compares fingerprints unless ``options.check`` is false;
and it raises a one-line error that starts with ``options.where`` (the model file) and
names the option to pass. A layer may also just validate and keep ``options`` to resolve
lazily on first use. It binds under ``binding.LOCK`` and publishes its result last, so
that no thread sees it half bound. Two more rules make the protocol hold outside ``load``:

- ``__setstate__`` never resolves (skops calls it while rebuilding an untrusted file); a
  layer rebuilt without ``load`` (``skops.io.load``) binds itself with ``BindOptions()``
  on first use.
- A pickle is trusted by whoever unpickles it (worker processes, ``copy.deepcopy``, a
  joblib file loaded with ``allow_pickle=True``): ``__reduce_ex__`` returns
  ``(lightxfer.shared.binding.unpickle, (cls, state, allow_pickle))``. A bound layer
  passes the ``allow_pickle`` it was bound with and binds again right away (except inside
  ``load``, which binds afterwards with its options); a layer never bound passes ``None``
  and its copy stays unbound, so no copy follows a file's reference further than
  ``BindOptions()`` would.
"""

import contextlib
import gc
import glob
import importlib
import inspect
import io
import json
import os
import re
import secrets
import stat
import sys
import time
import types
import warnings
import zipfile
from collections import Counter, deque
from pathlib import Path

import joblib
import numpy as np
import sklearn
import sklearn.base
from gensim.models import KeyedVectors
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from lightxfer import compact_vocabulary
from lightxfer._version import __version__
from lightxfer.exceptions import ModelFileError, UnsafeFileError
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

#: The longest n-gram a text vectorizer from a file may build (``ngram_range=(1, n)``,
#: HybridVectorizer's ``ngram_range`` and ``char_ngram_range``). A text of ``L``
#: characters gives about ``L * n`` n-grams of up to ``n`` characters, so a file's
#: ``(1, 10**6)`` would take gigabytes on a short text; lightxfer itself writes at most 5.
MAX_NGRAM = 10

#: ``analyzer`` values a file may hold: scikit-learn's own (lightxfer writes ``"word"`` and
#: ``"char_wb"``), whose cost per text :data:`MAX_NGRAM` bounds. A callable is a function,
#: which the trusted type list refuses; any other string is refused on load rather than
#: failing at predict time.
KNOWN_ANALYZERS = ("word", "char", "char_wb")

#: A ``.skops`` file may decompress to at most this many times its own size, plus
#: ``_EXPANSION_SLACK`` bytes, counting each member as often as the schema reads it.
#: lightxfer writes members uncompressed (ratio 1); a larger ratio is a zip bomb.
MAX_EXPANSION = 20
_EXPANSION_SLACK = 1 << 20

#: Kinds of array a model file may hold: booleans, numbers and fixed-width strings, and
#: records of them (a decision tree's nodes). Object arrays would need pickle; a raw
#: ``void`` element of size 0 (``|V0``) lets a tiny file announce a shape of billions of
#: elements that code then turns into a list.
ARRAY_KINDS = "biufcSU"


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

    The file is written under a temporary name in the same directory (``.NAME.*.tmp``)
    and renamed over ``path``, so an interrupted save leaves the previous file intact; the
    temporary file is removed on any error, Ctrl-C included, and one left by a save that
    was killed (``kill -9``, a power cut) is removed by the next save of the same name. A
    new file gets the mode of any new file (0666 less the umask); an overwritten one keeps
    its mode.

    The path of a vectors file is recorded relative to the folder of ``path`` (absolute
    only where no relative path exists, as across Windows drives): the file does not tell
    where the user's files are, and a folder holding the model and its vectors can be
    moved as a whole. A vectors name (``"glove-wiki-gigaword-50"``) is recorded as it is,
    and so are the estimators' parameters, such as ``EmbeddingVectorizer(vectors=...)``,
    as the caller gave them.

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
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    with binding.saving_to(path.parent):
        payload = {
            "model": model,
            "versions": _versions(),
            "vectors": [_vectors_record(item) for item in _fitted_vectorizers(model)],
        }
        tmp, lock = _create_temporary(path)
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
        finally:
            os.close(lock)
    return path


#: A temporary file of a save younger than this is never taken for a stale one: on
#: systems without file locks, or between its creation and its lock, it may be in use.
STALE_AFTER = 60.0


def _temporary_names(path):
    return path.parent.glob(f".{glob.escape(path.name)}.*.tmp")


def _create_temporary(path):
    """Create an empty hidden file next to ``path``; return it and a descriptor locking it.

    Unlike ``tempfile.mkstemp`` (always 0600), the mode is 0666 less the umask (and any
    default ACL of the folder): a saved model is as readable as the user's other files.
    The lock, held until the save ends, tells a later save that the file is in use; the
    system releases it when the process dies, however it dies.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    _lock(descriptor, blocking=True)
    return tmp, descriptor


def _remove_stale_temporaries(path):
    """Remove the temporary files that killed saves of ``path`` left behind."""
    for tmp in _temporary_names(path):
        if not _TEMPORARY.fullmatch(tmp.name[len(path.name) + 1 :]):
            continue  # not a name save writes: not ours to remove
        try:
            if time.time() - tmp.lstat().st_mtime < STALE_AFTER or not tmp.is_file():
                continue
            descriptor = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue  # gone already, or not ours to open
        try:
            if _lock(descriptor, blocking=False):  # no live save holds it
                with contextlib.suppress(OSError):  # e.g. still open elsewhere on Windows
                    tmp.unlink(missing_ok=True)
        finally:
            os.close(descriptor)


_TEMPORARY = re.compile(r"\.[0-9a-f]{16}\.tmp")


def _lock(descriptor, *, blocking):
    """Lock an open file for this process; ``False`` if another process holds it.

    Without ``fcntl`` (Windows), there is no lock: age alone (:data:`STALE_AFTER`) tells.
    """
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


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
    # lightxfer defines (not a function, not something it merely imports from elsewhere),
    # possibly under the name it had before it moved (lightxfer.source_blocks).
    module_name, _, attribute = name.rpartition(".")
    if not (module_name == "lightxfer" or module_name.startswith("lightxfer.")):
        return False
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found) and found.__module__.partition(".")[0] == "lightxfer"


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
        for a decision-tree head you trust); ``True`` allows any type, any
        ``token_pattern`` and any text vectorizer settings.
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
        If the file holds an untrusted type or pattern, n-grams longer than
        :data:`MAX_NGRAM`, a pickle without ``allow_pickle=True``, more data than its
        size allows, or an object where the checks cannot reach it.
    ModelFileError
        If the file is damaged or was not written by :func:`save`.
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
        payload, schema = _read_payload(path, trusted, allow_pickle)
    if not (
        isinstance(payload, dict)
        and "model" in payload
        and isinstance(payload.get("versions"), dict)
    ):
        raise ModelFileError(f"{path} was not written by lightxfer.save")
    _warn_versions(path, payload.get("versions"))
    model = payload["model"]
    objects = list(_walk(model))
    if schema is not None:
        _check_all_reached(path, schema, objects)
    try:
        compact_vocabulary.expand(objects)
    except ValueError as exc:
        raise ModelFileError(f"{path}: damaged or crafted file, {exc}") from None
    estimators = [item for item in objects if _is_estimator(item)]
    if trusted is not True:
        _check_token_patterns(path, estimators, token_patterns)
        _check_text_vectorizers(path, estimators)
    _reset_runtime_params(path, estimators, runtime_params)
    _check_parameters(path, estimators)
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
    """Return the rebuilt payload and the schema it was rebuilt from (``None``: a pickle)."""
    if path.suffix in PICKLE_SUFFIXES or _opens_as_pickle(path):
        if not allow_pickle:
            raise UnsafeFileError(
                f"{path} is a pickle file, which can run arbitrary code when loaded; pass "
                "allow_pickle=True only if you trust its source"
            )
        return joblib.load(path), None
    schema = _check_sizes(path)
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
        return _skops_io().load(path, trusted=found), schema
    except Exception as exc:  # nothing is resolved while rebuilding: the file is at fault
        raise _unreadable(path, exc) from None


def _unreadable(path, exc):
    return ModelFileError(f"{path}: not a readable .skops model file ({type(exc).__name__})")


def _opens_as_pickle(path):
    with open(path, "rb") as handle:
        return handle.read(1) == b"\x80"


def _check_sizes(path):
    """Refuse a zip whose members, as the schema reads them, expand beyond the limit.

    Returns the parsed ``schema.json``.
    """
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
    return schema


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
    # header may not announce more than the member holds, and each element has a size.
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
        if not _plain(dtype):
            raise UnsafeFileError(
                f"{path}: array {name} has element type {_shown(dtype.str)}; a model file "
                "holds only numbers, booleans and strings of non-zero size"
            )
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > size:
            raise UnsafeFileError(
                f"{path}: array {name} announces more data than it holds; damaged or crafted"
            )


def _plain(dtype):
    """Tell whether ``dtype`` is of :data:`ARRAY_KINDS`, or a record of them, of non-zero size."""
    if dtype.itemsize == 0:
        return False
    if dtype.fields is not None:
        return all(_plain(field[0]) for field in dtype.fields.values())
    return dtype.kind in ARRAY_KINDS


#: Objects without parts worth a visit: scalars, strings, dtypes, ufuncs and classes.
_LEAVES = (
    str,
    int,
    float,
    type(None),
    bool,
    complex,
    bytes,
    bytearray,
    range,
    type,
    np.generic,
    np.dtype,
    np.ufunc,
)
#: Code and namespaces: never rebuilt from a file without the caller's trust, and a
#: function's globals would lead the search through the whole interpreter.
_NOT_DATA = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.ModuleType,
    types.FrameType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    types.MappingProxyType,
)


def _walk(model, skip=()):
    """Yield every object reachable from ``model``, once each, breadth first.

    The search goes into containers, object arrays, slices, the attributes (``__dict__``)
    of every object, and whatever else the garbage collector sees an object refer to
    (slots, the state of extension types, a bound method's ``__self__``): an estimator
    hidden anywhere in a rebuilt file is found. Scalars and strings are not yielded, so a
    fitted vocabulary of a million words costs one pass over a dict. Objects of the
    ``skip`` types are yielded but not entered.
    """
    seen, queue = set(), deque([model])
    while queue:
        item = queue.popleft()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, skip):
            continue
        queue.extend(child for child in _parts(item) if not isinstance(child, _LEAVES))


def _parts(item):
    if isinstance(item, dict):
        return [*item.keys(), *item.values()]
    if isinstance(item, (list, tuple, set, frozenset, deque)):
        return item
    if isinstance(item, slice):
        return (item.start, item.stop, item.step)
    if isinstance(item, _NOT_DATA):
        return ()
    parts = []
    if isinstance(item, np.ndarray) and item.dtype.hasobject:
        parts.extend(item.ravel().tolist())
    namespace = getattr(item, "__dict__", None)
    if isinstance(namespace, dict):
        parts.extend(namespace.values())
    if not isinstance(item, np.ndarray):
        parts.extend(gc.get_referents(item))
    return [part for part in parts if not isinstance(part, _NOT_DATA)]


def _check_all_reached(path, schema, objects):
    """Refuse a file that rebuilds more estimators of a class than the search found.

    An estimator rebuilt where the search cannot reach it (dropped by a ``__setstate__``,
    kept in some extension type's private state) would escape the checks and the binding.
    """
    found = Counter(_class_name(type(item)) for item in objects)
    for name, count in _built_estimators(schema).items():
        if found[name] < count:
            raise UnsafeFileError(
                f"{path}: a {name.rpartition('.')[2]} sits where lightxfer's checks cannot "
                "reach it; damaged or crafted file"
            )


_BUILDING_LOADERS = ("ObjectNode", "ConstructorFromReduceNode", "ReduceNode")


def _built_estimators(schema):
    """Count the estimators and shared layers the schema builds, by class name."""
    ids, counts, stack = set(), Counter(), [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        if node.get("__loader__") not in _BUILDING_LOADERS:
            continue
        cls = _imported_class(node.get("__module__"), node.get("__class__"))
        if cls is None or not (_is_estimator_class(cls) or hasattr(cls, "__lightxfer_bind__")):
            continue
        key = node.get("__id__")
        if key is None or key not in ids:
            ids.add(key)
            counts[_class_name(cls)] += 1
    return counts


def _imported_class(module, name):
    # Only what skops has imported to rebuild the file: looking never imports anything.
    found = getattr(sys.modules.get(module) if isinstance(module, str) else None, str(name), None)
    return found if inspect.isclass(found) else None


def _is_estimator_class(cls):
    return issubclass(cls, sklearn.base.BaseEstimator)


def _class_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_token_patterns(path, estimators, allowed):
    for item in estimators:
        pattern = getattr(item, "token_pattern", None)
        if not _known(pattern, KNOWN_TOKEN_PATTERNS, allowed):
            raise UnsafeFileError(
                f"{path}: {type(item).__name__}.token_pattern {_shown(pattern)} is not one "
                "lightxfer knows; a regular expression from a file can take exponential "
                "time on a short text: pass token_patterns=[...] naming it if you trust it"
            )


def _check_text_vectorizers(path, estimators):
    """Bound what the text vectorizers of a file may cost per text, and what they read."""
    for item in estimators:
        name = type(item).__name__
        for param in ("ngram_range", "char_ngram_range"):
            value = getattr(item, param, None)
            if value is None and param == "char_ngram_range":
                continue  # HybridVectorizer without character n-grams
            if param in vars(item) and not _bounded_range(value):
                raise UnsafeFileError(
                    f"{path}: {name}.{param} {_shown(value)} is not (min_n, max_n) with "
                    f"1 <= min_n <= max_n <= {MAX_NGRAM} (lightxfer.persistence.MAX_NGRAM); "
                    "longer n-grams from a file could take gigabytes on a short text"
                )
        analyzer = vars(item).get("analyzer", "word")
        if not _known(analyzer, KNOWN_ANALYZERS, ()):
            raise UnsafeFileError(
                f"{path}: {name}.analyzer {_shown(analyzer)} is not one of "
                f"{', '.join(KNOWN_ANALYZERS)}; damaged or crafted file"
            )
        if vars(item).get("input", "content") != "content":
            raise UnsafeFileError(
                f"{path}: {name}.input {_shown(vars(item)['input'])} would read the files "
                "or streams texts name; a model from a file reads texts ('content')"
            )


def _check_parameters(path, estimators):
    """Run each lightxfer estimator's own parameter validation on the file's values.

    A value no ``fit`` would accept (``max_chunks=-1``, a 4 MB string where a number
    goes) is refused now, in one line, rather than failing, or working without a bound,
    at predict time. Other libraries' estimators are checked by their own code when used,
    and a shared layer's reference to its weights (``weights_parameter``, which may be a
    handle only a file holds) by its binding.
    """
    for item in estimators:
        cls = type(item)
        if not cls.__module__.startswith("lightxfer."):
            continue
        constraints = getattr(cls, "_parameter_constraints", {})
        for name in cls._get_param_names():
            if name not in constraints or name not in vars(item):
                continue
            if name == getattr(cls, "weights_parameter", None):
                continue
            value = vars(item)[name]
            try:
                validate_parameter_constraints(
                    {name: constraints[name]}, {name: value}, caller_name=cls.__name__
                )
            except InvalidParameterError:
                raise UnsafeFileError(
                    f"{path}: {cls.__name__}.{name} {_shown(value)} is not a value "
                    f"{cls.__name__} accepts; damaged or crafted file"
                ) from None


def _bounded_range(value):
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in value)
        and 1 <= value[0] <= value[1] <= MAX_NGRAM
    )


def _known(value, known, allowed):
    try:
        return value in known or value in allowed
    except Exception:  # e.g. an array, which has no single truth value
        return False


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_estimator(item):
    return isinstance(item, sklearn.base.BaseEstimator)


def _reset_runtime_params(path, estimators, given):
    dropped = []
    for item in estimators:
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
        "source": binding.file_path(source) if source is not None else "in-memory vectors",
        "fingerprint": vectorizer.fingerprint_,
        "stored": bool(vectorizer.store_vectors),
    }


def _fitted_vectorizers(model):
    """Yield every fitted EmbeddingVectorizer inside ``model``, in a stable order.

    An unfitted one (a HybridVectorizer's ``shared`` parameter) has no vectors to record.
    """
    return (
        item
        for item in _walk(model, skip=(KeyedVectors,))
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
