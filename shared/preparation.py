"""Stage 3: cleaning, de-duplication, the stratified split and the most telling terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import chi2
from sklearn.model_selection import train_test_split

from shared import normalise
from shared.catalog import Catalog
from shared.problem import ProblemSpec
from shared.records import PreparationReport
from shared.text_rules import clean_text, dedup_key


def clean_and_deduplicate(raw: pd.DataFrame) -> tuple[pd.DataFrame, PreparationReport]:
    """Clean every text, then keep the first of each group of exact duplicates.

    Duplicates go before the split: a text in both train and test would let
    the model be graded on what it memorised.
    """
    cleaned = raw.assign(text=raw["text"].map(clean_text))
    changed = int((cleaned["text"] != raw["text"]).sum())
    duplicated = cleaned["text"].map(dedup_key).duplicated(keep="first")
    kept = cleaned[~duplicated].reset_index(drop=True)
    report = PreparationReport(
        rows_in=len(raw),
        texts_changed_by_cleaning=changed,
        exact_duplicates_dropped=int(duplicated.sum()),
        rows_out=len(kept),
    )
    return kept, report


def split(clean: pd.DataFrame, spec: ProblemSpec) -> dict[str, pd.DataFrame]:
    """Stratified train/test split with the spec's seed and test size."""
    train, test = train_test_split(
        clean, test_size=spec.test_size, stratify=clean["label"], random_state=spec.seed
    )
    return {"train": train.reset_index(drop=True), "test": test.reset_index(drop=True)}


def split_table(splits: dict[str, pd.DataFrame], spec: ProblemSpec) -> pd.DataFrame:
    """Rows and positive share of each split."""
    rows = [
        {
            "split": name,
            "rows": len(frame),
            f"share {spec.positive_label}": round(
                float((frame["label"] == spec.positive_label).mean()), 3
            ),
        }
        for name, frame in splits.items()
    ]
    return pd.DataFrame(rows).set_index("split")


def telling_terms(train: pd.DataFrame, spec: ProblemSpec, n: int = 12) -> pd.DataFrame:
    """Terms most associated with each class by a chi-squared test on TF-IDF.

    The vectorizer is fitted on the training split only, as every later
    model is: the test split must stay unseen.
    """
    vectorizer = TfidfVectorizer(lowercase=True, stop_words="english", min_df=2)
    features = vectorizer.fit_transform(train["text"])
    positive = (train["label"] == spec.positive_label).to_numpy()
    scores, _ = chi2(features, positive)
    terms = vectorizer.get_feature_names_out()
    mean_pos = np.asarray(features[positive].mean(axis=0)).ravel()
    mean_neg = np.asarray(features[~positive].mean(axis=0)).ravel()
    frame = pd.DataFrame({
        "term": terms,
        "weight": scores,
        "label": np.where(mean_pos >= mean_neg, spec.positive_label, spec.negative_label),
    })
    frame = frame.sort_values(["weight", "term"], ascending=[False, True])
    return frame.groupby("label", sort=True).head(n).reset_index(drop=True)


def save(
    cat: Catalog, clean: pd.DataFrame, report: PreparationReport, splits: dict[str, pd.DataFrame]
) -> None:
    """Write the cleaned set, its report and the two splits (stage 3's outputs)."""
    from shared.engines import MEMORY, drop_stale

    drop_stale(cat, 3, MEMORY)
    cat.write("clean_dataset", clean)
    report.save(cat)
    for name, frame in splits.items():
        cat.write(name, frame)


def normalisation_examples(train: pd.DataFrame, spec: ProblemSpec, n: int = 8) -> pd.DataFrame:
    """A few training texts before and after the text path stage 4's pipelines start with
    (``shared.normalise``, fitted on the training split as the pipeline step is)."""
    path = normalise.for_spec(spec, train["text"])
    return pd.DataFrame(normalise.examples(list(train["text"]), path, n),
                        columns=["before", "after"])
