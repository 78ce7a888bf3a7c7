"""Golden parity: the same texts get the same normalised text and the same answers on every
path that cleans or serves them.

The texts are the golden file's (``tests/model_files/main_d7910e1.json``: reviews with
names, negation, leetspeak, links and an emoji), plus awkward ones (``AWKWARD``: lookalike
letters, zero-width and direction marks, an accent a zero-width space holds apart, split and
leet letters, links, addresses, phone numbers and money, names, CRLF, HTML breaks, case
folding, CSV's missing-value spellings, a 15,000-character text) and some that cannot be
scored.

Normalised text: one CSV of them goes through stages 2 and 3 of both engines
(``shared.scale.stage_engines``: ``InMemory``, ``OutOfCore``), which must quarantine the same
rows for the same reasons and keep, de-duplicate and clean the same texts; each text kept is
what the model's cleaner (``TextCleaner``) makes of the text as sent, and the model's text
path (``TextNormalizer``, in a model file written and read back) makes the same of the text
as sent and as kept, as ``shared.core.normalise.for_spec`` (stage 3's examples) does.

Scores: one deployed model, made by the real stages 1 to 6 (``conftest.deployed_project``),
answers them in process (``Predictor.score``), in the batch command (a CSV in, a CSV out),
on a Dask cluster (``shared.serving.dask_scoring``), over HTTP (the real service) and in
stage 5 out of core (``shared.scale.streaming_eval.score_test`` on Parquet test parts that
hold the texts as sent and as stage 3 kept them, here and on the cluster): the same labels,
the same errors and the same scores (the service rounds confidences to 6 decimals). That a
model file written by an older main scores as it did then is
``tests/test_old_model_files.py``'s check; that both engines' stages give the same records
on the built-in set is ``tests/scale/test_stage_engines.py``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import small_model
from service_harness import Service

from shared.core import modelfile, normalise, problem
from shared.core.catalog import Catalog
from shared.data import partitions
from shared.data.tasks import get_task
from shared.model import models
from shared.model.text import TextCleaner
from shared.scale import streaming_eval
from shared.scale.stage_engines import InMemory, OutOfCore
from shared.serving import dask_scoring, predict
from shared.serving.predictor import Predictor

GOLDEN = json.loads((Path(__file__).resolve().parent / "model_files" / "main_d7910e1.json")
                    .read_text(encoding="utf-8"))
TEXTS = [*GOLDEN["texts"], "12345"]  # the last one cannot be scored: no words
#: (text, label): texts each rule of cleaning, de-duplication and the text path acts on
AWKWARD = [
    ("Great v\u0430lue, the p\u0430yment was easy", "positive"),  # Cyrillic a
    ("\U0001d405\U0001d411\U0001d404\U0001d404 gift with every order, lovely", "positive"),
    ("gr\u200beat film, lo\u200dvely cast", "positive"),  # zero-width space and joiner
    ("\ufeffA byte-order mark at the start, awful", "negative"),
    ("soft\u00adhyphen and \u202eright to left\u202c marks, boring", "negative"),
    ("caf\u00e9 cr\u00e8me was wonderful", "positive"),
    ("cafe\u200b\u0301 cre\u0300me was wonderful", "positive"),  # the same, once cleaned
    ("a<b\u200br>b was bad", "negative"),
    ("V-e-r-i-f-y your acc0unt, t e r r i b l e", "negative"),
    ("FR3E entry, Exclus1ve and amaz1ng", "positive"),
    ("see https://example.com/x?y=1 or www.example.org, mail jo.smith@example.org", "negative"),
    ("call +44 20 7946 0958 or 0800 555 0199, \u00a31,000 cash and 50% off, text WIN to 80086",
     "negative"),
    ("Olivia and Dave loved it, O'Brien's too, and Jessica-Mae", "positive"),
    ("line one\r\nline two were fine", "positive"),
    ("carriage\rreturn alone, tab\there, awful", "negative"),
    ("fine<br/>film<BR>great", "positive"),
    ("Stra\u00dfe film was awful", "negative"),
    ("STRASSE  FILM WAS AWFUL", "negative"),  # the same, case-folded
    ("loved it \U0001f60d\U0001f44d", "positive"),
    ("\u0130stanbul was lovely, \u01c5 and \ufb01ne", "positive"),
    ("<NA>", "positive"),  # words to this project; pandas' default reader, missing values
    ("-nan", "negative"),
    ("good " * 3000, "positive"),
    ("bad " * 6000, "negative"),  # longer than 20,000 characters
    ("\u200b\u200b", "negative"),  # nothing left once cleaned
    ("NULL", "negative"),
]


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


# -- normalised text: stages 2 and 3 of both engines, and the model's text path -------------
def golden_and_awkward() -> pd.DataFrame:
    """The golden texts (labelled as main's model scored them), the awkward ones and one
    number, as the rows of a data set."""
    golden = [(t, "positive" if s >= 0.5 else "negative")
              for t, s in zip(GOLDEN["texts"], GOLDEN["scores"], strict=True)]
    return pd.DataFrame([*golden, *AWKWARD, ("12345", "negative")], columns=["text", "label"])


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory) -> dict[str, dict[str, pd.DataFrame]]:
    """Stages 2 and 3 of each engine on one CSV: what each quarantined, collected and kept,
    and its preparation report; with the sent texts by row number (stage 2's ``row``)."""
    root = tmp_path_factory.mktemp("engines")
    spec = get_task("sentiment").spec
    source = golden_and_awkward()
    source.to_csv(root / "texts.csv", index=False)
    seen = {}
    for engine in (InMemory(), OutOfCore(dask="")):
        cat = Catalog.for_task("sentiment", root / engine.name)
        problem.save(spec, cat)
        engine.collect(cat, spec, str(root / "texts.csv"))
        prepared = engine.prepare(cat, spec)
        in_memory = isinstance(engine, InMemory)
        tables = ("raw_snapshot", "clean_dataset") if in_memory else ("raw_parts", "clean_parts")
        seen[engine.name] = {
            "quarantine": cat.read("quarantine")[["row", "reason"]],
            **{name: (cat.read(table) if in_memory else
                      pd.concat(partitions.iter_parts(cat.path(table)), ignore_index=True))
               [["row", "text", "label"]] for name, table in zip(("raw", "kept"), tables,
                                                                 strict=True)},
            "report": {k: v for k, v in prepared.report.to_dict().items() if k != "by_dataset"},
        }
    sent = source.set_axis(range(1, len(source) + 1))["text"]  # stage 2 numbers rows from 1
    return {**seen, "sent": sent}


def test_both_engines_quarantine_collect_and_keep_the_same_texts(both_engines):
    memory, out_of_core = both_engines["memory"], both_engines["out_of_core"]
    assert memory["quarantine"].to_dict("records") == out_of_core["quarantine"].to_dict("records")
    assert set(memory["quarantine"]["row"]) == {32, 33, 34, 35}  # too long, empty, NULL, 12345
    for name in ("raw", "kept"):
        pd.testing.assert_frame_equal(memory[name], out_of_core[name], check_dtype=False)
    assert memory["report"] == out_of_core["report"]
    # the second of each pair is the first once cleaned (and case-folded): both engines drop it
    assert memory["report"]["exact_duplicates_dropped"] == 2
    assert not {15, 26} & set(memory["kept"]["row"])


def test_stage_3_keeps_what_the_models_cleaner_makes_of_the_text_as_sent(both_engines):
    kept = both_engines["memory"]["kept"]
    sent = both_engines["sent"][kept["row"]].tolist()
    assert TextCleaner().transform(sent).tolist() == kept["text"].tolist()
    assert TextCleaner().transform(kept["text"]).tolist() == kept["text"].tolist()


@pytest.fixture(scope="module")
def text_path_model(deployed_project, tmp_path_factory):
    """A model with the sentiment spec's text path, fitted on the deployed project's training
    split by the real pipeline, then written to a model file and read back; and the text path
    stage 3's examples use (``normalise.for_spec``) fitted on the same split."""
    spec = problem.load(deployed_project)
    train = deployed_project.read("train")
    model = small_model(spec.seed).set_params(normalise=models.text_normaliser(spec))
    model.fit(train["text"], train["label"])
    path = modelfile.save_model(model, tmp_path_factory.mktemp("model") / "model.skops")
    return modelfile.load_model(path), normalise.for_spec(spec, train["text"])


def test_the_models_text_path_is_the_same_for_the_text_as_sent_and_as_kept(both_engines,
                                                                           text_path_model):
    model, examples_path = text_path_model
    assert model.steps[1][0] == "normalise"
    kept = both_engines["memory"]["kept"]
    sent = both_engines["sent"][kept["row"]].tolist()
    as_sent = [str(t) for t in model[:2].transform(sent)]
    as_kept = [str(t) for t in model[:2].transform(kept["text"])]
    assert as_sent == as_kept == [examples_path(t) for t in kept["text"]]
    assert as_sent != kept["text"].tolist()  # the path did act: names, placeholders, leet


# -- scores out of core: stage 5's stream over Parquet test parts -------------------------
def streamed_test_parts(root, both_engines, predictor) -> tuple[Catalog, list[str]]:
    """Test parts (``shared.data.partitions``, three rows a part) holding the golden texts as
    sent, then every text stage 3 kept out of core; and the texts as sent, in that order."""
    kept = both_engines["out_of_core"]["kept"]
    sent = [*GOLDEN["texts"], *both_engines["sent"][kept["row"]]]
    texts = [*GOLDEN["texts"], *kept["text"]]
    labels = predictor.predict(sent)["label"].tolist()
    cat = Catalog.for_task("sentiment", root)
    with partitions.PartWriter(cat.path("test_parts"), part_rows=3) as writer:
        writer.write(pd.DataFrame({"row": range(1, len(texts) + 1), "text": texts,
                                   "label": labels, "source": "golden"}))
    assert len(partitions.part_files(cat.path("test_parts"))) > 1
    return cat, sent


def test_streaming_the_test_parts_scores_as_the_predictor(in_process, both_engines, tmp_path):
    predictor, _ = in_process
    cat, sent = streamed_test_parts(tmp_path, both_engines, predictor)
    expected = predictor.score(sent)
    assert not any(expected.error)
    tested = streaming_eval.score_test(cat, predictor.model, predictor.spec, predictor.threshold)
    assert tested.scores.tolist() == expected.score.tolist()
    assert tested.labels.tolist() == expected.label.tolist()


@pytest.mark.cluster
def test_streaming_the_test_parts_on_dask_scores_as_the_predictor(in_process, both_engines,
                                                                   tmp_path, dask_client):
    predictor, _ = in_process
    cat, sent = streamed_test_parts(tmp_path, both_engines, predictor)
    tested = streaming_eval.score_test(cat, predictor.model, predictor.spec, predictor.threshold,
                                       client=dask_client)
    assert tested.scores.tolist() == predictor.score(sent).score.tolist()

