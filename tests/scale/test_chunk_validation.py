"""Stage 2 out of core (shared.scale.chunk_validation) equals the in-memory path."""

import pandas as pd
import pytest
from conftest import labelled_texts

from shared.core.catalog import Catalog
from shared.core.records import CollectionReport
from shared.data import partitions, sources, validation
from shared.scale import chunk_validation

BROKEN = {  # 1-based data row -> (text, label), each a reason stage 2 knows
    3: ("", "positive"),
    250: ("12345", "negative"),
    251: ("NaN", "positive"),
    777: ("a fine text", "maybe"),
    1499: ("a fine text", ""),
}


def messy_file(tmp_path, rows: int = 3000):
    """A CSV of real reviews with broken rows, a blank line, and a text with two labels
    far apart (in different chunks)."""
    frame = labelled_texts(rows)
    for row, (text, label) in BROKEN.items():
        frame.loc[row - 1] = [text, label]
    frame.loc[10] = ["Torn between two minds", "positive"]
    frame.loc[2900] = ["torn between two minds ", "negative"]
    path = tmp_path / "reviews.csv"
    text = frame.to_csv(index=False, lineterminator="\n")
    lines = text.split("\n")
    lines.insert(1200, "")  # a blank line is a row too (an empty text)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def messy_parquet_folder(tmp_path, rows_per_file: int):
    """The messy file's rows (all strings) as a folder of Parquet files."""
    frame = pd.read_csv(messy_file(tmp_path), keep_default_na=False, skip_blank_lines=False,
                        dtype=str)
    folder = tmp_path / "reviews.parquet"
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), rows_per_file)):
        frame.iloc[start:start + rows_per_file].to_parquet(folder / f"part-{i}.parquet",
                                                           index=False)
    return folder


def collect(tmp_path, dataset, spec, **kwargs):
    cat = Catalog.for_task("sentiment", tmp_path / "run")
    return cat, chunk_validation.collect(cat, spec, str(dataset), chunk_rows=97, part_rows=500, **kwargs)


def test_small_chunks_give_the_in_memory_counts_rows_and_reasons(tmp_path, spec):
    path = messy_file(tmp_path)
    cat, report = collect(tmp_path, path, spec)
    loaded = sources.load_dataset(str(path), "sentiment")
    memory = validation.validate(loaded, spec)
    assert (report.rows_read, report.rows_kept, report.rows_quarantined) == (
        loaded.rows_read, len(memory.kept), len(memory.quarantined))
    assert report.quarantine_reasons == {k: int(v) for k, v in memory.reasons.items()}
    assert report.profile == validation.profile(memory.kept, spec)
    kept = pd.concat(partitions.iter_parts(cat.path("raw_parts")), ignore_index=True)
    pd.testing.assert_frame_equal(kept, memory.kept[kept.columns], check_dtype=False)
    quarantine = pd.read_csv(cat.path("quarantine"), keep_default_na=False)
    expected = validation.quarantine_table(memory.quarantined)
    assert sorted(zip(quarantine["row"], quarantine["reason"], strict=True)) == sorted(
        zip(expected["row"], expected["reason"], strict=True))
    assert len(partitions.part_files(cat.path("raw_parts"))) == 6
    assert CollectionReport.load(cat).details["engine"] == "out_of_core"


def test_broken_rows_are_quarantined_with_their_global_row_numbers(tmp_path, spec):
    cat, report = collect(tmp_path, messy_file(tmp_path), spec)
    quarantine = pd.read_csv(cat.path("quarantine"), keep_default_na=False)
    reasons = dict(zip(quarantine["row"], quarantine["reason"], strict=True))
    assert reasons[3] == "empty text"
    assert reasons[250] == "text is a number, not words"
    assert reasons[251].startswith("text is a missing-value marker")
    assert reasons[777] == "unknown label"
    assert reasons[1500] == "missing label"  # data row 1499, after the blank line
    assert reasons[1200] == "empty text"  # the blank line, in the 13th chunk of 97 rows
    assert reasons[11] == reasons[2902] == "same text with conflicting labels"
    assert report.rows_read == report.rows_kept + report.rows_quarantined == 3001


def test_a_parquet_folder_reads_as_the_same_table(tmp_path, spec):
    folder = messy_parquet_folder(tmp_path, 1000)
    _, from_folder = collect(tmp_path, folder, spec)
    _, from_csv = collect(tmp_path / "csv", messy_file(tmp_path), spec)
    assert from_folder.quarantine_reasons == from_csv.quarantine_reasons
    assert (from_folder.rows_read, from_folder.rows_kept) == (from_csv.rows_read,
                                                              from_csv.rows_kept)


@pytest.mark.cluster
def test_dask_validates_parquet_partitions_as_the_local_reader(tmp_path, spec, dask_client):
    folder = messy_parquet_folder(tmp_path, 700)
    local_cat, local = collect(tmp_path / "local", folder, spec)
    dask_cat, remote = collect(tmp_path / "dask", folder, spec, client=dask_client)
    assert remote.quarantine_reasons == local.quarantine_reasons
    assert remote.profile == local.profile
    assert remote.snapshot_sha256 == local.snapshot_sha256
    assert pd.read_csv(dask_cat.path("quarantine")).equals(
        pd.read_csv(local_cat.path("quarantine")))



def starred_file(tmp_path, values=("5", "1")):
    """A CSV of real reviews labelled by stars over many chunks, the values cycling through
    ``values`` (the first means positive), with one blank label."""
    frame = labelled_texts(1000)
    stars = [values[0] if label == "positive" else values[1 + i % (len(values) - 1)]
             for i, label in enumerate(frame["label"])]
    frame = pd.DataFrame({"review": frame["text"], "stars": stars})
    frame.loc[40, "stars"] = ""
    path = tmp_path / "stars.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def test_a_binary_label_mapping_is_applied_while_streaming(tmp_path, spec):
    path = starred_file(tmp_path)
    cat, report = collect(tmp_path, path, spec, text_column="review", label_column="stars",
                          positive_label="5")
    memory = validation.validate(sources.load_dataset(str(path), "sentiment", "review", "stars",
                                                      positive_label="5"), spec)
    assert report.details["label_mapping"] == {"5": "positive", "1": "negative"}
    assert (report.rows_kept, report.rows_quarantined) == (len(memory.kept),
                                                           len(memory.quarantined))
    assert report.quarantine_reasons == {"missing label": 1}
    kept = pd.concat(partitions.iter_parts(cat.path("raw_parts")), ignore_index=True)
    assert kept["label"].value_counts().to_dict() == memory.kept["label"].value_counts().to_dict()
    assert set(kept["dataset"]) == {"stars.csv"}
    assert report.by_dataset["stars.csv"]["rows_read"] == 1000
    assert report.by_dataset["stars.csv"]["licence"] == "user's own"


def test_a_third_label_value_is_refused_at_the_end_naming_the_values(tmp_path, spec):
    path = starred_file(tmp_path, values=("5", "1", "3"))
    with pytest.raises(sources.DataSourceError) as caught:
        collect(tmp_path, path, spec, text_column="review", label_column="stars",
                positive_label="5")
    message = str(caught.value)
    assert str(path) in message
    assert "column 'stars' holds 3 distinct values" in message
    for value in ("'1 (", "'3 (", "'5 ("):
        assert value in message
    assert "-p engine memory" in message
    cat = Catalog.for_task("sentiment", tmp_path / "run")
    assert not cat.path("collection_report").exists()
    # nothing half-written is left behind: no staged parts, no quarantine
    assert sorted(p.name for p in cat.path("raw_parts").parent.iterdir()) == []


def test_a_file_with_its_own_options_streams_as_with_the_parameters(tmp_path, spec):
    path = starred_file(tmp_path)
    _, by_options = collect(tmp_path / "a", f"{path}:text=review,label=stars,positive=5", spec)
    _, by_parameters = collect(tmp_path / "b", path, spec, text_column="review",
                               label_column="stars", positive_label="5")
    assert by_options.details["label_mapping"] == by_parameters.details["label_mapping"]
    assert (by_options.rows_kept, by_options.quarantine_reasons) == (
        by_parameters.rows_kept, by_parameters.quarantine_reasons)
    with pytest.raises(sources.DataSourceError, match="the out-of-core engine reads one"):
        collect(tmp_path / "c", f"builtin+{path}:text=review,label=stars,positive=5", spec)
