"""Mapping the labels of a user's own file to the task's labels.

A user's file may say ``good``/``bad``, ``1``/``0`` or ``spam``/``ok``; the
task says ``positive``/``negative`` or ``spam``/``ham``. The user names the
value that means the positive class (``positive_label``); the rule for the
rest is in :func:`map_labels`, and :func:`check_usable_labels` refuses a file
in which no row could ever be kept because of its labels. A column of 0 and 1
(or -1 and 1) needs no name: 1 is the positive class, as scikit-learn reads
such labels (``pos_label=1``), and the run says so (:func:`inferred_positive`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from shared.core.problem import ProblemSpec
from shared.core.records import DataSourceError, preview
from shared.core.text_rules import is_missing


def map_labels(
    labels: pd.Series,
    positive_label: str,
    spec: ProblemSpec,
    path: str | os.PathLike[str] = "file",
    label_column: str = "label",
) -> tuple[pd.Series, dict[str, str]]:
    """Map the user's label values to the task's labels (the rule is in ``shared.data.userfile.load_file``).

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


#: label columns read without ``positive_label``: their values, 1 the positive class
CONVENTIONAL_VALUES = ({"0", "1"}, {"-1", "1"})


def inferred_positive(labels: Iterable[object], spec: ProblemSpec,
                      path: str | os.PathLike[str] = "file", label_column: str = "label",
                      first_part: bool = False) -> str | None:
    """``"1"`` when the (non-empty) values of ``labels`` are 0 and 1, or -1 and 1: the
    positive class is then 1, scikit-learn's ``pos_label`` default, and a warning says so
    and how to say otherwise. None for any other values (the task's own labels among them).
    ``first_part``: ``labels`` is the first chunk of a stream, which may hold one of the two
    values only (:class:`StreamingLabelMap` checks the whole column at the end)."""
    values = {key for key in map(_label_key, labels) if key is not None}
    if not any(values == pair or (first_part and values and values < pair)
               for pair in CONVENTIONAL_VALUES):
        return None
    other = "-1" if "-1" in values else "0"
    warnings.warn(
        f"{path}: column {label_column!r} holds {other} and 1, read as {spec.negative_label!r} "
        f"and {spec.positive_label!r} (1 the positive class, as scikit-learn reads such labels); "
        f"pass positive_label={other} if {other} means {spec.positive_label!r}", stacklevel=2)
    return "1"


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


#: distinct label values a streaming mapping remembers to name them in its error
MAX_REMEMBERED = 50


class StreamingLabelMap:
    """A binary label mapping applied chunk by chunk, checked once the last chunk is seen.

    Out of core the whole label column is never in memory, so the rule of
    :func:`map_labels` (a sole other value becomes the negative label) cannot be
    decided first. Instead, while streaming, the value equal to
    ``positive_label`` becomes the task's positive label and every other
    non-empty value the negative label, provisionally; the distinct values seen
    are counted, and :meth:`finish` refuses the data set unless there were
    exactly two, so a provisional mapping is never kept when it was wrong.
    Missing and empty labels are left as they are (validation quarantines them).
    """

    def __init__(self, positive_label: str, spec: ProblemSpec,
                 path: str | os.PathLike[str] = "file", label_column: str = "label",
                 inferred: bool = False) -> None:
        self.positive = str(positive_label).strip()
        self.spec = spec
        self.path = path
        self.label_column = label_column
        #: the positive label was read from the first chunk's 0/1 (:func:`inferred_positive`)
        self.inferred = inferred
        #: distinct stripped values seen -> rows (at most MAX_REMEMBERED + 1 remembered)
        self.seen: dict[str, int] = {}
        self.more = False

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """``chunk`` with its labels mapped provisionally (the values seen are recorded)."""
        keys = chunk["label"].map(_label_key)
        for value, rows in keys.value_counts().items():
            if value in self.seen or len(self.seen) <= MAX_REMEMBERED:
                self.seen[value] = self.seen.get(value, 0) + int(rows)
            else:
                self.more = True
        positive, negative = self.spec.positive_label, self.spec.negative_label
        mapped = [value if is_missing(key) else positive if key == self.positive else negative
                  for key, value in zip(keys, chunk["label"], strict=True)]  # missing: as read
        return chunk.assign(label=pd.Series(mapped, index=chunk.index, dtype=object))

    def finish(self) -> dict[str, str]:
        """The mapping used (user value -> task label); DataSourceError unless it was binary."""
        values = sorted(self.seen)
        shown = preview([f"{v} ({self.seen[v]:,} rows)" for v in values]) + \
            (" and more" if self.more else "")
        if self.inferred and (self.more or set(values) not in CONVENTIONAL_VALUES):
            raise DataSourceError(
                f"{self.path}: column {self.label_column!r} began with 0/1 labels, read with 1 "
                f"as {self.spec.positive_label!r}, but its values are {shown}. Pass "
                f"positive_label=<the value that means {self.spec.positive_label!r}>.")
        where = f"{self.path}: with positive_label={self.positive!r}, column {self.label_column!r}"
        if self.positive not in self.seen:
            raise DataSourceError(
                f"{where} never holds {self.positive!r}; its values are {shown}. Pass the value "
                "that marks the positive class exactly as it is written.")
        others = [v for v in values if v != self.positive]
        if len(others) != 1 or self.more:
            why = ("has no other value, and a classifier needs examples of both classes"
                   if not others else
                   f"holds {len(values)}{'+' if self.more else ''} distinct values ({shown}), not two")
            raise DataSourceError(
                f"{where} {why}. The out-of-core engine maps labels while streaming, so it needs "
                f"exactly two values: {self.positive!r} and one that means "
                f"{self.spec.negative_label!r}. Fix the label column (or drop the rows of the "
                "other values), or use -p engine memory, which quarantines rows of other values "
                "as 'unknown label'.")
        return {self.positive: self.spec.positive_label, others[0]: self.spec.negative_label}
