"""Labelling: which texts to label next, which labels look wrong, how many are enough.

:func:`lightxfer.suggest`, :func:`lightxfer.label_issues` and
:func:`lightxfer.learning_curve` are exported from the package root.
"""
