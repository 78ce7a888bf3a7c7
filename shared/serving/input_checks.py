"""scikit-learn's question "is this input a data frame?", answered at once where it cannot be.

scikit-learn 1.9 asks it in every ``check_array`` (and ``_num_samples``) through
``sklearn.utils.validation._nw_into_df_or_series``, which asks narwhals. Narwhals looks the
class up with ``inspect.getattr_static`` over its whole hierarchy, so for a SciPy sparse
matrix (ten classes) one question costs about 50 microseconds. A fitted text pipeline's steps
hand each other sparse matrices and NumPy arrays, and one prediction asks about twenty
times: in a one-text ``predict_proba`` of the built-in sentiment model, about 1 ms of 3 ms (an
alternating A/B in one process: 3.0 against 2.05 ms a text, 6.6 against 5.1 ms for 32 texts).

:func:`install` puts :func:`_not_a_frame_first` in that function's place: for an input of one
of the exact types in :data:`NEVER_FRAMES` it answers False at once, which is narwhals'
answer for them (``tests/serving/test_input_checks.py`` asks narwhals); any other input goes
to narwhals as before. So it changes no answer, only when it comes. The predictor installs it
once per process when it loads a model. With a scikit-learn that has no such function it
does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn.utils.validation as validation

#: the exact types (not their subclasses) that are neither a data frame nor a series
NEVER_FRAMES: frozenset[type] = frozenset({
    np.ndarray, list, tuple,
    sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array, sp.coo_array,
})

_ASK = "_nw_into_df_or_series"  # scikit-learn's name for the question


def _not_a_frame_first(ask: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``ask``, answered False at once for the types of :data:`NEVER_FRAMES`."""

    def not_a_frame_first(x: Any) -> bool:
        return False if type(x) in NEVER_FRAMES else ask(x)

    not_a_frame_first.asks = ask  # type: ignore[attr-defined]  # the original, for tests
    return not_a_frame_first


def install() -> bool:
    """Answer the question at once for :data:`NEVER_FRAMES` in this process (once; later calls
    do nothing). Returns whether scikit-learn asks it here at all."""
    ask = getattr(validation, _ASK, None)
    if ask is None:
        return False
    if not hasattr(ask, "asks"):
        setattr(validation, _ASK, _not_a_frame_first(ask))
    return True
