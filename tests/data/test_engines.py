"""Which engine a run uses (shared.data.engines)."""

import pandas as pd
import pytest

from shared.core import problem
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpecError
from shared.data import engines, partitions, validation


def test_auto_takes_out_of_core_above_the_stated_limit(spec, write_file):
    path = write_file("r.csv", "text,label\n" + "good,positive\n" * 50)
    assert engines.count_rows(str(path), "sentiment") == 50
    small = spec.with_overrides(max_memory_rows=50)
    assert engines.resolve_engine(small, str(path))[0] == engines.MEMORY
    engine, why = engines.resolve_engine(spec.with_overrides(max_memory_rows=49), str(path))
    assert engine == engines.OUT_OF_CORE and "about 50 rows" in why
    forced = spec.with_overrides(engine="memory", max_memory_rows=1)
    assert engines.resolve_engine(forced, str(path)) == (
        "memory", "engine='memory' was asked for in stage 1")


def test_parquet_rows_are_counted_from_the_footers(tmp_path, spec):
    with partitions.PartWriter(tmp_path / "t.parquet", part_rows=7) as writer:
        writer.write(pd.DataFrame({"text": ["x"] * 20, "label": ["positive"] * 20}))
    assert engines.count_rows(str(tmp_path / "t.parquet"), "sentiment") == 20
    assert engines.count_rows("builtin", "sentiment") == 961  # 960 reviews and the header


def test_a_line_count_counts_a_last_line_without_its_end(write_file):
    assert engines.count_lines(write_file("a.txt", "a\nb\nc")) == 3
    assert engines.count_lines(write_file("b.txt", "a\nb\n")) == 2


def test_the_engine_fields_are_checked_and_saved(spec, tmp_path):
    with pytest.raises(ProblemSpecError, match="engine='gpu'"):
        spec.with_overrides(engine="gpu")
    with pytest.raises(ProblemSpecError, match="max_memory_rows=0"):
        spec.with_overrides(max_memory_rows=0)
    assert spec.to_dict()["engine"] == "auto"
    chosen = spec.with_overrides(engine="out_of_core")
    cat = Catalog.for_task("sentiment", tmp_path)
    problem.save(chosen, cat)
    assert problem.load(cat).engine == "out_of_core"


def test_each_engine_removes_what_the_other_left(tmp_path, spec):
    cat = Catalog.for_task("sentiment", tmp_path)
    with partitions.PartWriter(cat.path("raw_parts")) as writer:
        writer.write(pd.DataFrame({"text": ["x"]}))
    from shared.data import sources

    loaded = sources.load_dataset("builtin", "sentiment")
    validation.save_collection(cat, loaded, validation.validate(loaded, spec), spec)
    assert not cat.path("raw_parts").exists() and cat.path("raw_snapshot").exists()
    assert engines.engine_of(cat) == engines.MEMORY
    assert engines.drop_stale(cat, 2, engines.OUT_OF_CORE) == ["raw_snapshot"]
