"""Source heads that ship with lightxfer: one MLP per shipped task, over the default encoder.

Each file ``lightxfer/data/sources/<name>.npz`` holds the layers of
``make_classifier(encoder="all-MiniLM-L6-v2", head="mlp")`` fitted on one shipped task
(arrays only, float16, read with ``allow_pickle=False``) and, as a JSON string, the
encoder's fingerprint, the training recipe, the classes, the rows and the licence.
``benchmarks/train_sources.py`` writes them; :func:`load_source` turns one back into a
fitted source pipeline, the same as the user's own ``make_classifier(...).fit(...)``.
"""

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from lightxfer.shared.conv import ConvLayer
from lightxfer.shared.conv_filters import read_filters, shipped_path
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.vectorizer import EmbeddingVectorizer

SOURCES_DIR = Path(__file__).resolve().parents[1] / "data" / "sources"
#: The shipped sources, in the order ``sources()`` lists them.
NAMES = ("sst2", "sst5", "subj", "trec", "mpqa")
#: Plain-word names of the shipped sources.
ALIASES = {
    "sentiment": "sst2",
    "sentiment-5": "sst5",
    "subjectivity": "subj",
    "question-type": "trec",
    "opinion": "mpqa",
}
#: Sources whose training texts' terms allow academic and research use only (MPQA's):
#: ``sources="auto"`` leaves them out; naming them (or ``sources="all"``) takes them.
RESEARCH_ONLY = ("mpqa",)
#: Arrays every source file holds: the MLP's hidden and output layers.
ARRAYS = ("hidden_coef", "hidden_intercept", "output_coef", "output_intercept", "classes")


def resolve_name(name):
    """Return the shipped source a name or alias refers to, e.g. ``"sentiment"`` -> ``"sst2"``.

    Raises
    ------
    ValueError
        The name is neither a shipped source nor an alias.

    Examples
    --------
    >>> resolve_name("sentiment"), resolve_name("TREC")
    ('sst2', 'trec')
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in NAMES:
        raise ValueError(
            f"no shipped source named {name!r}: choose among {', '.join(NAMES)} "
            f"or {', '.join(ALIASES)}"
        )
    return key


def is_source_name(value):
    """Tell whether ``value`` names a shipped source or conv source (not a model or a file)."""
    if is_conv_source(value):
        value = value.strip().lower()[len(CONV_PREFIX) :]
    return isinstance(value, str) and (value.strip().lower() in NAMES + tuple(ALIASES))


def read_source(name):
    """Return ``(arrays, metadata)`` of a shipped source file, checked.

    Parameters
    ----------
    name : str
        A name of :data:`NAMES` or an alias.

    Returns
    -------
    arrays : dict of str to ndarray
        ``hidden_coef``, ``hidden_intercept``, ``output_coef``, ``output_intercept``
        (float16) and ``classes`` (str).
    metadata : dict
        ``encoder``, ``encoder_fingerprint``, ``recipe``, ``task``, ``rows``,
        ``licence``, ``source_test_accuracy`` and more.
    """
    return _read(resolve_name(name))


@functools.cache
def _read(name):
    # Read once per process: every fit with sources="auto" looks them up.
    path = SOURCES_DIR / f"{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the shipped source {name!r} is missing")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = sorted({*ARRAYS, "metadata"} - set(archive.files))
            if missing:
                raise ValueError(f"not a lightxfer source file (missing {', '.join(missing)})")
            arrays = {key: archive[key] for key in ARRAYS}
            metadata = json.loads(str(archive["metadata"]))
    except (ValueError, OSError) as error:  # incl. object arrays, refused unread
        raise ValueError(f"{path}: {error}") from None
    for array in arrays.values():
        array.flags.writeable = False  # shared by every caller of this process
    n_in, n_hidden = arrays["hidden_coef"].shape
    shapes = {
        "hidden_intercept": (n_hidden,),
        "output_coef": (n_hidden, arrays["output_coef"].shape[1]),
        "output_intercept": (arrays["output_coef"].shape[1],),
    }
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape}")
    return arrays, metadata


def sources(kind="encoder"):
    """List the source tasks that ship with lightxfer, one row each.

    Parameters
    ----------
    kind : {"encoder", "conv"}, default="encoder"
        ``"encoder"``: the source heads over the default sentence encoder (for
        ``make_classifier(encoder=..., sources=...)`` and ``transfer(name)``);
        ``"conv"``: the convolutional sources over the default GloVe vectors
        (``"conv_sst2"``...: ``transfer(name)``, ``make_classifier(sources="auto")``).

    Returns
    -------
    pandas.DataFrame
        Indexed by name: ``task``, ``classes``, ``rows`` (training texts of the source),
        ``licence`` (of its training texts), ``research_only`` (those terms allow
        academic and research use only: ``sources="auto"`` leaves it out),
        ``shared_layer`` (the encoder or vectors its frozen layer sits on),
        ``hidden_units`` (hidden units, or feature maps of a conv source) and
        ``source_test_accuracy``.

    Examples
    --------
    >>> table = sources()
    >>> table.index.tolist()
    ['sst2', 'sst5', 'subj', 'trec', 'mpqa']
    >>> table.loc["sst2", "classes"]
    'negative, positive'
    >>> sources("conv").loc["conv_trec", "shared_layer"]
    'glove-wiki-gigaword-50'
    """
    if kind not in ("encoder", "conv"):
        raise ValueError(f"kind must be 'encoder' or 'conv', got {kind!r}")
    rows = {}
    for name in NAMES:
        if kind == "conv":
            filters = read_filters(CONV_PREFIX + name)
            metadata = filters.metadata
            classes, shared, units = filters.classes, filters.vectors, filters.n_features
        else:
            arrays, metadata = read_source(name)
            classes, shared = arrays["classes"], metadata["encoder"]
            units = arrays["hidden_coef"].shape[1]
        rows[CONV_PREFIX + name if kind == "conv" else name] = {
            "task": metadata["task"],
            "classes": ", ".join(map(str, np.asarray(classes).tolist())),
            "rows": metadata["rows"],
            "licence": metadata["licence"],
            "research_only": name in RESEARCH_ONLY,
            "shared_layer": shared,
            "hidden_units": units,
            "source_test_accuracy": metadata["source_test_accuracy"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def check_fingerprint(name, metadata, encoder):
    """Raise if the fitted ``encoder`` is not the model the source was trained on."""
    expected = metadata["encoder_fingerprint"]
    found = getattr(encoder, "fingerprint_", None)
    if found != expected:
        raise ValueError(
            f"the shipped source {name!r} was trained on {metadata['encoder']} with "
            f"fingerprint {expected[:12]}..., but this shared layer has "
            f"{'none' if found is None else found[:12] + '...'}: its features would "
            "mean something else"
        )


def load_source(name, *, encoder=None):
    """Return a shipped source as a fitted pipeline, as ``make_classifier(..., head="mlp")``.

    The pipeline's steps are ``"embedding"`` (a fitted :class:`lightxfer.SentenceEncoder`
    whose fingerprint matches the source's) and ``"head"`` (a fitted ``MLPClassifier``
    holding the shipped weights), so :func:`lightxfer.transfer`,
    :func:`lightxfer.evaluate_transfer` and ``predict`` treat it as a user's own source.

    A conv source (``"conv_sst2"``...) is a fitted :class:`lightxfer.ConvLayer` on the
    default GloVe vectors under the logistic regression holding the softmax it was
    trained with.

    Parameters
    ----------
    name : str
        A shipped source (see :func:`sources`) or an alias such as ``"sentiment"``, or a
        conv source such as ``"conv_sst2"`` or ``"conv_sentiment"``.
    encoder : str or path, optional
        Where to find the encoder; default the model named in the source file. Its
        fingerprint must match.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    if is_conv_source(name):
        return _conv_source(resolve_conv_name(name))
    name = resolve_name(name)
    arrays, metadata = read_source(name)
    shared = SentenceEncoder(metadata["encoder"] if encoder is None else encoder)
    shared.fit(["fingerprint check"])
    check_fingerprint(name, metadata, shared)
    return Pipeline([("embedding", shared), ("head", mlp_from_arrays(arrays, metadata))])


def mlp_from_arrays(arrays, metadata):
    """A fitted ``MLPClassifier`` holding a source file's layers (as float32)."""
    classes = arrays["classes"]
    n_in, n_hidden = arrays["hidden_coef"].shape
    params = dict(metadata["recipe"]["head_params"])
    params["hidden_layer_sizes"] = (n_hidden,)
    # partial_fit on one row per class builds the fitted state (it refuses early
    # stopping, set back afterwards); the shipped weights then replace the drawn ones.
    mlp = MLPClassifier(**{**params, "early_stopping": False})
    mlp.partial_fit(np.zeros((len(classes), n_in), np.float32), classes, classes=classes)
    mlp.set_params(**params)
    mlp.coefs_ = [
        arrays["hidden_coef"].astype(np.float32),
        arrays["output_coef"].astype(np.float32),
    ]
    mlp.intercepts_ = [
        arrays["hidden_intercept"].astype(np.float32),
        arrays["output_intercept"].astype(np.float32),
    ]
    return mlp


def hidden_layers(names, encoder):
    """``(names, coef, intercept)``: the hidden layers of ``names`` side by side.

    All shipped hidden layers read the same encoder features, so they are one layer whose
    units are each source's units in turn. ``encoder`` is the fitted shared layer; its
    fingerprint must match every source's.
    """
    names = [resolve_name(name) for name in names]
    coefs, intercepts = [], []
    for name in names:
        arrays, metadata = read_source(name)
        check_fingerprint(name, metadata, encoder)
        coefs.append(arrays["hidden_coef"].astype(np.float32))
        intercepts.append(arrays["hidden_intercept"].astype(np.float32))
    return names, np.hstack(coefs), np.concatenate(intercepts)


def matching_sources(encoder, research_only=False):
    """The shipped sources trained on the fitted ``encoder`` (by fingerprint); may be none.

    Those of :data:`RESEARCH_ONLY` only with ``research_only=True``.
    """
    found = getattr(encoder, "fingerprint_", None)
    return [
        name
        for name in NAMES
        if read_source(name)[1]["encoder_fingerprint"] == found
        and (research_only or name not in RESEARCH_ONLY)
    ]


#: Prefix of the shipped conv sources: ``conv_sst2`` is a :class:`lightxfer.ConvLayer`'s
#: filters trained on SST-2 over the default GloVe vectors
#: (``lightxfer/data/sources/conv_sst2.npz``, written by ``benchmarks/train_conv_sources.py``).
CONV_PREFIX = "conv_"


def is_conv_source(name):
    """Tell whether ``name`` names a shipped conv source (``"conv_sst2"``, ``"conv_sentiment"``)."""
    return isinstance(name, str) and name.strip().lower().startswith(CONV_PREFIX)


def resolve_conv_name(name):
    """Return the shipped conv source ``name`` refers to, e.g. ``"conv_sentiment"`` -> ``"conv_sst2"``.

    Examples
    --------
    >>> resolve_conv_name("conv_sentiment")
    'conv_sst2'
    """
    key = str(name).strip().lower()
    return CONV_PREFIX + resolve_name(key[len(CONV_PREFIX) :] if is_conv_source(key) else key)


def conv_filters(names):
    """The checked :class:`~lightxfer.shared.conv_filters.ConvFilters` of shipped conv sources."""
    return [read_filters(resolve_conv_name(name)) for name in names]


def matching_conv_sources(shared, research_only=False):
    """The shipped conv sources over the fitted word-vector layer ``shared`` (by fingerprint).

    Those trained on a task of :data:`RESEARCH_ONLY` only with ``research_only=True``.
    """
    found = getattr(shared, "fingerprint_", None)
    if not isinstance(shared, EmbeddingVectorizer) or found is None:
        return []
    return [
        CONV_PREFIX + name
        for name in NAMES
        if (research_only or name not in RESEARCH_ONLY)
        and shipped_path(CONV_PREFIX + name) is not None
        and read_filters(CONV_PREFIX + name).vectors_fingerprint == found
    ]


def check_conv_vectors(name, filters, shared):
    """Raise unless the fitted ``shared`` layer holds the vectors conv source ``name`` reads."""
    found = getattr(shared, "fingerprint_", None)
    if not isinstance(shared, EmbeddingVectorizer) or found != filters.vectors_fingerprint:
        raise ValueError(
            f"the shipped conv source {name!r} reads the word vectors {filters.vectors} "
            f"(fingerprint {filters.vectors_fingerprint[:12]}...), which this shared layer "
            f"({type(shared).__name__}) does not hold: its features would mean something else"
        )


def _conv_source(name):
    """A shipped conv source as a fitted pipeline: its ``ConvLayer``, its softmax as LR."""
    filters = read_filters(name)
    layer = ConvLayer(name.removeprefix(CONV_PREFIX)).fit(["fingerprint check"])
    coef = filters.output_coef.astype(np.float64).T
    intercept = filters.output_intercept.astype(np.float64)
    head = LogisticRegression(max_iter=1000)
    head.classes_ = filters.classes.astype(object)
    if len(head.classes_) == 2:  # a two-class softmax is a logistic regression on the difference
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    head.coef_, head.intercept_ = coef, intercept
    head.n_features_in_, head.n_iter_ = coef.shape[1], np.zeros(1, dtype=np.int32)
    return Pipeline([("embedding", layer), ("head", head)])
