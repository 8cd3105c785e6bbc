"""lightxfer: transfer learning for text with frozen pretrained word vectors and scikit-learn."""

from lightxfer import distributed
from lightxfer._version import __version__ as __version__
from lightxfer.classifier import make_classifier, make_head
from lightxfer.evaluation import evaluate_transfer, plot_transfer
from lightxfer.frozen import FrozenHiddenLayers
from lightxfer.persistence import load, save
from lightxfer.recommended import HybridVectorizer
from lightxfer.shared.encoder import SentenceEncoder
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.shipped_sources import load_source, sources
from lightxfer.source_blocks import SourceBlocks
from lightxfer.transferring import FineTunedMLPClassifier, transfer
from lightxfer.vectors import DEFAULT_VECTORS, VectorsRef, cache_path, fingerprint, load_vectors

__all__ = [
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
    "evaluate_transfer",
    "fingerprint",
    "load",
    "load_source",
    "load_vectors",
    "make_classifier",
    "make_head",
    "plot_transfer",
    "save",
    "sources",
    "transfer",
]
