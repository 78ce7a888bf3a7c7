"""Batch scoring on a real Dask cluster: identical answers, every prediction logged once."""

import os
import signal

import pandas as pd
import pytest
from conftest import labelled_texts

from shared.data import partitions
from shared.serving import dask_scoring, predict, prediction_log
from shared.serving.predictor import Predictor

pytestmark = pytest.mark.cluster


def batch_file(tmp_path, rows: int = 1200):
    frame = labelled_texts(rows, seed=3)[["text"]].assign(ref=range(rows))
    frame.loc[5, "text"] = "12345"  # a row that cannot be scored keeps its place
    frame.loc[rows // 2, "text"] = ""
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    return path


def read_output(folder):
    return pd.concat(partitions.iter_parts(folder), ignore_index=True)


def test_dask_scoring_equals_in_process_scoring_row_for_row(tmp_path, deployed_project,
                                                            dask_client):
    path = batch_file(tmp_path)
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    log = tmp_path / "log.sqlite"
    counts = dask_scoring.score(dask_client, predictor, path, tmp_path / "out.parquet",
                                log_path=log, blocksize=20_000)
    predict.predict_file(predictor, path, tmp_path / "out.csv")
    remote = read_output(tmp_path / "out.parquet")
    local = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype={"text": str})
    assert counts["partitions"] > 3
    assert len(remote) == len(local) == 1200
    assert remote["ref"].astype(int).tolist() == list(range(1200))
    assert remote["label"].tolist() == local["label"].tolist()
    assert remote["error"].tolist() == local["error"].tolist()
    scored = remote["error"] == ""
    assert (remote["confidence"][scored].to_numpy() ==
            local["confidence"][scored].astype(float).to_numpy()).all()
    logged = prediction_log.read(log)
    assert len(logged) == counts["rows_scored"] == 1198
    assert logged["prediction_id"].is_unique
    assert set(logged["prediction_id"]) == set(remote["prediction_id"][scored])
    assert logged["batch_id"].nunique() == counts["partitions"]  # one transaction each


def test_a_parquet_input_without_the_log(tmp_path, deployed_project, dask_client):
    frame = labelled_texts(300, seed=4)
    folder = tmp_path / "in.parquet"
    folder.mkdir()
    frame.iloc[:150].to_parquet(folder / "part-0.parquet")
    frame.iloc[150:].to_parquet(folder / "part-1.parquet")
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    counts = dask_scoring.score(dask_client, predictor, folder, tmp_path / "o.parquet")
    out = read_output(tmp_path / "o.parquet")
    assert counts["rows_in"] == len(out) == 300 and counts["batches"] == []
    assert out["text"].tolist() == frame["text"].tolist()
    assert (out["prediction_id"] == "").all()


def test_a_worker_killed_mid_scoring_loses_and_doubles_nothing(tmp_path, deployed_project):
    distributed = pytest.importorskip("distributed")
    path = batch_file(tmp_path, rows=2400)
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    log = tmp_path / "log.sqlite"
    killed = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:

        def kill_a_busy_worker(index: int) -> None:
            if killed:
                return
            busy = {w: tasks for w, tasks in client.processing().items() if tasks}
            if not busy:
                return
            worker = max(busy, key=lambda w: len(busy[w]))
            pid = client.run(os.getpid, workers=[worker])[worker]
            killed.update(worker=worker, tasks=list(busy[worker]))
            os.kill(pid, signal.SIGKILL)

        counts = dask_scoring.score(client, predictor, path, tmp_path / "out.parquet",
                                    log_path=log, on_partition=kill_a_busy_worker,
                                    blocksize=15_000)
    assert killed["tasks"], "a worker was killed while it was scoring a partition"
    out = read_output(tmp_path / "out.parquet")
    logged = prediction_log.read(log)
    assert len(out) == 2400 and out["ref"].astype(int).tolist() == list(range(2400))
    assert len(logged) == counts["rows_scored"] == 2398
    assert logged["prediction_id"].is_unique
    assert sorted(logged["prediction_id"]) == sorted(out["prediction_id"][out["error"] == ""])


def test_the_command_scores_on_a_local_cluster(tmp_path, deployed_project, capsys):
    path = batch_file(tmp_path, rows=200)
    code = predict.main(["--task", "sentiment", str(path), "--root", str(deployed_project.root),
                         "--dask", "local", "--no-log", "-o", str(tmp_path / "o.parquet")])
    assert code == 0, capsys.readouterr().err
    assert "200 rows in, 198 scored" in capsys.readouterr().out
    assert len(read_output(tmp_path / "o.parquet")) == 200


def test_a_row_with_an_extra_field_is_refused_before_the_cluster_sees_it(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("text\nJessica loved it, wonderful film.\nGreat acting\n", encoding="utf-8")
    with pytest.raises(dask_scoring.DaskInputError,
                       match="line 2 has 2 fields but the header has 1"):
        dask_scoring.read_input(source)
