"""On-disk cache of converted vectors: a raw float32 matrix and a word list, memory-mapped.

An entry is a directory written under a temporary name and renamed into place, so a crash
while converting never leaves a half-written entry; an entry whose files do not match its
metadata is treated as missing and rebuilt. Processes converting the same file at once
each write their own temporary directory; the first renamed into place wins, and the
others use it and delete only their own: a complete entry is never deleted, as other
processes may be reading it.

Entry names come from lightxfer (a file's name and identity, or a fingerprint a model file
records), so each is checked before use: one path component, and its real path directly
inside the cache. Nothing here reads, writes or deletes anywhere else.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

_META = "meta.json"
_WORDS = "words.json"
_MATRIX = "vectors.f32"
# Any single file name but "." and "..", and no separator or NUL on any platform.
_ENTRY_NAME = re.compile(r"[^/\\\x00]+")


def cache_root():
    """Return the cache directory (``$LIGHTXFER_CACHE`` or ``~/.cache/lightxfer``)."""
    root = os.environ.get("LIGHTXFER_CACHE") or Path.home() / ".cache" / "lightxfer"
    return Path(root)


def entry_dir(key):
    """Return the directory of cache entry ``key``, refusing a name that leaves the cache.

    Raises
    ------
    ValueError
        If ``key`` is not one file name or its real path is not inside the cache.
    """
    parent = cache_root() / "vectors"
    if not _ENTRY_NAME.fullmatch(key) or key in (".", ".."):
        raise ValueError(f"{key!r} is not a vectors cache entry name")
    path = parent / key
    # A symbolic link (the entry or the cache folder's own) must not lead elsewhere.
    if path.resolve().parent != parent.resolve():
        raise ValueError(f"{path} leads outside the vectors cache {parent}")
    return path


def keyed_vectors(words, matrix):
    """Wrap a word list and a (possibly memory-mapped) matrix as gensim KeyedVectors."""
    kv = KeyedVectors(matrix.shape[1], count=0, dtype=matrix.dtype)
    kv.index_to_key = words
    kv.key_to_index = {word: i for i, word in enumerate(words)}
    kv.vectors = matrix
    kv.next_index = len(words)
    return kv


def read_entry(key):
    """Return ``(KeyedVectors, meta)`` for a complete entry, or ``None`` if absent or corrupt."""
    path = entry_dir(key)
    try:
        identity = path.stat().st_ino
    except OSError:
        return None
    if not (path / _META).is_file():
        return None
    try:
        meta = json.loads((path / _META).read_text())
        if meta.get("kind") == "gensim":
            # Written by lightxfer itself (a converted fastText model), inside the cache.
            kv = KeyedVectors.load(str(path / _one_name(meta["file"])), mmap="r")
            return kv, meta
        words = json.loads((path / _WORDS).read_text(encoding="utf-8"))
        matrix_path = path / _MATRIX
        rows, dim = meta["shape"]
        # memmap accepts a file longer than the shape asks for: check the exact size.
        size = matrix_path.stat().st_size
        if size != rows * dim * 4:
            raise ValueError(f"{matrix_path.name} has {size} bytes, expected {rows * dim * 4}")
        matrix = np.memmap(matrix_path, dtype=np.float32, mode="r", shape=(rows, dim))
        if matrix.shape != (rows, dim) or len(words) != rows:
            raise ValueError(f"shape {matrix.shape} and {len(words)} words, meta says {rows}x{dim}")
    except Exception as exc:  # anything from a damaged entry: rebuild it, never crash
        warnings.warn(
            f"rebuilding corrupt vectors cache entry {path} ({type(exc).__name__})", stacklevel=3
        )
        _discard(path, identity)
        return None
    return keyed_vectors(words, matrix), meta


def write_entry(key, meta, fill):
    """Create entry ``key`` atomically, or use the one another process completed first.

    Parameters
    ----------
    key : str
        Entry name.
    meta : dict
        Metadata to store; ``fill`` may add to it.
    fill : callable
        ``fill(tmpdir, meta)`` writes the entry's files into ``tmpdir``.

    Returns
    -------
    (KeyedVectors, dict)
        The entry now in place, as :func:`read_entry` returns it: this process's, or the
        one another process renamed into place first.
    """
    final = entry_dir(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        fill(tmp, meta)
        # meta.json is written last: an entry without it is incomplete and ignored.
        (tmp / _META).write_text(json.dumps(meta, indent=1))
        for _ in range(3):
            try:
                # Fails if ``final`` is a directory with files in it: never overwritten.
                os.rename(tmp, final)
                break
            except OSError:
                entry = read_entry(key)
                if entry is not None:  # another process won the race: use its entry
                    shutil.rmtree(tmp, ignore_errors=True)
                    return entry
                with contextlib.suppress(OSError):  # not an entry: left by older versions
                    if not (final / _META).exists():
                        _discard(final, final.stat().st_ino)
        else:
            raise OSError(f"cannot create vectors cache entry {final}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry = read_entry(key)
    if entry is None:
        raise OSError(f"vectors cache entry {final} vanished as it was written")
    return entry


def _discard(path, identity):
    """Delete the entry at ``path`` if it is still the directory ``identity`` was read from.

    It is first renamed aside, so a process that replaced it meanwhile with a complete
    entry keeps that one, and no process ever sees it half deleted.
    """
    trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    try:
        if path.stat().st_ino == identity:
            os.replace(path, trash / path.name)
    except OSError:
        pass
    shutil.rmtree(trash, ignore_errors=True)


def _one_name(name):
    if not isinstance(name, str) or not _ENTRY_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not a file name inside the entry")
    return name


def write_words(directory, words):
    """Write the word list of an entry."""
    (directory / _WORDS).write_text(json.dumps(list(words), ensure_ascii=False), encoding="utf-8")


def matrix_path(directory):
    """Return where an entry's raw float32 matrix lives."""
    return directory / _MATRIX
