"""``transfer``: a new target-task pipeline from a fitted source pipeline's frozen layers."""

import contextlib
import copy

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from lightxfer import frozen
from lightxfer.abstain import AbstainingPipeline
from lightxfer.calibration import CalibratedHead
from lightxfer.classifier import make_head
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.source_models.blocks import SourceBlocks
from lightxfer.source_models.shipped import NAMES, load_source

#: ``transfer(ALL_SOURCES)``: every shipped source at once.
ALL_SOURCES = "all"

FREEZE = ("auto", "hidden", "embedding")


class FineTunedMLPClassifier(MLPClassifier):
    """An ``MLPClassifier`` whose hidden layers start from given weights.

    The output layer is new (drawn as usual, sized for the target's labels), so the
    label set may differ from the source's; every layer then keeps training, by default
    with early stopping on a held-out tenth of the data.

    Parameters
    ----------
    init_coefs, init_intercepts : sequence of ndarray, optional
        Starting weights and biases of the hidden layers. ``None`` trains from a random
        start, like ``MLPClassifier``.
    hidden_layer_sizes : tuple of int, optional
        Ignored when ``init_coefs`` is given (the weights' shapes decide); otherwise
        defaults to ``(100,)``.
    **params
        Every other ``MLPClassifier`` parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> X = np.random.RandomState(0).normal(size=(60, 4))
    >>> source = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, X[:, 0] > 0)
    >>> target = FineTunedMLPClassifier(source.coefs_[:-1], source.intercepts_[:-1],
    ...                                 max_iter=50, random_state=0)
    >>> target.fit(X, np.array(["a", "b", "c"])[np.arange(60) % 3]).coefs_[-1].shape
    (8, 3)
    """

    _parameter_constraints = {
        **MLPClassifier._parameter_constraints,
        "hidden_layer_sizes": [*MLPClassifier._parameter_constraints["hidden_layer_sizes"], None],
        "init_coefs": ["array-like", None],
        "init_intercepts": ["array-like", None],
    }

    def __init__(
        self,
        init_coefs=None,
        init_intercepts=None,
        *,
        hidden_layer_sizes=None,
        activation="relu",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )
        self.init_coefs = init_coefs
        self.init_intercepts = init_intercepts

    def fit(self, X, y, sample_weight=None):
        """Fit from the initial hidden weights; see ``MLPClassifier.fit``."""
        with self._resolved(y, few_shot_validation=self.early_stopping):
            return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over ``X``, the first from the initial weights; see ``MLPClassifier``."""
        with self._resolved(y, few_shot_validation=False):
            return super().partial_fit(X, y, sample_weight=sample_weight, classes=classes)

    @contextlib.contextmanager
    def _resolved(self, y, few_shot_validation):
        # MLPClassifier reads its parameters from self while fitting: set the values that
        # follow from the data for the duration of the fit only, so fit never changes them.
        saved = {
            "hidden_layer_sizes": self.hidden_layer_sizes,
            "validation_fraction": self.validation_fraction,
        }
        sizes = self._init_sizes()
        if sizes is not None:
            self.hidden_layer_sizes = sizes
        elif self.hidden_layer_sizes is None:
            self.hidden_layer_sizes = (100,)
        if few_shot_validation:
            # A stratified validation split needs one example per class; with few-shot
            # targets 10% can be smaller than that.
            n, k = len(y), len(np.unique(y))
            self.validation_fraction = max(self.validation_fraction, min(k / n, 0.5))
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def _init_sizes(self):
        if self.init_coefs is None:
            return None
        return tuple(int(np.shape(c)[1]) for c in self.init_coefs)

    def _initialize(self, y, layer_units, dtype):
        super()._initialize(y, layer_units, dtype)
        if self.init_coefs is None:
            return
        if np.shape(self.init_coefs[0])[0] != layer_units[0]:
            raise ValueError(
                f"X has {layer_units[0]} features, but the initial weights expect "
                f"{np.shape(self.init_coefs[0])[0]}"
            )
        hidden = len(self.init_coefs)
        self.coefs_[:hidden] = [np.array(c, dtype=dtype) for c in self.init_coefs]
        self.intercepts_[:hidden] = [np.array(b, dtype=dtype) for b in self.init_intercepts]
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]


def resolve_source(source_model):
    """A shipped source's name as its fitted pipeline; anything else (``"all"``) as it is."""
    if isinstance(source_model, str) and not is_all_sources(source_model):
        return load_source(source_model)
    return source_model


def is_all_sources(source_model):
    """Tell whether ``source_model`` is :data:`ALL_SOURCES` (every shipped source)."""
    return isinstance(source_model, str) and source_model.strip().lower() == ALL_SOURCES


def all_sources_pipeline(*, head="logreg", freeze="auto", fine_tune=False, **head_params):
    """The target pipeline of ``transfer("all")``: every shipped source at once.

    The default encoder's features side by side with the frozen hidden layers of every
    shipped source (:class:`lightxfer.SourceBlocks` at weight 1, each block scaled by its
    norm on the training texts), and a new head: logistic regression on [encoder, five
    hidden layers]. With ``freeze="embedding"``, the encoder alone. A shipped source
    trained on the target's own texts (e.g. SST-2 for an SST-5 target) makes this look
    better than it will be on new texts: name the sources with
    ``make_classifier(encoder=..., sources=[...])`` to leave it out.
    """
    if fine_tune:
        raise ValueError("fine_tune continues training one source MLP: name one source, not 'all'")
    if freeze == "embedding":
        return AbstainingPipeline(
            [("embedding", SentenceEncoder()), ("head", make_head(head, **head_params))]
        )
    blocks = SourceBlocks(SentenceEncoder(), sources=list(NAMES), weight=1.0)
    return AbstainingPipeline([("embedding", blocks), ("head", make_head(head, **head_params))])


def split_source(source_model):
    """Return ``(shared prefix, final classifier)`` of a fitted source pipeline.

    Parameters
    ----------
    source_model : fitted Pipeline or search (``GridSearchCV``) over one
        Its last step must be a classifier; the steps before it are the shared layers.

    Returns
    -------
    prefix : Pipeline
        The fitted steps before the classifier.
    classifier : estimator
        The fitted classifier.
    """
    model = getattr(source_model, "best_estimator_", source_model)
    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        raise TypeError(
            "source_model must be a fitted Pipeline of shared layers followed by a classifier "
            f"(e.g. from lightxfer.make_classifier), got {type(model).__name__}"
        )
    classifier = model.steps[-1][1]
    if isinstance(classifier, CalibratedHead) and hasattr(classifier, "estimator_"):
        classifier = classifier.estimator_  # its layers and settings are the wrapped head's
    if not is_classifier(classifier):
        raise TypeError(
            f"the last step of source_model must be a classifier, got {type(classifier).__name__}"
        )
    unfitted = "source_model is not fitted (its %(name)s is not): fit it on the source task first"
    check_is_fitted(classifier, msg=unfitted)
    prefix = model[:-1]
    check_is_fitted(prefix.steps[-1][1], msg=unfitted)
    return prefix, classifier


def transfer(source_model, *, head="logreg", freeze="auto", fine_tune=False, **head_params):
    """Build an unfitted target-task pipeline on the frozen layers of a fitted source.

    What is shared and what is refit:

    - the **shared prefix** (every step before the source's classifier, e.g. the frozen
      vectors with their fitted pooling state, or the recommended model's
      ``HybridVectorizer``) is always reused as it was fitted on the source, frozen;
    - with ``freeze="hidden"`` the source MLP's **hidden layers** are reused too, frozen;
    - the **head** is always new and fitted on the target, so the target's labels may
      differ from the source's.

    For the recommended model (``make_classifier()``) the frozen prefix keeps the vectors,
    their scale, and the n-gram vocabulary, IDF weights and block weights learned on the
    plentiful source texts; only the softmax head is refit on the target.

    Parameters
    ----------
    source_model : fitted Pipeline, search (``GridSearchCV``) over one, or str
        Shared layers (any fitted transformers) followed by a classifier, e.g.
        ``make_classifier()`` fitted on the source task; or the name of a source that
        ships with lightxfer (``"sst2"``, ``"sentiment"``...; see
        :func:`lightxfer.sources`), used as that fitted source
        (:func:`lightxfer.source_models.shipped.load_source`); ``"all"``: every shipped source
        at once (:func:`all_sources_pipeline`).
    head : {"logreg", "mlp"} or classifier, default="logreg"
        The new task-specific layer (see :func:`lightxfer.make_head`). On the shared
        prefix of a source whose head is a ``LogisticRegression``, ``"logreg"`` is an
        unfitted copy of that head (same solver and C, for which the prefix's features
        were scaled). Ignored with ``fine_tune=True``, where the head is the source
        MLP's architecture.
    freeze : {"auto", "hidden", "embedding"}, default="auto"
        ``"embedding"`` reuses the shared prefix; ``"hidden"`` also reuses the source
        MLP's hidden layers as a fixed feature extractor (the source must end in an
        ``MLPClassifier``); ``"auto"`` is ``"hidden"`` when the source ends in an
        ``MLPClassifier`` and ``"embedding"`` otherwise. :func:`reused_layers` says which.
    fine_tune : bool, default=False
        Instead of freezing the hidden layers, start a new MLP from the source's hidden
        weights (output layer replaced to fit the target's labels) and keep training all
        of them with early stopping. The shared prefix stays frozen. Needs a source
        ending in an ``MLPClassifier``.
    **head_params
        Passed to the new head (or to the fine-tuned MLP).

    Returns
    -------
    lightxfer.abstain.AbstainingPipeline
        A scikit-learn ``Pipeline`` whose ``predict`` takes ``min_confidence``.
        Steps ``"embedding"`` (the frozen prefix), ``"hidden"`` (frozen, when the hidden
        layers are reused) and ``"head"`` (unfitted). Fitting it on target data fits only
        the head (and, with ``fine_tune=True``, the hidden layers of the new MLP).

    Raises
    ------
    SourceMismatchError
        ``freeze="hidden"`` or ``fine_tune=True`` on a source without hidden layers.

    Examples
    --------
    >>> from lightxfer import make_classifier
    >>> texts = ["a good film", "a bad film", "great fun", "dull and bad"] * 5
    >>> labels = ["pos", "neg", "pos", "neg"] * 5
    >>> source = make_classifier(head="mlp", hidden_layer_sizes=(16,), max_iter=20)
    >>> target = transfer(source.fit(texts, labels), C=10)
    >>> [name for name, _ in target.steps]
    ['embedding', 'hidden', 'head']
    >>> target.fit(["rain today", "sunny skies", "more rain", "sun again"],
    ...            ["wet", "dry", "wet", "dry"]).classes_.tolist()
    ['dry', 'wet']
    >>> recommended = transfer(make_classifier().fit(texts, labels))
    >>> reused_layers(recommended)
    'the frozen shared layers (HybridVectorizer)'
    """
    if is_all_sources(source_model):
        return all_sources_pipeline(head=head, freeze=freeze, fine_tune=fine_tune, **head_params)
    prefix, classifier = split_source(resolve_source(source_model))
    # ``freeze`` names what to freeze; the function that wraps an estimator frozen is
    # frozen.freeze, which the parameter would hide.
    reused = resolve_freeze(classifier, freeze, fine_tune)
    # A private copy of the shared layers: refitting the source later must not change
    # a transferred model. Vectors are copied by reference, so this is cheap.
    embedding = freeze_prefix(prefix)
    if fine_tune:
        return AbstainingPipeline(
            [("embedding", embedding), ("head", fine_tuned_head(classifier, **head_params))]
        )
    if reused == "embedding":
        return AbstainingPipeline(
            [("embedding", embedding), ("head", new_head(head, classifier, head_params))]
        )
    return AbstainingPipeline(
        [
            ("embedding", embedding),
            ("hidden", FrozenHiddenLayers.from_mlp(classifier)),
            ("head", make_head(head, **head_params)),
        ]
    )


class SourceMismatchError(ValueError):
    """A transfer option needs hidden layers that the source model does not have.

    ``describe(spell)`` words the message for another interface, e.g. command-line flags.
    """

    def __init__(self, option, found):
        self.option, self.found = option, found
        super().__init__(self.describe(python_spelling))

    def describe(self, spell):
        """The message, with options written by ``spell(name, value)``."""
        option = spell(*self.option)
        if self.option[0] == "fine_tune":
            fix = f"leave out {option}"
        else:
            fix = f"use {spell('freeze', 'auto')} (the default) or {spell('freeze', 'embedding')}"
        return (
            f"{option} needs a source ending in an MLPClassifier (hidden layers to reuse), "
            f"but it ends in {self.found}: {fix}"
        )


def python_spelling(name, value):
    """``name=value`` as a Python keyword argument."""
    return f"{name}={value!r}"


def resolve_freeze(classifier, freeze="auto", fine_tune=False):
    """Return ``"hidden"`` or ``"embedding"``: what ``freeze`` means for this source head.

    Parameters
    ----------
    classifier : fitted classifier
        The last step of the source model.
    freeze : {"auto", "hidden", "embedding"}
    fine_tune : bool

    Returns
    -------
    str
    """
    if freeze not in FREEZE:
        raise ValueError(f"freeze must be one of {FREEZE}, got {freeze!r}")
    has_hidden = isinstance(classifier, MLPClassifier)
    if not has_hidden and (fine_tune or freeze == "hidden"):
        option = ("fine_tune", True) if fine_tune else ("freeze", "hidden")
        raise SourceMismatchError(option, type(classifier).__name__)
    if freeze == "auto":
        return "hidden" if has_hidden else "embedding"
    return freeze


def reused_layers(model):
    """Say in words which source layers a transferred pipeline reuses.

    Parameters
    ----------
    model : Pipeline
        From :func:`transfer` (fitted or not).

    Returns
    -------
    str
    """
    prefix = model.named_steps["embedding"]
    if isinstance(prefix, SourceBlocks):
        return f"the frozen encoder and the hidden layers of {' + '.join(prefix.sources)}"
    prefix = getattr(prefix, "estimator", prefix)
    names = [type(step).__name__ for _, step in getattr(prefix, "steps", [("", prefix)])]
    shared = f"the frozen shared layers ({' + '.join(names)})"
    if "hidden" in model.named_steps:
        sizes = [np.shape(c)[1] for c in model.named_steps["hidden"].coefs]
        return f"{shared} and the source MLP's hidden layers {tuple(sizes)}, frozen"
    head = model.named_steps["head"]
    if isinstance(head, FineTunedMLPClassifier):
        return f"{shared}, and the source MLP's hidden layers as the start of fine-tuning"
    return shared


def new_head(head, classifier, head_params):
    """The head on a frozen prefix: ``"logreg"`` on a logistic source copies its settings.

    The prefix's features were fitted for the source's head (the recommended model's
    scale encodes its C, and its solver suits its many sparse columns), so an unfitted
    copy of a logistic source head, with ``head_params`` on top, fits them as intended.
    """
    if isinstance(head, str) and head == "logreg" and isinstance(classifier, LogisticRegression):
        return clone(classifier).set_params(**head_params)
    return make_head(head, **head_params)


def freeze_prefix(prefix):
    """Return a frozen private copy of fitted shared layers (a single step is unwrapped)."""
    prefix = copy.deepcopy(prefix)
    return frozen.freeze(prefix.steps[0][1] if len(prefix.steps) == 1 else prefix)


def fine_tuned_head(mlp, **params):
    """Return a :class:`FineTunedMLPClassifier` starting from ``mlp``'s hidden layers."""
    settings = {
        name: value
        for name, value in mlp.get_params(deep=False).items()
        if name not in ("warm_start", "verbose")
    }
    settings.update(early_stopping=True, max_iter=300)
    settings.update(params)
    return FineTunedMLPClassifier(
        init_coefs=[np.array(c) for c in mlp.coefs_[:-1]],
        init_intercepts=[np.array(b) for b in mlp.intercepts_[:-1]],
        **settings,
    )
