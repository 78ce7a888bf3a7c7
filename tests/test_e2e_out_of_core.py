"""The seven notebooks on the out-of-core engine, end to end, into a temporary folder."""

import subprocess
import sys

import pytest

from shared.core.catalog import PROJECT_DIR, Catalog
from shared.core.manifest import verify
from shared.core.records import CollectionReport, EvaluationReport, PreparationReport
from shared.data import partitions
from shared.data.engines import OUT_OF_CORE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def out_of_core_run(tmp_path_factory):
    """The seven notebooks on the out-of-core engine (built-in sentiment data, small parts)."""
    root = tmp_path_factory.mktemp("out_of_core")
    result = subprocess.run(
        [sys.executable, "-m", "shared.runner", "--root", str(root), "-p", "engine", OUT_OF_CORE],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Catalog.for_task("sentiment", root), result.stdout


def test_the_notebooks_run_out_of_core_end_to_end(out_of_core_run):
    cat, stdout = out_of_core_run
    assert CollectionReport.load(cat).details["engine"] == OUT_OF_CORE
    for name in ("raw_parts", "clean_parts", "train_parts", "test_parts"):
        assert cat.path(name).is_dir(), name
    for name in ("raw_snapshot", "clean_dataset", "train", "test"):
        assert not cat.path(name).exists(), name
    metrics = EvaluationReport.load(cat)
    assert metrics.training.search["engine"] == OUT_OF_CORE
    train_rows = partitions.count_rows(cat.path("train_parts"))
    assert metrics.test["support"] == PreparationReport.load(cat).rows_out - train_rows
    assert verify(cat.deployed_dir).canary.passed
    assert "raw snapshot         data/sentiment/raw/dataset.parquet" in stdout
