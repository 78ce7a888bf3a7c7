"""Stage 3: cleaning, de-duplication, the stratified split and the most telling terms."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import chi2
from sklearn.model_selection import train_test_split

from shared.core import normalise
from shared.core.catalog import Catalog
from shared.core.names import NAME_TOKEN
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, PreparationReport
from shared.core.text_rules import clean_text, dedup_key


def clean_and_deduplicate(raw: pd.DataFrame) -> tuple[pd.DataFrame, PreparationReport]:
    """Clean every text, then keep the first of each group of exact duplicates.

    Duplicates go before the split: a text in both train and test would let
    the model be graded on what it memorised. With several data sets (a
    ``dataset`` column, ``shared.data.sources``) this spans them: a text kept from
    the first data set that has it is counted in each later one as a duplicate
    across data sets (``by_dataset``).
    """
    cleaned = raw.assign(text=raw["text"].map(clean_text))
    changed = int((cleaned["text"] != raw["text"]).sum())
    keys = cleaned["text"].map(dedup_key)
    duplicated = keys.duplicated(keep="first")
    kept = cleaned[~duplicated].reset_index(drop=True)
    report = PreparationReport(
        rows_in=len(raw),
        texts_changed_by_cleaning=changed,
        exact_duplicates_dropped=int(duplicated.sum()),
        rows_out=len(kept),
        by_dataset=counts_by_dataset(cleaned, keys, duplicated),
    )
    return kept, report


def counts_by_dataset(
    frame: pd.DataFrame, keys: pd.Series, duplicated: pd.Series
) -> dict[str, dict[str, object]]:
    """Per data set: rows in and out, duplicates within it and across (with whose text was kept).

    Empty for a frame without a ``dataset`` column (a snapshot of an older run).
    """
    if "dataset" not in frame.columns:
        return {}
    datasets = frame["dataset"].astype(str)
    first_of = pd.Series(datasets[~duplicated].to_numpy(), index=keys[~duplicated].to_numpy())
    kept_from = keys.map(first_of).where(duplicated)
    across = duplicated & (kept_from != datasets)
    result: dict[str, dict[str, object]] = {}
    for name in dict.fromkeys(datasets):  # in the order the data sets were given
        mine = datasets == name
        of = kept_from[mine & across].value_counts().sort_index()
        result[name] = {
            "rows_in": int(mine.sum()),
            "duplicates_within": int((mine & duplicated & ~across).sum()),
            "duplicates_across": int((mine & across).sum()),
            "duplicate_of": {str(k): int(v) for k, v in of.items()},
            "rows_out": int((mine & ~duplicated).sum()),
        }
    return result


def report_table(report: PreparationReport, cat: Catalog | None = None) -> pd.DataFrame:
    """Stage 3's counts; with several data sets, each one's rows reconciled from stage 2 on.

    One data set: rows in, texts changed, duplicates dropped, rows out. Several
    (and ``cat``, to read stage 2's collection report): per data set (columns)
    read = out + quarantined + duplicates within + duplicates across
    (``shared.data.multisource.reconciliation_by_dataset``).
    """
    if cat is not None and len(report.by_dataset) > 1:
        from shared.data.multisource import reconciliation_by_dataset

        return reconciliation_by_dataset(CollectionReport.load(cat), report)
    counts = {k: v for k, v in report.to_dict().items() if k != "by_dataset"}
    return pd.Series(counts, name="rows").to_frame()


def split(clean: pd.DataFrame, spec: ProblemSpec,
          hash_split: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Stratified train/test split with the spec's seed and test size.

    ``hash_split`` names data sets (the ``dataset`` column; a retrain's feedback,
    ``shared.run.retrain``) whose rows are set aside first: the other rows are split
    exactly as they would be without them, and each set-aside row goes to the test
    split when a hash of its text and the seed falls under ``test_size``
    (:func:`hashed_to_test`). Adding such rows therefore moves no other row, and a
    text keeps its side in every later retrain.
    """
    if hash_split:
        if "dataset" not in clean.columns:
            raise ValueError("hash_split needs the dataset column (stage 2 writes it)")
        unknown = sorted(set(hash_split) - set(clean["dataset"]))
        if unknown:
            raise ValueError(f"hash_split names data set(s) {unknown} that the data does not "
                             f"hold; it holds {sorted(set(clean['dataset']))}")
        added = clean["dataset"].isin(list(hash_split)).to_numpy()
        base = split(clean[~added].reset_index(drop=True), spec)
        rows = clean[added]
        to_test = hashed_to_test(rows["text"], spec).to_numpy()
        return {name: pd.concat([base[name], part], ignore_index=True)
                for name, part in (("train", rows[~to_test]), ("test", rows[to_test]))}
    train, test = train_test_split(
        clean, test_size=spec.test_size, stratify=clean["label"], random_state=spec.seed
    )
    return {"train": train.reset_index(drop=True), "test": test.reset_index(drop=True)}


def hashed_to_test(texts: pd.Series, spec: ProblemSpec) -> pd.Series:
    """Whether each text goes to the test split of a hash split: the SHA-256 of the seed and
    the text's de-duplication key, read as a fraction of [0, 1), is under ``test_size``."""
    def fraction(text: str) -> float:
        digest = hashlib.sha256(f"{spec.seed}:{dedup_key(text)}".encode()).hexdigest()
        return int(digest[:15], 16) / 16**15

    return texts.map(fraction) < spec.test_size


def refuse_hash_split(hash_split: Sequence[str] | None) -> None:
    """The out-of-core engine splits its parts as it writes them: it has no hash split."""
    if hash_split:
        raise ValueError(f"hash_split {list(hash_split)} is for the in-memory engine only; "
                         "run the retrain with -p engine memory")


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
    from shared.data.engines import MEMORY, drop_stale

    drop_stale(cat, 3, MEMORY)
    cat.write("clean_dataset", clean)
    report.save(cat)
    for name, frame in splits.items():
        cat.write(name, frame)


def normalisation_examples(train: pd.DataFrame, spec: ProblemSpec, n: int = 8) -> pd.DataFrame:
    """A few training texts before and after the text path stage 4's pipelines start with
    (``shared.core.normalise``, fitted on the training split as the pipeline step is)."""
    path = normalise.for_spec(spec, train["text"])
    return pd.DataFrame(examples(list(train["text"]), path, n),
                        columns=["before", "after"])


def examples(texts: Sequence[str], path: Callable[[str], str], n: int = 8) -> list[
        tuple[str, str]]:
    """Up to ``n`` (before, after) pairs of texts the path changes, the shortest first, at
    most one per kind of change (a name, each placeholder, a de-leeted word), then any."""
    changed = sorted(((t, after) for t in texts if (after := path(t)) != t),
                     key=lambda pair: (len(pair[0]), pair[0]))
    kinds = [NAME_TOKEN, *normalise.PLACEHOLDERS]
    chosen: list[tuple[str, str]] = []
    for kind in kinds:
        first = next((p for p in changed if kind in p[1] and p not in chosen), None)
        if first is not None:
            chosen.append(first)
    chosen += [p for p in changed if p not in chosen][:max(0, n - len(chosen))]
    return chosen[:n]
