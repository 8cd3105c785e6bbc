"""The shared layer's weights: loading, caching and identifying pretrained word vectors."""

from lightxfer.vectors.loading import DEFAULT_VECTORS, cache_path, load_vectors
from lightxfer.vectors.registry import VectorsRef, fingerprint

__all__ = ["DEFAULT_VECTORS", "VectorsRef", "cache_path", "fingerprint", "load_vectors"]
