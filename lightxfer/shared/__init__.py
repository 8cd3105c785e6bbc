"""The shared layer: tokenisation, pooling and the frozen embedding transformer."""
