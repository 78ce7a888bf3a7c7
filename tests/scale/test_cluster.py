"""The Dask connection (shared.scale.cluster), and the stage-4 search on a real cluster."""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import labelled_texts

from shared.model import search
from shared.scale import cluster, incremental


def test_the_option_wins_over_the_environment_and_empty_means_none():
    env = {cluster.ENVIRONMENT: "tcp://127.0.0.1:9999"}
    assert cluster.resolve_address(None, env) == "tcp://127.0.0.1:9999"
    assert cluster.resolve_address("local", env) == "local"
    assert cluster.resolve_address("", env) is None
    assert cluster.resolve_address(None, {}) is None


def test_no_address_means_no_cluster_and_joblib_unchanged(monkeypatch):
    monkeypatch.delenv(cluster.ENVIRONMENT, raising=False)
    with cluster.connect(None) as client, cluster.joblib_backend(client):
        assert client is None
        assert "no Dask cluster" in cluster.describe(client)


def test_an_unreachable_scheduler_is_named_with_what_to_do():
    with pytest.raises(cluster.ClusterError, match=r"127\.0\.0\.1:9.*dask scheduler"), \
            cluster.connect("tcp://127.0.0.1:9", timeout=1):
        pass


@pytest.mark.cluster
def test_for_run_exports_the_scheduler_for_the_kernels_and_restores(dask_client, monkeypatch):
    monkeypatch.delenv(cluster.ENVIRONMENT, raising=False)
    address = dask_client.scheduler.address
    with cluster.for_run(address) as exported:
        assert exported == address == os.environ[cluster.ENVIRONMENT]
        with cluster.connect(None) as client:  # a kernel: finds the runner's scheduler
            assert client.scheduler.address == address
    assert cluster.ENVIRONMENT not in os.environ


@pytest.mark.cluster
def test_the_search_on_the_cluster_equals_the_local_search(dask_client, spec):
    sample = labelled_texts(600)
    candidates = incremental.candidates(spec.seed)
    configs = [c for c in search.configurations(candidates, incremental.GRID, "grid", 0, spec.seed)
               if c.params.get("features__char") == "drop"]
    local = search.run(configs, sample["text"], sample["label"], spec, n_jobs=2)
    with cluster.joblib_backend(dask_client):
        remote = search.run(configs, sample["text"], sample["label"], spec, n_jobs=-1)
    columns = ["model", "params", "mean", "std", "train_mean"]
    pd.testing.assert_frame_equal(remote.table[columns], local.table[columns])
    assert all(np.array_equal(remote.oof[k], local.oof[k]) for k in local.oof)
    workers = dask_client.run(lambda: 1)
    assert len(workers) == 2
