"""The one rule for showing a progress bar, shared by every step that can show one."""

from tqdm import tqdm


def bar_disabled(progress, large=True):
    """Return tqdm's ``disable`` for a ``progress`` parameter.

    Parameters
    ----------
    progress : bool or None
        ``True`` shows the bar, ``False`` hides it; ``None`` shows it on a terminal only
        (tqdm's ``disable=None``), and only for a ``large`` input.
    large : bool, default=True
        Whether the input is long enough for a bar to say something.

    Returns
    -------
    bool or None
    """
    if progress is not None:
        return not progress
    return None if large else True


def progress_bar(progress, *, large=True, **options):
    """Return a tqdm bar shown as :func:`bar_disabled` says; ``options`` go to tqdm."""
    return tqdm(disable=bar_disabled(progress, large), **options)
