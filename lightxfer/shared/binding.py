"""The binding protocol: how a rebuilt shared layer finds the weights it refers to.

A shared layer's model file or pickle holds references to its weights, not the weights;
``__lightxfer_bind__(options)`` resolves them with what the caller allows
(:class:`BindOptions`). The rules are in :mod:`lightxfer.persistence`, which calls the
protocol when it loads a file; this module is what the shared layers import, so that
they depend on the protocol, not on the module that saves and loads whole models.

Binding is done under :data:`LOCK` and publishes its result last: a thread (or a copy
pickled for a worker) sees a layer either unbound or fully bound, never in between.
"""

import contextvars
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Held while a layer binds or is pickled: one lock for all layers, as binding is rare
#: (once per layer and process) and may load the same weights for several layers.
LOCK = threading.RLock()


@dataclass(frozen=True)
class BindOptions:
    """What the caller of :func:`lightxfer.load` allows when a shared layer binds its references.

    Parameters
    ----------
    path : pathlib.Path, optional
        The model file, named first in every error, and the folder that relative
        references in it start from; ``None`` for an in-process pickle.
    allow_pickle : bool, default=False
        Whether a reference may be followed into a pickle file.
    check : bool, default=True
        Whether fingerprints must match the ones recorded.
    sources : dict, default={}
        Replacements the caller passed, by the parameter they replace (``"vectors"``,
        ``"encoder"``).
    """

    path: Path | None = None
    allow_pickle: bool = False
    check: bool = True
    sources: dict = field(default_factory=dict)

    @property
    def where(self):
        """``"<path>: "``, the prefix of error messages, or ``""`` without a file."""
        return f"{self.path}: " if self.path is not None else ""

    @property
    def folder(self):
        """The folder of the model file, or ``None`` without a file."""
        return self.path.resolve().parent if self.path is not None else None


_DEFERRED = contextvars.ContextVar("lightxfer_loading", default=False)
_SAVING_TO = contextvars.ContextVar("lightxfer_saving_to", default=None)


@contextmanager
def deferred():
    """Within this block, :func:`unpickle` leaves binding to the caller (``load``)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


@contextmanager
def saving_to(folder):
    """Within this block, :func:`file_path` writes paths relative to ``folder`` (``save``)."""
    token = _SAVING_TO.set(Path(folder).resolve())
    try:
        yield
    finally:
        _SAVING_TO.reset(token)


def file_path(path):
    """Return ``path`` as a model file being written records it: relative to its folder.

    Outside :func:`saving_to` (a pickle for a worker or a deep copy) the path is kept as
    it is. An absolute path becomes relative to the model file's folder, so that a saved
    model does not record where the user's files are and moves with its vectors; it stays
    absolute only where no relative path exists (another drive on Windows).

    Parameters
    ----------
    path : str

    Returns
    -------
    str
    """
    folder = _SAVING_TO.get()
    if folder is None or not Path(path).is_absolute():
        return path
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # no relative path between two drives
        return path


def unpickle(cls, state, allow_pickle=True):
    """Rebuild a shared layer from a pickle and bind it (see :mod:`lightxfer.persistence`).

    A pickle written by this process (a deep copy, a task for a worker) is trusted like
    the layer it copies: a layer the caller bound or fitted binds again with
    ``allow_pickle``, as it was bound. A layer that was never bound (rebuilt from a model
    file by ``skops.io.load`` and not used yet) is pickled with ``allow_pickle=None``:
    its copy stays unbound and binds itself on first use with the safe defaults
    (``BindOptions()``), as the original would, so a copy never follows a file's
    reference further than the file itself could.

    Parameters
    ----------
    cls : type
    state : dict
        What ``cls.__getstate__`` returned.
    allow_pickle : bool or None, default=True
        ``None`` for a layer never bound; pickles written before this argument existed
        were always bound ones.

    Returns
    -------
    object
    """
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    # Inside load(), binding waits for the caller's options.
    if allow_pickle is not None and not _DEFERRED.get():
        obj.__lightxfer_bind__(BindOptions(allow_pickle=bool(allow_pickle)))
    return obj
