"""Where :class:`SourceBlocks` lived before :mod:`lightxfer.source_models`.

Model files saved then name ``lightxfer.source_blocks.SourceBlocks``; this name keeps
them loading (``lightxfer.load`` trusts it as a class lightxfer defines).
"""

from lightxfer.source_models.blocks import SourceBlocks

__all__ = ["SourceBlocks"]
