"""lightxfer: transfer learning for text with frozen pretrained word vectors and scikit-learn."""

from lightxfer.classifier import make_classifier, make_head
from lightxfer.persistence import load, save
from lightxfer.shared.vectorizer import EmbeddingVectorizer
from lightxfer.vectors import DEFAULT_VECTORS, VectorsRef, fingerprint, load_vectors

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_VECTORS",
    "EmbeddingVectorizer",
    "VectorsRef",
    "fingerprint",
    "load",
    "load_vectors",
    "make_classifier",
    "make_head",
    "save",
]
