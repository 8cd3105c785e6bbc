"""The paired test behind the verdict: two models scored on the same repeated k-fold splits.

Cross-validation uses every labelled text as a test text, but its folds are not
independent samples: any two training sets share most of their texts, so the spread of
the per-fold differences understates how much the difference would change on new data,
and a plain paired t-test over the folds calls too many differences real. Nadeau and
Bengio (2003, "Inference for the generalization error") correct the variance of the mean
of ``J`` resampled differences from ``sigma^2 / J`` to ``(1 / J + n_test / n_train)
sigma^2``; Bouckaert and Frank (2004, "Evaluating the replicability of significance
tests for comparing learning algorithms") applied that correction to all ``r x k``
differences of ``r`` repeats of ``k``-fold cross-validation and found it the test whose
verdicts were both closest to its nominal error rate and most replicable across repeats.
That is what :func:`corrected_test` computes, with ``J - 1`` degrees of freedom.
"""

import numpy as np
from scipy.stats import t as student_t

#: Two-sided level of the test: a difference is called real when a difference of zero
#: would give one as large less than 5% of the time.
ALPHA = 0.05


def corrected_test(differences, test_train_ratio, alpha=ALPHA):
    """Return ``(standard error, smallest detectable difference)`` of the mean difference.

    Parameters
    ----------
    differences : array-like of float
        One score difference per fold and repeat (``r x k`` values), both models trained
        on the same texts and scored on the same test fold.
    test_train_ratio : float
        Test texts per fold over training texts per fit (``n_test / n_train``); the larger
        the training sets relative to the test folds, the more they overlap.
    alpha : float, default=0.05
        Two-sided level.

    Returns
    -------
    se : float
        The corrected standard error of the mean difference (``inf`` with fewer than two
        differences).
    detectable : float
        The smallest mean difference the test calls real: the ``1 - alpha / 2`` quantile
        of Student's t with ``J - 1`` degrees of freedom times ``se``.

    Examples
    --------
    >>> se, detectable = corrected_test([0.1, 0.0, 0.2, 0.1, 0.1, 0.0], test_train_ratio=0.5)
    >>> round(se, 3), round(detectable, 3)
    (0.061, 0.158)
    """
    differences = np.asarray(differences, dtype=float)
    n = len(differences)
    if n < 2:
        return np.inf, np.inf
    se = float(np.sqrt((1 / n + test_train_ratio) * differences.var(ddof=1)))
    return se, float(student_t.ppf(1 - alpha / 2, n - 1) * se)
