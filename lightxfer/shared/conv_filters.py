"""``ConvFilters``: the trained weights of a convolutional shared layer, as small arrays.

A bank of 1-D convolution filters over frozen word vectors (one block of feature maps
per filter width), the vectors they were trained on (a name and a fingerprint, never the
vectors) and, optionally, the softmax layer they were trained under. Files are ``.npz``
archives of arrays plus a JSON string, read with ``allow_pickle=False``; the filters that
ship with lightxfer are ``lightxfer/data/sources/conv_<task>.npz``.

Everything read from a file or a model file is checked by :meth:`ConvFilters.check`:
consistent shapes, finite values and bounded sizes, so a crafted file cannot announce
more work per word than :data:`MAX_WEIGHTS` multiply-adds.
"""

import functools
import json
import os
from pathlib import Path

import numpy as np

from lightxfer.vectors import loaded

SOURCES_DIR = Path(__file__).resolve().parent.parent / "data" / "sources"
#: Widest filter (in words), most distinct widths and most banks (stacked sources).
MAX_WIDTH = 10
MAX_WIDTHS = 8
MAX_BANKS = 64
#: Most feature maps of a bank (its features), and most weights (width x dimension x maps
#: summed over widths: the multiply-adds per word of a text).
MAX_MAPS = 8192
MAX_WEIGHTS = 8_000_000
#: Most classes of the optional softmax layer.
MAX_CLASSES = 1000


class ConvFilters:
    """Trained convolution filters over frozen word vectors.

    Parameters
    ----------
    coefs : list of ndarray of shape (width, dim, maps)
        One filter bank per width: ``coefs[i][k]`` weighs the ``k``-th word of a window.
    intercepts : list of ndarray of shape (maps,)
    vectors : str
        The word vectors the filters were trained on (a name or path for
        :func:`lightxfer.load_vectors`).
    vectors_fingerprint : str
        Their fingerprint: a conv layer refuses other vectors.
    output_coef, output_intercept : ndarray, optional
        The softmax layer the filters were trained under, ``(n_features, n_classes)``
        and ``(n_classes,)``, with ``classes``: what makes them a source model.
    classes : ndarray of str, optional
    metadata : dict, optional
        JSON-serialisable facts: the recipe, the task, the rows...

    Examples
    --------
    >>> import numpy as np
    >>> filters = ConvFilters(
    ...     [np.zeros((3, 50, 4), np.float32)], [np.zeros(4, np.float32)],
    ...     vectors="glove-wiki-gigaword-50", vectors_fingerprint="0" * 32)
    >>> filters.widths, filters.n_features
    ([3], 4)
    """

    def __init__(
        self,
        coefs,
        intercepts,
        *,
        vectors,
        vectors_fingerprint,
        output_coef=None,
        output_intercept=None,
        classes=None,
        metadata=None,
    ):
        self.coefs = list(coefs)
        self.intercepts = list(intercepts)
        self.vectors = vectors
        self.vectors_fingerprint = vectors_fingerprint
        self.output_coef = output_coef
        self.output_intercept = output_intercept
        self.classes = classes
        self.metadata = {} if metadata is None else metadata
        self.check()

    @property
    def widths(self):
        """The filter widths, in words, one per bank."""
        return [int(np.shape(coef)[0]) for coef in self.coefs]

    @property
    def dim(self):
        """The dimension of the word vectors the filters read."""
        return int(np.shape(self.coefs[0])[1])

    @property
    def n_features(self):
        """Feature maps in all, one feature per map and pooling."""
        return sum(int(np.shape(coef)[2]) for coef in self.coefs)

    def __repr__(self):
        return (
            f"ConvFilters(widths={self.widths}, maps={[np.shape(c)[2] for c in self.coefs]}, "
            f"vectors={self.vectors!r})"
        )

    def check(self, where=""):
        """Raise ``ValueError`` (one line, prefixed by ``where``) unless the arrays are sound.

        Returns
        -------
        self
        """
        try:
            _check(self)
        except (TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{where}conv filters: {error}") from None
        return self

    @classmethod
    def stack(cls, banks):
        """One bank computing the features of ``banks`` side by side, bank after bank.

        All banks must read the same vectors; each width becomes a bank of its own, so a
        text is looked up once for all of them.
        """
        fingerprints = {bank.vectors_fingerprint for bank in banks}
        if len(fingerprints) != 1:
            raise ValueError("conv filters stacked together must read the same vectors")
        return cls(
            [c for bank in banks for c in bank.coefs],
            [b for bank in banks for b in bank.intercepts],
            vectors=banks[0].vectors,
            vectors_fingerprint=banks[0].vectors_fingerprint,
        )

    def save(self, path):
        """Write the filters to ``path`` (an ``.npz`` archive of arrays), atomically."""
        path = Path(path)
        arrays = {f"coef_{i}": c for i, c in enumerate(self.coefs)}
        arrays.update({f"intercept_{i}": b for i, b in enumerate(self.intercepts)})
        if self.output_coef is not None:
            arrays.update(
                output_coef=self.output_coef,
                output_intercept=self.output_intercept,
                classes=np.asarray(self.classes).astype(str),
            )
        metadata = {
            **self.metadata,
            "vectors": self.vectors,
            "vectors_fingerprint": self.vectors_fingerprint,
            "n_banks": len(self.coefs),
        }
        partial = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez_compressed(partial, metadata=np.array(json.dumps(metadata)), **arrays)
        os.replace(partial, path)
        return path


def _check(filters):
    coefs, intercepts = filters.coefs, filters.intercepts
    if not 1 <= len(coefs) <= MAX_BANKS or len(intercepts) != len(coefs):
        raise ValueError(
            f"{len(coefs)} filter banks and {len(intercepts)} intercepts "
            f"(1 to {MAX_BANKS} of each, as many of both)"
        )
    if len(set(filters.widths)) > MAX_WIDTHS:
        raise ValueError(f"more than {MAX_WIDTHS} filter widths")
    dims, weights, maps = set(), 0, 0
    for coef, intercept in zip(coefs, intercepts):
        if not (isinstance(coef, np.ndarray) and isinstance(intercept, np.ndarray)):
            raise TypeError("a filter bank is not an array")
        if coef.ndim != 3 or coef.dtype.kind != "f" or intercept.dtype.kind != "f":
            raise ValueError(f"a filter bank has shape {coef.shape} (width, dim, maps expected)")
        width, dim, n_maps = coef.shape
        if not 1 <= width <= MAX_WIDTH or min(dim, n_maps) < 1:
            raise ValueError(f"a filter bank has shape {coef.shape} (widths 1 to {MAX_WIDTH})")
        if intercept.shape != (n_maps,):
            raise ValueError(f"intercept of shape {intercept.shape} for {n_maps} maps")
        dims.add(dim)
        weights += coef.size
        maps += n_maps
        if weights > MAX_WEIGHTS or maps > MAX_MAPS:
            raise ValueError(
                f"more than {MAX_WEIGHTS} weights or {MAX_MAPS} feature maps: too large"
            )
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError("a filter bank holds values that are not finite")
    if len(dims) != 1:
        raise ValueError(f"filter banks read vectors of different dimensions {sorted(dims)}")
    if not isinstance(filters.vectors, str):
        raise TypeError("the vectors reference is not a string")
    loaded.check_fingerprint(filters.vectors_fingerprint)
    if not isinstance(filters.metadata, dict):
        raise TypeError("the metadata is not a dict")
    _check_output(filters, maps)


def _check_output(filters, maps):
    coef, intercept, classes = filters.output_coef, filters.output_intercept, filters.classes
    if coef is None and intercept is None and classes is None:
        return
    if not all(isinstance(a, np.ndarray) for a in (coef, intercept, classes)):
        raise TypeError("the output layer is not three arrays")
    n_classes = len(classes)
    if not 2 <= n_classes <= MAX_CLASSES or classes.ndim != 1 or classes.dtype.kind != "U":
        raise ValueError(f"the output layer has {n_classes} classes (2 to {MAX_CLASSES})")
    if coef.shape != (maps, n_classes) or intercept.shape != (n_classes,):
        raise ValueError(
            f"output layer of shapes {coef.shape} and {intercept.shape} for {maps} features "
            f"and {n_classes} classes"
        )
    if coef.dtype.kind != "f" or not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("the output layer holds values that are not finite numbers")


def shipped_path(name):
    """The file of the shipped conv source ``name`` (``"sst2"`` or ``"conv_sst2"``), or ``None``."""
    key = str(name).strip().lower()
    key = key if key.startswith("conv_") else f"conv_{key}"
    path = SOURCES_DIR / f"{key}.npz"
    return path if path.is_file() else None


def read_filters(source):
    """Read :class:`ConvFilters` from a shipped name (``"sst2"``) or an ``.npz`` path, checked.

    Parameters
    ----------
    source : str or path

    Returns
    -------
    ConvFilters

    Raises
    ------
    ValueError
        The file is missing, not a conv filters file, or its arrays are unsound.
    """
    shipped = shipped_path(source) if isinstance(source, str) else None
    if shipped is not None:
        return _read_shipped(shipped)
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"conv filters {str(source)!r}: neither a shipped conv source "
            f"({', '.join(shipped_names()) or 'none installed'}) nor a file"
        )
    return _read(path)


@functools.cache
def _read_shipped(path):
    # Read once per process: every fit of a model with the shipped conv sources reads them.
    filters = _read(path)
    for array in [*filters.coefs, *filters.intercepts]:
        array.flags.writeable = False  # shared by every caller of this process
    return filters


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "metadata" not in archive.files:
                raise ValueError("not a conv filters file (no metadata)")
            metadata = json.loads(str(archive["metadata"]))
            if not isinstance(metadata, dict):
                raise ValueError("not a conv filters file (metadata is not an object)")
            n_banks = metadata.pop("n_banks", None)
            if not isinstance(n_banks, int) or not 1 <= n_banks <= MAX_BANKS:
                raise ValueError("not a conv filters file (no valid n_banks)")
            names = [f"coef_{i}" for i in range(n_banks)] + [
                f"intercept_{i}" for i in range(n_banks)
            ]
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise ValueError(f"missing arrays {', '.join(missing[:3])}")
            # Sizes are read from the headers before any array is: a crafted archive
            # cannot make this allocate more than the bound allows.
            arrays = {
                name: archive[name] for name in _bounded(archive, names, MAX_WEIGHTS + MAX_MAPS)
            }
            output = {}
            if "output_coef" in archive.files:
                output = {
                    name: archive[name]
                    for name in _bounded(
                        archive,
                        ["output_coef", "output_intercept", "classes"],
                        (MAX_MAPS + 2) * MAX_CLASSES,
                    )
                }
    except (ValueError, OSError, KeyError) as error:
        raise ValueError(f"{path}: {error}") from None
    try:
        return ConvFilters(
            [arrays[f"coef_{i}"] for i in range(n_banks)],
            [arrays[f"intercept_{i}"] for i in range(n_banks)],
            vectors=metadata.pop("vectors", None),
            vectors_fingerprint=metadata.pop("vectors_fingerprint", None),
            output_coef=output.get("output_coef"),
            output_intercept=output.get("output_intercept"),
            classes=output.get("classes"),
            metadata=metadata,
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _bounded(archive, names, most):
    """``names``, once the archive's headers say their arrays hold at most ``most`` numbers."""
    total = 0
    for name in names:
        if name not in archive.files:
            raise ValueError(f"missing array {name}")
        with archive.zip.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(member)
        # Eight bytes a number (a float64, or a class name of two characters).
        total += int(np.prod(shape, dtype=np.int64)) * max(dtype.itemsize, 1)
        if total > 8 * most:
            raise ValueError("arrays larger than conv filters may be")
    return names


def shipped_names():
    """The shipped conv sources, e.g. ``["conv_sst2", ...]``."""
    return sorted(path.stem for path in SOURCES_DIR.glob("conv_*.npz"))
