"""scikit-learn's question "is this input a data frame?", answered at once where it cannot be.

scikit-learn 1.9 asks it in every ``check_array`` (and in ``_num_samples`` for inputs without
a shape) through ``sklearn.utils.validation._nw_into_df_or_series``, which asks narwhals.
Narwhals looks the input up with ``inspect.getattr_static`` over its class hierarchy, so for a
SciPy sparse matrix (ten classes) one question costs about 50 microseconds. A fitted text
pipeline's steps hand each other sparse matrices and NumPy arrays, and one prediction asks
about twenty times: in a one-text ``predict_proba`` of the built-in sentiment model, about
1 ms of 3 ms (an alternating A/B in one process: 3.0 against 2.05 ms a text, 6.6 against
5.1 ms for 32 texts). scikit-learn's ``validate_data`` asks narwhals once more on its own
(for feature names); that question is left as it is.

:func:`install` puts a stand-in in that function's place: for an input whose exact type is in
:data:`NEVER_FRAMES` it answers False at once; any other input, subclasses included, goes to
narwhals as before. False is narwhals' answer for those types unless a narwhals plugin claims
NumPy, SciPy or built-in types, or an instance carries narwhals' own ``__narwhals_*__``
methods: :func:`install` asks narwhals about one input of each type first and installs
nothing if any answer is True (``tests/serving/test_input_checks.py``). A predictor installs it
when it is made (Dask workers, which unpickle one, keep scikit-learn's). With a scikit-learn
that has no such function it does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn.utils.validation as validation

#: the exact types (not their subclasses) answered at once: not a data frame, not a series
NEVER_FRAMES: frozenset[type] = frozenset({
    np.ndarray, list, tuple,
    sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array, sp.coo_array,
})

_ASK = "_nw_into_df_or_series"  # scikit-learn's name for the question
_MARK = "_answered_at_once_for"  # set on the stand-in: the function it stands in for


def one_of_each() -> list[Any]:
    """One small input of each type of :data:`NEVER_FRAMES`."""
    dense = np.zeros((1, 2))
    made: list[Any] = [dense, [0.0], (0.0,)]
    made += [kind(dense) for kind in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
                                      sp.csr_array, sp.csc_array, sp.coo_array)]
    return made


def _with_array_shortcut(ask: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``ask``, answered False at once for inputs whose exact type is in :data:`NEVER_FRAMES`."""

    @functools.wraps(ask)
    def stand_in(x: Any) -> bool:
        return False if type(x) in NEVER_FRAMES else ask(x)

    setattr(stand_in, _MARK, ask)
    return stand_in


def install() -> bool:
    """Put the stand-in in place in this process, once (later calls keep it). Returns whether
    it is in place: False with a scikit-learn that does not ask, or when narwhals answers
    True for one of :data:`NEVER_FRAMES` (a plugin claims it), so that nothing changes."""
    ask = getattr(validation, _ASK, None)
    if ask is None:
        return False
    if hasattr(ask, _MARK):
        return True
    if any(ask(x) for x in one_of_each()):
        return False
    setattr(validation, _ASK, _with_array_shortcut(ask))
    return True
