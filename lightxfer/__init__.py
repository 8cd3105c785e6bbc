"""lightxfer: transfer learning for text with frozen pretrained word vectors and scikit-learn.

The exports are imported on first use (PEP 562): ``import lightxfer`` alone imports
neither scikit-learn nor gensim nor torch, and ``from lightxfer import X`` imports only
what ``X`` needs.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from lightxfer._version import __version__ as __version__

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from lightxfer import distributed
    from lightxfer.abstain import predict_or_abstain
    from lightxfer.calibration import CalibratedHead
    from lightxfer.classifier import make_classifier, make_head
    from lightxfer.evaluation import evaluate_transfer, plot_transfer
    from lightxfer.frozen import FrozenHiddenLayers
    from lightxfer.labelling.label_issues import label_issues
    from lightxfer.labelling.learning_curve import learning_curve, plot_learning_curve
    from lightxfer.labelling.suggestions import suggest
    from lightxfer.persistence import load, save
    from lightxfer.recommended import HybridVectorizer
    from lightxfer.scoring import evaluate, plot_reliability
    from lightxfer.shared.conv import ConvLayer
    from lightxfer.shared.conv_filters import ConvFilters
    from lightxfer.shared.conv_training import train_conv_filters
    from lightxfer.shared.encoder import SentenceEncoder
    from lightxfer.shared.vectorizer import EmbeddingVectorizer
    from lightxfer.source_models.blocks import SourceBlocks
    from lightxfer.source_models.shipped import load_source, sources
    from lightxfer.transferring import FineTunedMLPClassifier, transfer
    from lightxfer.vectors import (
        DEFAULT_VECTORS,
        VectorsRef,
        cache_path,
        fingerprint,
        load_vectors,
    )

#: Exported name -> the module that defines it (a module name for a submodule).
_EXPORTS = {
    "ConvFilters": "lightxfer.shared.conv_filters",
    "ConvLayer": "lightxfer.shared.conv",
    "CalibratedHead": "lightxfer.calibration",
    "DEFAULT_VECTORS": "lightxfer.vectors",
    "EmbeddingVectorizer": "lightxfer.shared.vectorizer",
    "FineTunedMLPClassifier": "lightxfer.transferring",
    "FrozenHiddenLayers": "lightxfer.frozen",
    "HybridVectorizer": "lightxfer.recommended",
    "SentenceEncoder": "lightxfer.shared.encoder",
    "SourceBlocks": "lightxfer.source_models.blocks",
    "VectorsRef": "lightxfer.vectors",
    "cache_path": "lightxfer.vectors",
    "distributed": "lightxfer.distributed",
    "evaluate": "lightxfer.scoring",
    "evaluate_transfer": "lightxfer.evaluation",
    "fingerprint": "lightxfer.vectors",
    "label_issues": "lightxfer.labelling.label_issues",
    "learning_curve": "lightxfer.labelling.learning_curve",
    "load": "lightxfer.persistence",
    "load_source": "lightxfer.source_models.shipped",
    "load_vectors": "lightxfer.vectors",
    "make_classifier": "lightxfer.classifier",
    "make_head": "lightxfer.classifier",
    "plot_learning_curve": "lightxfer.labelling.learning_curve",
    "plot_reliability": "lightxfer.scoring",
    "plot_transfer": "lightxfer.evaluation",
    "predict_or_abstain": "lightxfer.abstain",
    "save": "lightxfer.persistence",
    "sources": "lightxfer.source_models.shipped",
    "suggest": "lightxfer.labelling.suggestions",
    "train_conv_filters": "lightxfer.shared.conv_training",
    "transfer": "lightxfer.transferring",
}

__all__ = [
    "ConvFilters",
    "ConvLayer",
    "CalibratedHead",
    "DEFAULT_VECTORS",
    "EmbeddingVectorizer",
    "FineTunedMLPClassifier",
    "FrozenHiddenLayers",
    "HybridVectorizer",
    "SentenceEncoder",
    "SourceBlocks",
    "VectorsRef",
    "cache_path",
    "distributed",
    "evaluate",
    "evaluate_transfer",
    "fingerprint",
    "label_issues",
    "learning_curve",
    "load",
    "load_source",
    "load_vectors",
    "make_classifier",
    "make_head",
    "plot_learning_curve",
    "plot_reliability",
    "plot_transfer",
    "predict_or_abstain",
    "save",
    "sources",
    "suggest",
    "train_conv_filters",
    "transfer",
]


def __getattr__(name):
    """Import an export on first use and keep it (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lightxfer' has no attribute {name!r}")
    module = import_module(_EXPORTS[name])
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
