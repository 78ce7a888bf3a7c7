"""Mapping the labels of a user's own file to the task's labels.

A user's file may say ``good``/``bad``, ``1``/``0`` or ``spam``/``ok``; the
task says ``positive``/``negative`` or ``spam``/``ham``. The user names the
value that means the positive class (``positive_label``); the rule for the
rest is in :func:`map_labels`, and :func:`check_usable_labels` refuses a file
in which no row could ever be kept because of its labels.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from shared.problem import ProblemSpec
from shared.records import DataSourceError, preview
from shared.text_rules import is_missing


def map_labels(
    labels: pd.Series,
    positive_label: str,
    spec: ProblemSpec,
    path: str | os.PathLike[str] = "file",
    label_column: str = "label",
) -> tuple[pd.Series, dict[str, str]]:
    """Map the user's label values to the task's labels (the rule is in ``shared.userfile.load_file``).

    Returns the new labels and the mapping used (user value -> task label).
    Missing values (None, NaN, empty strings) are left as they are.
    """
    keys = labels.map(_label_key)
    wanted = str(positive_label).strip()
    distinct = sorted(set(keys.dropna()))
    if wanted not in distinct:
        raise DataSourceError(
            f"{path}: positive_label={positive_label!r} does not occur in column "
            f"{label_column!r}; the values there are {preview(distinct)}. "
            "Pass the value that marks the positive class exactly as it is written."
        )
    mapping = {wanted: spec.positive_label}
    others = [value for value in distinct if value != wanted]
    if len(others) == 1:
        mapping[others[0]] = spec.negative_label
    mapped = [
        mapping.get(key, value)
        for key, value in zip(keys, labels, strict=True)
    ]
    return pd.Series(mapped, index=labels.index, dtype=object), mapping


def _label_key(value: object) -> str | None:
    """A label value as the stripped string it is compared by, or None when missing."""
    if is_missing(value):
        return None
    key = str(value).strip()
    return key or None


def check_usable_labels(
    frame: pd.DataFrame,
    spec: ProblemSpec,
    path: Path,
    label_column: str,
    positive_label: str | None,
) -> None:
    """Refuse a file in which no row could ever be kept because of its labels."""
    labels = frame["label"]
    if positive_label is None and not labels.isin(spec.labels).any():
        values = sorted({k for k in labels.map(_label_key) if k is not None})
        hint = (
            f" pass positive_label=<the value that means {spec.positive_label!r}> "
            "to map them"
            if values
            else " fill in the labels"
        )
        raise DataSourceError(
            f"{path}: no row of column {label_column!r} holds a label of task "
            f"{spec.task!r} ({', '.join(spec.labels)}); the values there are "
            f"{preview(values)}. Rename them to {' / '.join(spec.labels)}, or{hint}."
        )
    if positive_label is not None and not (labels == spec.negative_label).any():
        others = sorted(
            {k for k in labels.map(_label_key) if k is not None and k not in spec.labels}
        )
        if not others:
            why = (
                f"column {label_column!r} has no value other than {positive_label!r}, and a "
                "classifier needs examples of both classes"
            )
        else:
            why = (
                f"besides {positive_label!r}, column {label_column!r} has {len(others)} values "
                f"({preview(others)}), and only a sole other value is mapped to "
                f"{spec.negative_label!r}"
            )
        raise DataSourceError(
            f"{path}: with positive_label={positive_label!r}, no row is left for "
            f"{spec.negative_label!r}: {why}. Keep two label values in the file, or "
            f"rename the negative one to {spec.negative_label!r}."
        )
