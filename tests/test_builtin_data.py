"""Data tests of the sets that ship with the project."""

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from shared.core.catalog import BUILTIN_DATA_DIR, Catalog, artifact
from shared.core.storage import read_csv
from shared.data.tasks import TASKS

#: the behavioural test cases and the sensitivity templates have their own schemas
#: (tests/model/test_behaviour.py, tests/model/test_sensitivity.py)
OWN_SCHEMA = {artifact(name).path.rsplit("/", 1)[-1]
              for name in ("behaviour_cases", "sensitivity_templates")}
FILES = sorted(p for p in BUILTIN_DATA_DIR.glob("*/*.csv") if p.name not in OWN_SCHEMA)
#: the recent spam and ham, with the day each message is dated to (data/builtin/DATA_CARD.md)
RECENT = BUILTIN_DATA_DIR / "spam" / "recent.csv"
EXTRA_COLUMNS = {RECENT: ["date"]}

#: a host name in a text: after a scheme or "www.", or ending in a top-level domain in use
HOST = re.compile(
    r"(?:(?<=://)|(?<![\w.@-]))((?:[a-z0-9-]+\.)+[a-z0-9-]+)|@((?:[a-z0-9-]+\.)+[a-z0-9-]+)", re.I
)
REAL_TLDS = {
    "com", "net", "org", "co", "uk", "io", "ly", "me", "info", "biz", "xyz", "top", "us", "ca",
    "au", "de", "fr", "eu", "ru", "cn", "in", "app", "dev", "site", "online", "shop", "store",
    "club", "live", "link", "click", "cc", "tk", "ml", "ga", "cf", "gq", "icu", "vip", "win",
    "bid", "loan", "support", "services", "gov",
}
RESERVED = re.compile(r"(?:^|\.)(?:example|test|example\.com|example\.org|example\.net)$", re.I)


def test_shipped_files():
    names = {f"{p.parent.name}/{p.name}" for p in FILES}
    for task in TASKS.values():
        cat = Catalog.for_task(task.name)
        for path in (task.builtin_dataset, cat.path("new_batch"), cat.path("drifted_batch")):
            assert f"{path.parent.name}/{path.name}" in names


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_and_labels(path):
    frame = read_csv(path)
    spec = TASKS[path.parent.name].spec
    assert list(frame.columns) == ["text", "label", "source", *EXTRA_COLUMNS.get(path, [])]
    assert frame["label"].isin(spec.labels).all()
    assert (frame["text"].str.strip() != "").all()
    assert not frame["text"].duplicated().any()


def test_sentiment_set_is_large_balanced_and_covers_three_domains():
    frame = read_csv(TASKS["sentiment"].builtin_dataset)
    assert len(frame) >= 400
    assert frame["label"].value_counts().nunique() == 1
    assert set(frame["source"]) == {"product", "film", "restaurant"}
    words = frame["text"].str.split().str.len()
    assert words.min() <= 6 and words.max() >= 80


def test_spam_set():
    frame = read_csv(TASKS["spam"].builtin_dataset)
    assert len(frame) >= 300
    assert set(frame["label"]) == {"spam", "ham"}
    assert set(frame["source"]) == {"sms", "email"}


def test_recent_spam_set_is_dated_over_the_years_with_both_labels_in_each():
    frame = read_csv(RECENT)
    assert len(frame) >= 450
    assert set(frame["source"]) == {"sms", "email", "chat"}
    assert frame["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    days = frame["date"].map(date.fromisoformat)
    assert days.between(date(2020, 1, 1), date(2026, 11, 30)).all()
    years = days.map(lambda d: d.year)
    assert set(years) == set(range(2020, 2027))
    per_year = frame.groupby(years)["label"].value_counts().unstack(fill_value=0)
    assert (per_year[["spam", "ham"]] >= 20).all().all(), per_year


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_urls_and_email_addresses_use_reserved_domains(path):
    """No text points at a real site: hosts end in .example, .test or example.com/.org/.net."""
    real = []
    for text in read_csv(path)["text"]:
        for match in HOST.finditer(text):
            host, mail_host = match.groups()
            host = (host or mail_host).rstrip(".-").lower()
            looks_real = mail_host or "://" in text[max(match.start() - 3, 0):match.start()] or (
                host.startswith("www.") or host.rsplit(".", 1)[-1] in REAL_TLDS
            )
            if looks_real and not RESERVED.search(host):
                real.append((host, text))
    assert not real, real[:5]


def test_new_batch_includes_out_of_domain_text():
    frame = Catalog.for_task("sentiment").read("new_batch")
    assert "other" in set(frame["source"])


def test_no_two_texts_are_near_copies():
    """Character 5-gram Jaccard similarity of every pair of shipped texts stays under 0.4."""
    texts = pd.concat([read_csv(p)["text"] for p in FILES], ignore_index=True).str.lower()
    grams = CountVectorizer(analyzer="char", ngram_range=(5, 5), binary=True, lowercase=False)
    x = grams.fit_transform(texts).astype(np.int32)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    shared = (x @ x.T).tocoo()
    off_diagonal = shared.row < shared.col
    rows, cols, inter = shared.row[off_diagonal], shared.col[off_diagonal], shared.data[off_diagonal]
    jaccard = inter / (sizes[rows] + sizes[cols] - inter)
    worst = np.argsort(jaccard)[-1]
    assert jaccard.max() < 0.4, (texts[rows[worst]], texts[cols[worst]], jaccard.max())
