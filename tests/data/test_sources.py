"""The named data sources: the built-in sets, which task each serves, and the dispatch."""

from __future__ import annotations

import pytest

from shared.core.records import DataSourceError
from shared.core.storage import read_csv
from shared.data import sources
from shared.data.sources import load_dataset
from shared.data.tasks import TASKS, get_task
from shared.data.validation import check_reconciled, validate


@pytest.mark.parametrize("task", sorted(TASKS))
def test_builtin_loads_and_reconciles(task):
    data = load_dataset("builtin", task)
    validated = validate(data, get_task(task).spec)
    check_reconciled(data, validated)
    assert data.rows_read == len(read_csv(get_task(task).builtin_dataset))
    assert len(validated.quarantined) == 0


def test_named_sources_and_their_tasks(tmp_path, monkeypatch):
    assert sources.available_datasets("sentiment") == ["builtin", "rt-polarity"]
    # builtin-recent is listed only once its file is in the project
    recent = tmp_path / "recent.csv"
    monkeypatch.setitem(get_task("spam").builtin_extra, "builtin-recent", recent)
    assert sources.available_datasets("spam") == ["builtin", "sms-spam", "sms-spam-only"]
    recent.write_text("text,label,source,date\n")
    assert sources.available_datasets("spam") == ["builtin", "builtin-recent", "sms-spam",
                                                  "sms-spam-only"]
    with pytest.raises(DataSourceError, match="'rt-polarity' is for task sentiment"):
        sources.check_dataset_name("rt-polarity", "spam")
    with pytest.raises(DataSourceError, match="unknown data set 'nope.csv'"):
        sources.check_dataset_name("nope.csv", "spam")


def test_positive_label_only_for_own_files():
    with pytest.raises(DataSourceError, match="applies to your own file only"):
        load_dataset("builtin", "sentiment", positive_label="pos")
    assert load_dataset("builtin", "sentiment", positive_label="positive").rows_read > 0


def test_source_files_name_what_stage_2_reads(tmp_path, monkeypatch):
    assert sources.source_files("builtin", "spam") == [get_task("spam").builtin_dataset]
    monkeypatch.setenv("DATA_CACHE_DIR", str(tmp_path))
    assert sources.source_files("rt-polarity", "sentiment") == [
        tmp_path / "rt-polarity" / "rt-polarity.pos", tmp_path / "rt-polarity" / "rt-polarity.neg"]
    own = tmp_path / "mine.csv"
    own.write_text("text,label\n")
    assert sources.source_files(str(own), "sentiment") == [own.resolve()]


# -- several data sets in one run -----------------------------------------------------------
HAM_SPAM = get_task("spam").spec.labels


@pytest.fixture
def fake_sms_cache(tmp_path, monkeypatch):
    """A cache holding an SMSSpamCollection with the published counts (4,827 ham, 747 spam),
    whose first line is also in the built-in spam set, so the mix has a duplicate across."""
    builtin = read_csv(get_task("spam").builtin_dataset)
    shared_text = builtin["text"].iloc[0]
    lines = [f"{builtin['label'].iloc[0]}\t{shared_text}"]
    lines += [f"ham\tham message number {i}" for i in range(4827 - (lines[0][:3] == "ham"))]
    lines += [f"spam\tWIN a prize number {i} now" for i in range(747 - (lines[0][:4] == "spam"))]
    folder = tmp_path / "cache" / "sms-spam"
    folder.mkdir(parents=True)
    (folder / "SMSSpamCollection").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("DATA_CACHE_DIR", str(tmp_path / "cache"))
    return shared_text


@pytest.fixture
def no_recent(tmp_path, monkeypatch):
    """builtin-recent points at a file that does not exist (whatever the project holds)."""
    path = tmp_path / "absent" / "recent.csv"
    monkeypatch.setitem(get_task("spam").builtin_extra, "builtin-recent", path)
    return path


def test_sms_spam_means_the_corpus_and_the_builtin_set(fake_sms_cache, no_recent):
    parts = sources.parse_dataset("sms-spam", "spam")
    assert [p.name for p in parts] == ["sms-spam", "builtin"]
    assert [p.name for p in sources.parse_dataset("sms-spam-only", "spam")] == ["sms-spam"]
    data = load_dataset("sms-spam", "spam")
    builtin_rows = len(read_csv(get_task("spam").builtin_dataset))
    assert data.frame["dataset"].value_counts().to_dict() == {"sms-spam": 5574,
                                                               "builtin": builtin_rows}
    assert data.details["mix"] == ["sms-spam", "builtin"]
    # row: the position in the record's own file, not in the mix
    assert data.frame.groupby("dataset")["row"].min().to_dict() == {"sms-spam": 1, "builtin": 1}
    assert load_dataset("sms-spam-only", "spam").rows_read == 5574


def test_the_recent_builtin_file_is_a_source_of_its_own(tmp_path, monkeypatch,
                                                        fake_sms_cache):
    recent = tmp_path / "recent.csv"
    monkeypatch.setitem(get_task("spam").builtin_extra, "builtin-recent", recent)
    assert "builtin-recent" not in sources.available_datasets("spam")
    with pytest.raises(DataSourceError, match="data set 'builtin-recent' needs .*recent.csv"):
        sources.check_dataset_name("builtin+builtin-recent", "spam")
    recent.write_text("text,label,source,date\n"
                      "Your parcel is held: pay 1.99 at parcel-fee.example,spam,sms,2025-03-02\n"
                      "Running late; start without me,ham,sms,2025-01-15\n")
    assert [p.name for p in sources.parse_dataset("sms-spam", "spam")] == ["sms-spam", "builtin"]
    assert [p.name for p in sources.parse_dataset("sms-spam+builtin-recent", "spam")] == [
        "sms-spam", "builtin", "builtin-recent"]
    # the default built-in run still reads messages.csv alone
    assert sources.source_files("builtin", "spam") == [get_task("spam").builtin_dataset]
    assert recent in sources.source_files("sms-spam+builtin-recent", "spam")
    data = load_dataset("builtin+builtin-recent", "spam")
    recent_rows = data.frame[data.frame["dataset"] == "builtin-recent"]
    assert recent_rows["date"].tolist() == ["2025-03-02", "2025-01-15"]
    assert (data.frame.loc[data.frame["dataset"] == "builtin", "date"] == "").all()
    provenance = data.details["sources"]["builtin-recent"]["provenance"]
    assert provenance["licence"] == sources.BUILTIN_LICENCE
    assert provenance["dates"] == "2025-01-15 to 2025-03-02 (2 dated rows)"


def test_a_mix_of_builtin_and_user_files_with_their_own_columns(tmp_path):
    stars = tmp_path / "stars.csv"
    stars.write_text("review,stars,when\nLovely film,5,2024-01-02\nDull and slow,1,2024-02-03\n"
                     "Great fun,5,2024-03-04\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("text,label\nWorst meal ever,negative\n")
    data = load_dataset(f"builtin+{stars}:text=review,label=stars,positive=5,date=when+{plain}",
                        "sentiment")
    assert data.details["mix"] == ["builtin", "stars.csv", "plain.csv"]
    mine = data.frame[data.frame["dataset"] == "stars.csv"]
    assert mine["label"].tolist() == ["positive", "negative", "positive"]
    assert mine["row"].tolist() == [1, 2, 3]
    assert data.details["sources"]["stars.csv"]["label_mapping"] == {"5": "positive",
                                                                     "1": "negative"}
    provenance = data.details["sources"]["stars.csv"]["provenance"]
    assert provenance == {"kind": "user file", "origin": str(stars.resolve()),
                          "licence": "user's own",
                          "dates": "2024-01-02 to 2024-03-04 (3 dated rows)"}
    assert data.details["sources"]["plain.csv"]["provenance"]["dates"] == \
        "undated (no date column)"
    assert data.details["sources"]["builtin"]["provenance"]["origin"] == \
        "data/builtin/sentiment/reviews.csv"
    assert set(sources.source_files(f"builtin+{plain}", "sentiment")) == {
        get_task("sentiment").builtin_dataset, plain.resolve()}


@pytest.mark.parametrize(("dataset", "message"), [
    ("builtin+", r"part 2 of --dataset 'builtin\+' is empty"),
    ("builtin++rt-polarity", r"part 2 of --dataset .* is empty"),
    ("builtin+nope.csv", r"part 2 \('nope.csv'\) of --dataset 'builtin\+nope.csv': unknown data "
                         "set 'nope.csv'"),
    ("rt-polarity+sms-spam", r"part 2 \('sms-spam'\) .*: data set 'sms-spam' is for task spam, "
                             "not 'sentiment'"),
    ("builtin+builtin", r"part 2 .*'builtin' is named twice"),
])
def test_plus_syntax_errors_name_the_bad_part(dataset, message):
    with pytest.raises(DataSourceError, match=message):
        sources.check_dataset_name(dataset, "sentiment")


def test_file_options_errors_name_the_option(tmp_path):
    own = tmp_path / "own.csv"
    own.write_text("review,stars\nGood,5\nBad,1\n")
    with pytest.raises(DataSourceError, match=r"option 'colour=red' is not key=value with a key "
                                              r"among text, label, positive, source, date"):
        sources.check_dataset_name(f"builtin+{own}:text=review,colour=red", "sentiment")
    with pytest.raises(DataSourceError, match=r"column\(s\) \['text'\] not found"):
        load_dataset(f"builtin+{own}:label=stars,positive=5", "sentiment")


def test_two_user_files_with_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.csv").write_text("text,label\nGood,positive\n")
    with pytest.raises(DataSourceError, match="two files of the mix are called 'data.csv'"):
        sources.check_dataset_name(f"{tmp_path}/a/data.csv+{tmp_path}/b/data.csv", "sentiment")


def test_a_path_holding_a_plus_is_one_file(tmp_path):
    own = tmp_path / "a+b.csv"
    own.write_text("text,label\nGood,positive\n")
    assert [p.name for p in sources.parse_dataset(str(own), "sentiment")] == ["a+b.csv"]


def test_public_names_of_a_mix():
    assert sources.public_names("sms-spam") == ["sms-spam"]
    assert sources.public_names("builtin+sms-spam-only") == ["sms-spam"]
    assert sources.public_names("builtin") == []
