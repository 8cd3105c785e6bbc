"""Models trained on source tasks: the shipped ones, reusing them, training them.

The public names (:func:`lightxfer.sources`, :func:`lightxfer.load_source`,
:class:`lightxfer.SourceBlocks`) are re-exported by the package root.
"""
