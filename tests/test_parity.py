"""Golden parity: the same texts get the same answers on every path that serves a model.

The texts are the golden file's (``tests/model_files/main_d7910e1.json``: reviews with
names, negation, leetspeak, links and an emoji), plus one that cannot be scored. One deployed
model, made by the real stages 1 to 6 (``conftest.deployed_project``), answers them in
process (``Predictor.score``), in the batch command (a CSV in, a CSV out), on a Dask cluster
(``shared.serving.dask_scoring``) and over HTTP (the real service): the same labels, the same
errors and the same confidences (the service rounds them to 6 decimals). That a model file
written by an older main scores as it did then is ``tests/test_old_model_files.py``'s check;
that both engines' stages give the same records is ``tests/scale/test_stage_engines.py``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from service_harness import Service

from shared.data import partitions
from shared.serving import dask_scoring, predict
from shared.serving.predictor import Predictor

GOLDEN = json.loads((Path(__file__).resolve().parent / "model_files" / "main_d7910e1.json")
                    .read_text(encoding="utf-8"))
TEXTS = [*GOLDEN["texts"], "12345"]  # the last one cannot be scored: no words


@pytest.fixture(scope="module")
def in_process(deployed_project):
    """The in-process answers: the reference every other path is held to."""
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    frame = predictor.predict(TEXTS)
    assert frame["error"].tolist()[-1] and not any(frame["error"].tolist()[:-1])
    return predictor, frame


def test_the_batch_command_answers_as_the_predictor(in_process, tmp_path):
    predictor, expected = in_process
    source = tmp_path / "golden.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    predict.predict_file(predictor, source, tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype={"text": str})
    assert out["text"].tolist() == TEXTS
    assert out["label"].tolist() == expected["label"].fillna("").tolist()
    assert out["error"].tolist() == expected["error"].fillna("").tolist()
    scored = out["error"] == ""
    assert out["confidence"][scored].astype(float).tolist() == \
        expected["confidence"][scored.to_numpy()].tolist()


@pytest.mark.cluster
def test_dask_answers_as_the_predictor(in_process, tmp_path, dask_client):
    predictor, expected = in_process
    source = tmp_path / "golden.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    dask_scoring.score(dask_client, predictor, source, tmp_path / "out.parquet")
    out = pd.concat(partitions.iter_parts(tmp_path / "out.parquet"), ignore_index=True)
    assert out["label"].tolist() == expected["label"].fillna("").tolist()
    scored = (out["error"] == "").to_numpy()
    assert out["confidence"][scored].astype(float).tolist() == \
        expected["confidence"][scored].tolist()


def test_the_service_answers_as_the_predictor(in_process, deployed_project, tmp_path):
    _, expected = in_process
    scored = expected[expected["error"].isna() | (expected["error"] == "")]
    with Service("sentiment", deployed_project.root,
                 ("--log", str(tmp_path / "log.sqlite"))) as running:
        answer = running.client().post("/predict", {"texts": scored["text"].tolist()})
    assert answer.status == 200, answer.body
    predictions = answer.body["predictions"]
    assert [p["label"] for p in predictions] == scored["label"].tolist()
    assert [p["confidence"] for p in predictions] == [round(c, 6) for c in scored["confidence"]]
