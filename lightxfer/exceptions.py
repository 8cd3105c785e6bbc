"""Errors lightxfer raises, each naming what to fix."""


class VectorsFileError(ValueError):
    """A vector file or directory cannot be read (names the file and, if known, the line)."""


class VectorsUnavailableError(OSError):
    """Named vectors are not on this machine and cannot be downloaded now."""


class VectorsMismatchError(ValueError):
    """Vectors found for a model differ from the ones it was fitted with."""


class UnsafeFileError(ValueError):
    """A file asks for something lightxfer does only when the caller says so.

    Running a pickle, trusting a type, a regular expression or an oversized member: the
    message names the file and the option that allows it.
    """


class ModelFileError(ValueError):
    """A model file is damaged, crafted or not written by :func:`lightxfer.save`.

    The message names the file, never its content.
    """


class EncoderUnavailableError(OSError):
    """A named sentence-transformers model is not on this machine and cannot be downloaded now."""


class EncoderMismatchError(ValueError):
    """A sentence-transformers model found differs from the one a model was fitted with."""


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require(module, extra):
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``.

    Parameters
    ----------
    module : str
        Importable module name.
    extra : str
        The ``lightxfer[extra]`` that provides it.

    Returns
    -------
    module
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f'{module!r} is not installed: run `pip install "lightxfer[{extra}]"`'
        ) from exc
