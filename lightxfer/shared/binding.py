"""The binding protocol: how a rebuilt shared layer finds the weights it refers to.

A shared layer's model file or pickle holds references to its weights, not the weights;
``__lightxfer_bind__(options)`` resolves them with what the caller allows
(:class:`BindOptions`). The rules are in :mod:`lightxfer.persistence`, which calls the
protocol when it loads a file; this module is what the shared layers import, so that
they depend on the protocol, not on the module that saves and loads whole models.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BindOptions:
    """What the caller of :func:`lightxfer.load` allows when a shared layer binds its references.

    Parameters
    ----------
    path : pathlib.Path, optional
        The model file, named first in every error; ``None`` for an in-process pickle.
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


_DEFERRED = contextvars.ContextVar("lightxfer_loading", default=False)


@contextmanager
def deferred():
    """Within this block, :func:`unpickle` leaves binding to the caller (``load``)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def unpickle(cls, state):
    """Rebuild a shared layer from a pickle and bind it (see :mod:`lightxfer.persistence`).

    Parameters
    ----------
    cls : type
    state : dict
        What ``cls.__getstate__`` returned.

    Returns
    -------
    object
    """
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    if not _DEFERRED.get():  # inside load(), binding waits for the caller's options
        obj.__lightxfer_bind__(BindOptions(allow_pickle=True))
    return obj
