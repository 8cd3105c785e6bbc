"""Contrastive fine-tuning of a sentence encoder on a few labels (SetFit's recipe).

Pairs of training texts are labelled 1 (same class) or 0 (different classes), and a
private copy of the encoder learns to place them at cosine similarity 1 or 0 with the
loss of sentence-transformers' ``CosineSimilarityLoss`` and the optimiser, schedule and
clipping of its ``old_fit`` loop, in a loop of lightxfer's own (:func:`fine_tune`) that
runs the frozen layers once per text instead of at every step. Only the last transformer
layers train by default, so what changed -- the fitted state a model file stores, as
float32 arrays next to the base model's fingerprint -- is a few megabytes, not the whole
model. :func:`tuned_model` rebuilds the fine-tuned copy from the base model and those
arrays, once per process."""

import copy
import dataclasses
import hashlib
import threading
import time
import warnings
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from lightxfer.progress import progress_bar

#: Fewer examples than this in a class: fine-tuning warns that it may overfit.
FEW_PER_CLASS = 4
#: Fine-tuned copies kept in memory (each is a whole model, ~90 MB for MiniLM).
KEPT_MODELS = 2

_LOCK = threading.Lock()
_TUNED = OrderedDict()  # (base fingerprint, tuned fingerprint) -> LoadedModel
#: Most memory the frozen layers' output may take when kept for training (float16): 256
#: MB, about 1,300 texts of 256 word pieces for MiniLM (384 dims). Beyond it the frozen
#: layers run again at every step, which costs time, not memory.
CACHE_BYTES = 2**28
#: Texts the frozen part encodes at once.
CHUNK = 32


class ContrastiveFineTuning(BaseEstimator):
    """How to fine-tune a sentence encoder on pairs built from the training labels.

    Each training text is paired with ``pairs_per_text`` others, half of its class
    (label 1) and half of other classes (label 0), as in SetFit; the total is capped at
    ``max_pairs``, so the cost stops growing with the classes: a 9-class, 8-per-class
    fit trains on 1440 pairs (90 steps of 16), half of SetFit's 2880, and a 2-class one
    on 320 (20 steps).

    The cost grows with the word pieces the trained layers see, times the layers, so
    ``max_word_pieces`` bounds it for long texts too. The frozen layers run once per
    text and each step runs only the trained layers on its distinct texts: on one
    thread of a nearly idle 2-core machine, 8 per class of TREC (6 classes, 60 steps, 2
    layers) took 9 s, against 20 s with sentence-transformers' ``old_fit``, which ran
    the whole model at every step. A 9-class, 8-per-class fit of quotation-length texts
    (72 texts of ~250 word pieces; ``benchmarks/fine_tuning_recipes.py --cost``) would
    run 90 steps of ~3-4 s each; the default budget stops it after 15 (240 pairs): 75 s
    of CPU time on one thread (2 layers, 23 steps: 82 s), against 568 s for the earlier
    loop on all 90 steps (the issue measured 407 s on the clock). On the clock, under a
    load average of 6, these took 205 s and 1,925 s. The progress bar
    (``progress=True``, or a terminal) shows the estimated time after the first step.
    Short texts do not reach the budget: the five shipped tasks at 8 per class use 2-52%
    of it.

    Parameters
    ----------
    pairs_per_text : int, default=20
        Pairs drawn per training text (SetFit's ``num_iterations`` draws 2 x 20).
    max_pairs : int, default=1440
        Cap on the pairs of one fit.
    epochs : int, default=1
        Passes over the pairs.
    layers : int or None, default=3
        Train only the last ``layers`` transformer layers (the rest stay frozen, and only
        the trained ones are stored); ``None`` trains every weight. Chosen on held-out
        training texts of the five shipped tasks at 8 per class
        (``benchmarks/fine_tuning_recipes.py``, 3 draws each): 3 layers scored 65.4% on
        the mean of the tasks against 62.2% for 2 (the earlier default), below it on no
        task (worst task +0.7, TREC +10.0), for about 1.7 times the fit time; 4 layers
        scored 64.6% (SUBJ -3.3), 2 epochs 62.8% and twice the pairs 62.6%, learning
        rates of 1e-4 or 5e-4 about 61%, and SetFit's own recipe (every layer at 2e-5,
        40 pairs per text, one draw) 65.3% against 64.0% for 2 layers in 17 times the
        time.
    learning_rate : float, default=2e-4
        Peak learning rate of AdamW (linear warm-up over a tenth of the steps, then decay).
        Higher than SetFit's 2e-5 for the whole model: two layers and a few dozen steps
        moved too little at 5e-5 (3-4 points lower on SST-2 and SUBJ at 8 per class).
    pairs_per_step : int, default=16
        Pairs per step.
    max_word_pieces : int or None, default=320_000
        Budget of one fit: the word pieces its steps run through the trained layers,
        counted once per trained layer (a step counts its distinct texts times the
        longest of them times the layers); the steps past it are dropped (at least one
        is kept). ``None`` trains on every pair.
    random_state : int, RandomState or None, default=0
        Draws the pairs, their order and dropout. The default makes fits repeatable.

    Examples
    --------
    >>> ContrastiveFineTuning(layers=None).get_params()["layers"] is None
    True
    """

    _parameter_constraints: dict = {
        "pairs_per_text": [Interval(Integral, 2, None, closed="left")],
        "max_pairs": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "layers": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "pairs_per_step": [Interval(Integral, 1, None, closed="left")],
        "max_word_pieces": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        pairs_per_text=20,
        max_pairs=1440,
        epochs=1,
        layers=3,
        learning_rate=2e-4,
        pairs_per_step=16,
        max_word_pieces=320_000,
        random_state=0,
    ):
        self.pairs_per_text = pairs_per_text
        self.max_pairs = max_pairs
        self.epochs = epochs
        self.layers = layers
        self.learning_rate = learning_rate
        self.pairs_per_step = pairs_per_step
        self.max_word_pieces = max_word_pieces
        self.random_state = random_state

    def __setstate__(self, state):
        # Settings saved before the word-piece budget trained without one.
        super().__setstate__({"max_word_pieces": None, **state})


def resolve(fine_tune):
    """Return the :class:`ContrastiveFineTuning` that a ``fine_tune`` parameter means.

    Parameters
    ----------
    fine_tune : None, "contrastive" or ContrastiveFineTuning

    Returns
    -------
    ContrastiveFineTuning or None
        ``None`` for a frozen encoder.
    """
    if fine_tune is None:
        return None
    if isinstance(fine_tune, str) and fine_tune == "contrastive":
        return ContrastiveFineTuning()
    if isinstance(fine_tune, ContrastiveFineTuning):
        fine_tune._validate_params()
        return fine_tune
    raise ValueError(
        f"fine_tune must be None, 'contrastive' or a ContrastiveFineTuning, got {fine_tune!r}"
    )


def check_labels(y, n_texts):
    """Return the labels as an array, refusing labels no pair can be built from.

    A class with one example has no positive pair, and one class has no negative pair:
    both raise. Classes with fewer than :data:`FEW_PER_CLASS` examples warn, since the
    encoder then learns from a handful of distinct pairs and may overfit them.
    """
    if y is None:
        raise ValueError("fine-tuning the encoder needs the training labels: fit(X, y)")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_texts:
        raise ValueError(f"y must hold one label per text ({n_texts}), got shape {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError("fine-tuning the encoder needs at least two classes in y")
    if counts.min() < 2:
        single = classes[counts < 2].tolist()
        raise ValueError(
            f"fine-tuning the encoder needs at least 2 examples per class (to build pairs of "
            f"the same class), but class(es) {single} have 1: add examples or use "
            "fine_tune=None"
        )
    if counts.min() < FEW_PER_CLASS:
        warnings.warn(
            f"fine-tuning the encoder on {counts.min()} examples of a class builds few "
            "distinct pairs and may overfit them; compare with the frozen encoder "
            "(fine_tune=None), e.g. with lightxfer.evaluate_transfer",
            UserWarning,
            stacklevel=3,
        )
    return y


@validate_params(
    {"y": ["array-like"], "pairs_per_text": [Integral], "max_pairs": [Integral]},
    prefer_skip_nested_validation=True,
)
def make_pairs(y, pairs_per_text, max_pairs, random_state=None):
    """Draw ``(i, j, same)`` pairs of example indices, half of them of the same class.

    Every text is the first member of about ``pairs_per_text`` pairs (fewer when
    ``max_pairs`` caps the total; when even 2 per text exceed it, only ``max_pairs / 2``
    texts drawn at random are), and its partners are drawn uniformly from its own class
    (other than itself) and from all other classes.

    Parameters
    ----------
    y : array-like of shape (n_texts,)
    pairs_per_text, max_pairs : int
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of shape (n_pairs, 3), int64
        Columns: first index, second index, 1 if they share a class else 0; in random order.

    Examples
    --------
    >>> make_pairs(["a", "a", "b", "b"], pairs_per_text=2, max_pairs=100).shape
    (8, 3)
    """
    rng = check_random_state(random_state)
    _, codes = np.unique(np.asarray(y), return_inverse=True)
    n = len(codes)
    per_text = min(pairs_per_text, max(max_pairs // n, 2))
    anchors = np.arange(n)
    if n * per_text > max_pairs:  # many texts: only some anchor pairs, in linear time
        anchors = np.sort(rng.choice(n, -(-max_pairs // per_text), replace=False))
    first = np.repeat(anchors, per_text)
    same = np.tile(np.arange(per_text) % 2 == 0, len(anchors))
    second = np.empty_like(first)
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    others = [np.flatnonzero(codes != c) for c in range(codes.max() + 1)]
    rank = np.empty(n, dtype=np.int64)  # position of each text among its class
    for group in members:
        rank[group] = np.arange(len(group))
    for row, i in enumerate(anchors):
        rows = slice(row * per_text, (row + 1) * per_text)
        wanted = same[rows]
        group = members[codes[i]]
        # A partner of the same class other than i: a draw among the others, skipping i.
        drawn = rng.randint(0, len(group) - 1, wanted.sum())
        second[rows][wanted] = group[drawn + (drawn >= rank[i])]
        second[rows][~wanted] = rng.choice(others[codes[i]], (~wanted).sum())
    pairs = np.column_stack([first, second, same.astype(np.int64)])
    pairs = pairs[rng.permutation(len(pairs))]
    return pairs[:max_pairs]


def fine_tune(loaded, texts, y, settings, *, max_seq_length, progress=None):
    """Train a copy of ``loaded.model`` on pairs from ``(texts, y)``; return what changed.

    The loop is SetFit's (``CosineSimilarityLoss`` -- the squared error between the
    pair's cosine similarity and its label --, AdamW with weight decay 0.01 except on
    biases and LayerNorms, linear warm-up over a tenth of the steps then linear decay,
    gradients clipped to norm 1), with two savings: each step encodes each of its
    distinct texts once, and when only the last ``settings.layers`` layers train, the
    frozen part (embeddings and lower layers, in eval mode: no dropout) runs once per
    distinct text before training (see :class:`_Cache`), not at every step.

    Parameters
    ----------
    loaded : lightxfer.shared.sentence_models.LoadedModel
        The base model; never modified.
    texts : list of str
    y : array-like of shape (len(texts),)
    settings : ContrastiveFineTuning
    max_seq_length : int
        Word pieces kept of each text while training.
    progress : bool, optional
        Show a bar over the steps with the estimated time of the fit (``None``: on a
        terminal).

    Returns
    -------
    weights : dict of str to ndarray
        The trained parameters (float32), by their name in the model's ``state_dict``.
    fingerprint : str
        Their :func:`weights_fingerprint`; :func:`tuned_model` returns the fine-tuned
        copy (kept in memory) for it.
    """
    import torch

    y = check_labels(y, len(texts))
    rng = check_random_state(settings.random_state)
    pairs = make_pairs(y, settings.pairs_per_text, settings.max_pairs, rng)
    with loaded.lock:  # not while another estimator changes its token limit
        model = copy.deepcopy(loaded.model)
    model.max_seq_length = max_seq_length
    trained = trainable_names(model, settings.layers)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name in trained)
    steps = [
        pairs[start : start + settings.pairs_per_step]
        for start in range(0, len(pairs), settings.pairs_per_step)
    ] * settings.epochs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.randint(2**31)))
        _train(model, texts, steps, settings, progress)
    model.eval()
    model.max_seq_length = loaded.max_seq_length
    state = model.state_dict()
    weights = {name: state[name].detach().cpu().numpy().copy() for name in sorted(trained)}
    found = weights_fingerprint(weights)
    _remember(loaded, found, model)
    return weights, found


def _train(model, texts, steps, settings, progress):
    """Run the optimiser over ``steps`` (arrays of ``(i, j, same)`` pairs) on ``model``."""
    import torch
    import transformers

    started = time.perf_counter()
    used = np.unique(np.concatenate([step[:, :2].ravel() for step in steps]))
    encoder = _Cache(model, [texts[i] for i in used], settings.layers)
    position = np.full(len(texts), -1)
    position[used] = np.arange(len(used))
    steps = [np.column_stack([position[step[:, :2]], step[:, 2]]) for step in steps]
    work = np.array([encoder.work(np.unique(step[:, :2])) for step in steps])
    if settings.max_word_pieces is not None:  # the steps that fit in the budget, at least 1
        kept = np.searchsorted(np.cumsum(work), settings.max_word_pieces, side="right")
        steps, work = steps[: max(kept, 1)], work[: max(kept, 1)]
    encoder.keep(np.unique(np.concatenate([step[:, :2].ravel() for step in steps])))
    parameters = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = ("bias", "LayerNorm.bias", "LayerNorm.weight")  # as old_fit
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for n, p in parameters if not any(k in n for k in no_decay)]},
            {
                "params": [p for n, p in parameters if any(k in n for k in no_decay)],
                "weight_decay": 0.0,
            },
        ],
        lr=settings.learning_rate,
        weight_decay=0.01,
    )
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=max(len(steps) // 10, 1), num_training_steps=len(steps)
    )
    model.train()
    encoder.freeze_modes()
    with progress_bar(progress, total=len(steps), desc="fine-tuning", unit="step") as bar:
        for number, step in enumerate(steps):
            distinct, inverse = np.unique(step[:, :2], return_inverse=True)
            embeddings = encoder.embed(distinct)
            inverse = torch.as_tensor(inverse.reshape(-1, 2))
            similarity = torch.cosine_similarity(
                embeddings[inverse[:, 0]], embeddings[inverse[:, 1]]
            )
            labels = torch.as_tensor(step[:, 2], dtype=similarity.dtype)
            loss = torch.nn.functional.mse_loss(similarity, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in parameters], 1.0)
            optimizer.step()
            optimizer.zero_grad()
            schedule.step()
            if number == 0:  # the first step times the rest, by their word pieces
                seconds = time.perf_counter() - started
                estimate = seconds + (seconds - encoder.seconds) * (work[1:].sum() / work[0])
                bar.set_postfix_str(f"about {estimate:.0f} s in all", refresh=False)
            bar.update()


class _Cache:
    """Sentence embeddings of the training texts, step by step, the frozen part run once.

    With ``layers`` set and a BERT-like model (``embeddings``, then layers called as
    ``layer(hidden, additive_mask)``), the embeddings and lower layers run once per text,
    in eval mode and without gradients, and their output is kept as float16 (half the
    memory; its rounding, 2**-11 relative, is far below what dropout changes), each text
    without padding; a step pads its texts' states and runs only the trained layers and
    the pooling. This path is checked once against the model's own forward pass. Without
    ``layers``, for another architecture, or when the states would take more than
    :data:`CACHE_BYTES`, every step runs the whole model on its texts (the frozen part
    without gradients).
    """

    def __init__(self, model, texts, layers):
        started = time.perf_counter()
        self.model, self.texts = model, texts
        self.preprocess = getattr(model, "preprocess", None) or model.tokenize
        self.lengths = np.concatenate(
            [
                self._tokens(range(start, min(start + CHUNK, len(texts))))["attention_mask"]
                .sum(1)
                .numpy()
                for start in range(0, len(texts), CHUNK)
            ]
        )
        self.lower, self.frozen, self.top, self.states = [], [], [], None
        self.bert, self.depth = None, layers
        if layers is None:  # every layer trains
            self.depth = len(_layer_stack(model)[1]) if _has_stack(model) else 1
        else:
            bert = getattr(model[0], "auto_model", None)
            _, stack = _layer_stack(model)
            self.lower = list(stack[: len(stack) - layers])
            embeddings = getattr(bert, "embeddings", None)
            self.frozen = self.lower + ([embeddings] if embeddings is not None else [])
            self.top = list(stack[len(stack) - layers :])
            if embeddings is not None and getattr(bert.config, "hidden_size", 0):
                self.bert = bert
        self.seconds = time.perf_counter() - started

    def keep(self, indices):
        """Run the frozen part once on texts ``indices`` (those training uses), if it fits."""
        import torch

        started = time.perf_counter()
        if self.bert is None:
            return
        size = int(self.lengths[indices].sum()) * self.bert.config.hidden_size * 2  # float16
        if size <= CACHE_BYTES:
            with torch.no_grad():
                self._cache(indices)
        self.seconds += time.perf_counter() - started

    def _tokens(self, indices):
        return self.preprocess([self.texts[i] for i in indices])

    def _cache(self, indices):
        """Run the frozen part once per text; keep it unless it disagrees with the model."""
        import torch

        model, bert = self.model, self.bert
        model.eval()
        order = indices[np.argsort(self.lengths[indices], kind="stable")]  # little padding
        states = [None] * len(self.texts)
        for start in range(0, len(order), CHUNK):
            chunk = order[start : start + CHUNK]
            tokens = self._tokens(chunk)
            inputs = {"input_ids": tokens["input_ids"]}
            if "token_type_ids" in tokens:
                inputs["token_type_ids"] = tokens["token_type_ids"]
            hidden = bert.embeddings(**inputs)
            mask = _additive(tokens["attention_mask"], hidden.dtype)
            for layer in self.lower:
                hidden = _output(layer(hidden, mask))
            for row, index in enumerate(chunk):
                states[index] = hidden[row, : self.lengths[index]].to(torch.float16)
        self.states = states
        check = order[[0, -1]]  # the shortest and the longest: padding matters
        own = model(self._tokens(check))["sentence_embedding"]
        if not torch.allclose(self._pooled(check), own, atol=1e-2):
            self.states = None  # this architecture's layers need more than (hidden, mask)

    def freeze_modes(self):
        """Eval mode (no dropout) for the frozen modules; the model is in train mode."""
        for module in self.frozen:
            module.eval()

    def work(self, indices):
        """Word pieces x trained layers of a step on texts ``indices``: its time."""
        return len(indices) * int(self.lengths[indices].max()) * self.depth

    def embed(self, indices):
        """Sentence embeddings (with gradients) of texts ``indices``."""
        if self.states is None:
            return self.model(self._tokens(indices))["sentence_embedding"]
        return self._pooled(indices)

    def _pooled(self, indices):
        import torch

        width = int(self.lengths[indices].max())
        hidden = torch.zeros(len(indices), width, self.states[indices[0]].shape[1])
        attention = torch.zeros(len(indices), width, dtype=torch.int64)
        for row, index in enumerate(indices):
            hidden[row, : self.lengths[index]] = self.states[index]
            attention[row, : self.lengths[index]] = 1
        mask = _additive(attention, hidden.dtype)
        for layer in self.top:
            hidden = _output(layer(hidden, mask))
        features = {"token_embeddings": hidden, "attention_mask": attention}
        for module in list(self.model)[1:]:  # pooling (and normalising)
            features = module(features)
        return features["sentence_embedding"]


def _additive(attention, dtype):
    """BERT's extended attention mask: 0 where a word piece is, the lowest float where not."""
    import torch

    return (1.0 - attention[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _output(result):
    # transformers 5 returns a layer's hidden states; 4 returned them first in a tuple
    return result[0] if isinstance(result, tuple) else result


def _has_stack(model):
    import torch

    return any(isinstance(m, torch.nn.ModuleList) and len(m) for m in model.modules())


def _layer_stack(model):
    """``(prefix, ModuleList)``: the transformer's layers, its largest module list."""
    import torch

    stacks = [
        (sum(p.numel() for p in module.parameters()), prefix, module)
        for prefix, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module)
    ]
    if not stacks:
        raise ValueError("cannot find the transformer layers of this model: use layers=None")
    _, prefix, stack = max(stacks, key=lambda found: found[0])
    return prefix, stack


def trainable_names(model, layers):
    """Names of the parameters that train: all, or those of the last ``layers`` layers.

    The transformer's layers are its largest ``torch.nn.ModuleList`` (BERT's
    ``encoder.layer``); parameters outside it (embeddings, pooler) stay frozen.
    """
    names = [name for name, _ in model.named_parameters()]
    if layers is None:
        return set(names)
    prefix, stack = _layer_stack(model)
    if layers > len(stack):
        raise ValueError(f"layers={layers} exceeds the model's {len(stack)} transformer layers")
    first = len(stack) - layers
    kept = tuple(f"{prefix}.{index}." for index in range(first, len(stack)))
    return {name for name in names if name.startswith(kept)}


def weights_fingerprint(weights):
    """Hash of fine-tuned weights: names, shapes, dtypes and bytes (32 hex digits)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name])
        digest.update(f"{name}\0{array.shape}\0{array.dtype.str}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def tuned_model(loaded, weights, expected, layers):
    """Return the fine-tuned copy of ``loaded``: ``weights`` put over the base model's.

    Built once per process and weights (:data:`KEPT_MODELS` copies are kept).

    Parameters
    ----------
    loaded : LoadedModel
        The base model.
    weights : dict of str to ndarray
        From :func:`fine_tune`, e.g. read back from a model file.
    expected : str
        Their :func:`weights_fingerprint`, recorded at fit.
    layers : int or None
        The recorded settings' ``layers``: the weights must be exactly the parameters
        that fine-tuning trains (:func:`trainable_names`), with the base model's shapes
        and finite values. A file cannot swap any other part of the base model.

    Returns
    -------
    LoadedModel
        Whose ``fingerprint`` names base and fine-tuned weights, so features cached for
        it never mix with the frozen encoder's.

    Raises
    ------
    ValueError
        If the weights are not the recorded ones, or do not fit the base model.
    """
    with _LOCK:
        found = _TUNED.get((loaded.fingerprint, expected))
        if found is not None:
            _TUNED.move_to_end((loaded.fingerprint, expected))
            return found
    check_weights(weights, expected)
    import torch

    with loaded.lock:
        model = copy.deepcopy(loaded.model)
    _check_fit(model, weights, layers, loaded.fingerprint)
    updated = {name: torch.as_tensor(np.asarray(array)) for name, array in weights.items()}
    model.load_state_dict(updated, strict=False)
    model.eval()
    return _remember(loaded, expected, model)


def _check_fit(model, weights, layers, base):
    """Raise ``ValueError`` unless ``weights`` are what fine-tuning ``layers`` of ``model`` trains."""
    trained = trainable_names(model, layers)
    state = model.state_dict()
    for name in sorted(set(weights) ^ trained):
        problem = "is not one" if name in weights else "is missing, though it is one"
        raise ValueError(
            f"the fine-tuned encoder weight {name!r} {problem} that fine-tuning "
            f"layers={layers} of the base model (fingerprint {base}) trains; the model "
            "file was altered, refit"
        )
    for name in sorted(weights):
        array = weights[name]
        if tuple(state[name].shape) != array.shape:
            raise ValueError(
                f"the fine-tuned encoder weight {name!r} has shape {array.shape}, not the "
                f"base model's {tuple(state[name].shape)}; the model file was altered, refit"
            )
        if not np.isfinite(array).all():
            raise ValueError(
                f"the fine-tuned encoder weight {name!r} holds NaN or infinite values; the "
                "model file was altered, refit"
            )


def check_weights(weights, expected):
    """Raise ``ValueError`` unless ``weights`` are float32 arrays with fingerprint ``expected``."""
    arrays = isinstance(weights, dict) and all(
        isinstance(name, str) and isinstance(a, np.ndarray) and a.dtype == np.float32
        for name, a in weights.items()
    )
    if not arrays or weights_fingerprint(weights) != expected:
        raise ValueError(
            "the fine-tuned encoder weights do not match their recorded fingerprint: the "
            "model file was altered; refit"
        )


def _remember(loaded, found, model):
    tuned = dataclasses.replace(
        loaded, model=model, fingerprint=f"{loaded.fingerprint}+{found}", lock=threading.Lock()
    )
    with _LOCK:
        _TUNED[(loaded.fingerprint, found)] = tuned
        while len(_TUNED) > KEPT_MODELS:
            _TUNED.popitem(last=False)
    return tuned
