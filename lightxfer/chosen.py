"""What a fitted lightxfer model chose at ``fit``: fine-tuning, sources, n-gram weight.

The recommended model decides these on the training data; :func:`choices` gathers the
decisions from the fitted steps (by their fitted attributes, whatever the steps' types)
and :func:`describe` puts them in one line, as ``lightxfer train`` prints it.
"""


def choices(model):
    """Return what ``model``'s fit chose, as a dict (empty for a plain pipeline).

    Parameters
    ----------
    model : fitted Pipeline or shared layer

    Returns
    -------
    dict
        Any of ``"fine_tuned"`` (bool: the encoder was fine-tuned), ``"sources"``
        (dict of each shipped source considered to its weight; 0: left out) and
        ``"ngram_weight"`` (weight of the TF-IDF n-gram block; 0: left out).
    """
    layer = model.steps[0][1] if hasattr(model, "steps") else model
    found = {}
    if hasattr(layer, "ngram_weight_"):
        found["ngram_weight"] = float(layer.ngram_weight_)
        layer = layer.shared_
    if hasattr(layer, "sources_") and hasattr(layer, "weights_"):
        found["sources"] = {
            name: float(weight) for name, weight in zip(layer.sources_, layer.weights_)
        }
        layer = layer.shared_
    if hasattr(layer, "fine_tuned_"):
        found["fine_tuned"] = bool(layer.fine_tuned_)
    return found


def describe(found):
    """One line from :func:`choices`' dict.

    Examples
    --------
    >>> describe({"ngram_weight": 0.0, "sources": {"sst2": 1.0, "trec": 0.0}, "fine_tuned": True})
    'fine-tuned the encoder; sources used: sst2 (left out: trec); no n-grams'
    >>> describe({})
    'nothing to choose: a plain pipeline'
    """
    parts = []
    if "fine_tuned" in found:
        parts.append("fine-tuned the encoder" if found["fine_tuned"] else "frozen encoder")
    if "sources" in found:
        used = [name for name, weight in found["sources"].items() if weight]
        unused = [name for name, weight in found["sources"].items() if not weight]
        if not found["sources"]:
            parts.append("no shipped source matches the shared layer")
        elif used:
            left = f" (left out: {', '.join(unused)})" if unused else ""
            parts.append(f"sources used: {', '.join(used)}{left}")
        else:
            parts.append(f"no source helped on validation ({', '.join(unused)})")
    if "ngram_weight" in found:
        weight = found["ngram_weight"]
        parts.append(f"n-gram weight {weight:g}" if weight else "no n-grams")
    return "; ".join(parts) if parts else "nothing to choose: a plain pipeline"
