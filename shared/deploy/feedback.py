"""Feedback as training data: the labels ``POST /feedback`` recorded, read from the
prediction log and judged one by one (untrusted input), for ``shared.run.retrain``.

A label is used only when an API key sent it and the log kept its text; every other label
is quarantined with the first reason that applies (the constants below), and the feedback
texts a training set takes are capped at ``max_feedback_share`` of each split, taken
round-robin over the keys so that one sender cannot crowd out the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shared.core.normalise import redact_contacts
from shared.core.problem import ProblemSpec
from shared.core.text_rules import dedup_key, unscoreable_reason
from shared.deploy import challenger

NO_TEXT = "text not stored (the service ran with --hash-texts)"
NO_KEY = "no API key recorded (sent to a service without keys)"
UNKNOWN_LABEL = "unknown label"
FROZEN = "text of the frozen test set (feedback can never reach it)"
#: stage 2's reason (``shared.data.validation``), so that both quarantines group alike
CONFLICT = "same text with conflicting labels"
OVER_CAP = "over the feedback cap"


def read_feedback(log_path: Path, after_id: int = 0) -> pd.DataFrame:
    """The latest feedback of each prediction (with id above ``after_id``), with the logged
    text: feedback_id, prediction_id, label, feedback_at, api_key_id, text."""
    columns = ["feedback_id", "prediction_id", "label", "feedback_at", "api_key_id", "text"]
    if not Path(log_path).is_file():
        return pd.DataFrame(columns=columns)
    from shared.serving.log_store import connect

    connection = connect(log_path)
    try:
        return pd.read_sql_query(
            "SELECT f.id AS feedback_id, f.prediction_id, f.true_label AS label, "
            "f.created_at AS feedback_at, f.api_key_id, p.text FROM feedback f "
            "JOIN predictions p ON p.prediction_id = f.prediction_id "
            "WHERE f.id = (SELECT MAX(id) FROM feedback WHERE prediction_id = f.prediction_id) "
            "AND f.id > ? ORDER BY f.id", connection, params=(int(after_id),))
    finally:
        connection.close()


@dataclass
class Selection:
    """What :func:`select_feedback` decided: the rows used (with their side of the split),
    the quarantine (with reasons) and the counts."""

    used: pd.DataFrame
    quarantined: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)


def original_labels(frame: pd.DataFrame, spec: ProblemSpec) -> pd.DataFrame:
    """Each text of the original data (by de-duplication key) with the labels its rows
    give: key, labels (a sorted tuple), dataset (the first data set holding it)."""
    labels = frame["label"].map(lambda v: v.strip() if isinstance(v, str) else v)
    usable = frame[labels.isin(spec.labels) & frame["text"].map(lambda t: isinstance(t, str))]
    keyed = usable.assign(key=usable["text"].map(dedup_key), label=labels[usable.index])
    if "dataset" not in keyed.columns:
        keyed = keyed.assign(dataset="original")
    return keyed.groupby("key", sort=False).agg(
        labels=("label", lambda v: tuple(sorted(set(v)))), dataset=("dataset", "first")
    ).reset_index()


def select_feedback(
    feedback: pd.DataFrame, original: pd.DataFrame, frozen_keys: set[str], spec: ProblemSpec,
    original_train_texts: int, frozen_texts: int,
) -> Selection:
    """Judge every feedback label (see the module docstring): which are used, which are
    quarantined and why. ``original`` is :func:`original_labels`'s table;
    ``original_train_texts`` and ``frozen_texts`` size the cap of each side of the split."""
    from shared.data.preparation import hashed_to_test

    rows = feedback.copy()
    rows["reason"] = ""

    def flag(mask: pd.Series, reason: str | pd.Series) -> None:
        mask = mask & (rows["reason"] == "")
        rows.loc[mask, "reason"] = reason[mask] if isinstance(reason, pd.Series) else reason

    flag(rows["text"].isna(), NO_TEXT)
    flag(rows["api_key_id"].isna() | (rows["api_key_id"].fillna("") == ""), NO_KEY)
    text_reasons = rows["text"].map(lambda t: (unscoreable_reason(t) or "")
                                    if isinstance(t, str) else "")
    flag(text_reasons != "", text_reasons)
    flag(~rows["label"].isin(spec.labels), UNKNOWN_LABEL)
    known = original.set_index("key")
    is_text = rows["text"].map(lambda t: isinstance(t, str))
    rows["dedup"] = rows["text"].map(lambda t: dedup_key(t) if isinstance(t, str) else "")
    sent_keys = rows.loc[is_text, "dedup"].map(challenger.key_of_dedup)  # as the log has them
    # a text new to the data outlives the log's retention as training data: it is kept, keyed
    # and split with its e-mail addresses and phone numbers redacted; a text the original
    # data holds stays as that data holds it
    new = is_text & ~rows["dedup"].isin(known.index)
    rows.loc[new, "text"] = rows.loc[new, "text"].map(redact_contacts)
    rows.loc[new, "dedup"] = rows.loc[new, "text"].map(dedup_key)
    rows["key"] = ""
    rows.loc[is_text, "key"] = rows.loc[is_text, "dedup"].map(challenger.key_of_dedup)
    flag(rows["key"].isin(frozen_keys) | sent_keys.reindex(rows.index).isin(frozen_keys), FROZEN)
    contradicts = pd.Series(
        [isinstance(labels, tuple) and (label not in labels or len(labels) > 1)
         for labels, label in zip(rows["dedup"].map(known["labels"]), rows["label"],
                                  strict=True)], index=rows.index, dtype=bool)
    flag(contradicts, rows["dedup"].map(known["dataset"]).map(
        lambda name: f"{CONFLICT}: the original data set {name} labels it otherwise"))
    ok = rows["reason"] == ""
    label_sets = rows[ok].groupby("dedup")["label"].nunique()
    flag(ok & rows["dedup"].isin(label_sets[label_sets > 1].index),
         f"{CONFLICT}: other feedback labels it otherwise")
    ok = rows["reason"] == ""
    rows["original"] = rows["dedup"].isin(set(known.index))
    rows["side"] = "train"
    if ok.any():
        rows.loc[ok, "side"] = hashed_to_test(rows.loc[ok, "text"], spec).map(
            {True: "test", False: "train"})
    capped = _cap(rows[ok & ~rows["original"]], spec, original_train_texts, frozen_texts)
    flag(rows["dedup"].isin(capped), f"{OVER_CAP} (max_feedback_share "
                                     f"{spec.max_feedback_share:.0%} of each split)")
    used = rows[rows["reason"] == ""].drop(columns="reason").reset_index(drop=True)
    quarantined = rows[rows["reason"] != ""].reset_index(drop=True)
    new = used[~used["original"]].drop_duplicates("dedup")
    counts = {
        "labels_read": len(rows), "labels_used": len(used),
        "new_texts": {side: int((new["side"] == side).sum()) for side in ("train", "test")},
        "agreeing_with_original": int(used["original"].sum()),
        "quarantined": {str(k): int(v) for k, v in
                        quarantined["reason"].value_counts().sort_index().items()},
        "used_by_key": {str(k): int(v) for k, v in
                        used["api_key_id"].value_counts().sort_index().items()},
        "cap": {"max_feedback_share": spec.max_feedback_share,
                "original_train_texts": original_train_texts, "frozen_texts": frozen_texts},
    }
    return Selection(used, quarantined, counts)


def _cap(candidates: pd.DataFrame, spec: ProblemSpec, train_texts: int, test_texts: int
         ) -> set[str]:
    """The texts (de-duplication keys) over the cap of their side of the split.

    Each side may hold ``share / (1 - share)`` new texts per original text, so that
    feedback is at most ``share`` of it. Texts are taken round-robin over the keys,
    newest first within a key.
    """
    share = spec.max_feedback_share
    budget = {"train": int(share / (1 - share) * train_texts),
              "test": int(share / (1 - share) * test_texts)}
    texts = candidates.sort_values("feedback_id", ascending=False).drop_duplicates("dedup")
    texts = texts.assign(turn=texts.groupby("api_key_id").cumcount())
    texts = texts.sort_values(["turn", "feedback_id"], ascending=[True, False])
    over = set()
    for dedup, side in zip(texts["dedup"], texts["side"], strict=True):
        if budget[side] > 0:
            budget[side] -= 1
        else:
            over.add(dedup)
    return over


# --- the retrain --------------------------------------------------------------------------
