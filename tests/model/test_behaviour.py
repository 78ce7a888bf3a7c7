"""Behavioural tests: the shipped case files follow the schema, errors name row and field,
and each kind of check passes or fails as it should."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from shared.core.catalog import Catalog
from shared.core.storage import read_csv
from shared.core.text_rules import dedup_key
from shared.data.tasks import TASKS
from shared.model import behaviour

HEADER = "kind,capability,text,variant,expected,direction\n"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_shipped_case_file_follows_the_schema(task):
    spec = TASKS[task].spec
    cases = behaviour.load_cases(Catalog.for_task(task).path("behaviour_cases"), spec)
    assert 40 <= len(cases) <= 60
    counts = cases["kind"].value_counts()
    assert set(counts.index) == set(behaviour.KINDS) and counts.min() >= 10
    mft = cases[cases["kind"] == "MFT"]
    assert set(mft["expected"]) == set(spec.labels)
    assert cases.groupby("kind")["capability"].nunique().min() >= 2


@pytest.mark.parametrize("task", sorted(TASKS))
def test_cases_are_not_copies_of_the_texts_a_model_learns_from(task):
    """A case copied from the data would test memory, not behaviour."""
    cat = Catalog.for_task(task)
    cases = behaviour.load_cases(cat.path("behaviour_cases"), TASKS[task].spec)
    data = read_csv(TASKS[task].builtin_dataset)["text"]
    texts = pd.concat([cases["text"], cases.loc[cases["variant"] != "", "variant"]])
    assert not set(texts.map(dedup_key)) & set(data.map(dedup_key))
    grams = CountVectorizer(analyzer="char", ngram_range=(5, 5), binary=True).fit(data)
    x_cases, x_data = grams.transform(texts), grams.transform(data)
    inter = (x_cases @ x_data.T).toarray()
    sizes = np.asarray(x_cases.sum(axis=1)) + np.asarray(x_data.sum(axis=1)).T
    assert (inter / np.maximum(sizes - inter, 1)).max() < 0.6


def test_schema_errors_name_the_file_the_row_and_the_field(tmp_path, spec):
    path = tmp_path / "behaviour.csv"
    path.write_text(HEADER + "\n".join([
        "MFT,plain positive,Lovely and warm.,,positive,",          # 1 fine
        "MFT,plain negative,Cold and slow.,,neutral,",             # 2 unknown label
        "INV,typo,Great food.,,positive,",                         # 3 no variant
        "DIR,add negative phrase,Nice.,Nice. Terrible.,,sideways",  # 4 bad direction
        "XYZ,what,Something.,,positive,",                          # 5 unknown kind
        "DIR,add negative phrase,Fine.,Fine. Awful.,negative,not_up",  # 6 expected on DIR
        "MFT,plain positive,lovely and warm.,,positive,",          # 7 same as row 1
    ]) + "\n", encoding="utf-8")
    with pytest.raises(behaviour.BehaviourFileError) as error:
        behaviour.load_cases(path, spec)
    message = str(error.value)
    assert message.startswith("behaviour.csv: 6 problem(s)")
    for expected in (
        "row 2, field 'expected': 'neutral' is not a label of task sentiment",
        "row 3, field 'variant': a INV case needs the changed text",
        "row 4, field 'direction': 'sideways' is not one of not_up, not_down",
        "row 5, field 'kind': 'XYZ' is not one of MFT, INV, DIR",
        "row 6, field 'expected': must be empty for a DIR case",
        "row 7: the same case as row 1",
    ):
        assert expected in message


def test_a_wrong_header_is_named(tmp_path, spec):
    path = tmp_path / "cases.csv"
    path.write_text("kind,text,label\nMFT,Good.,positive\n", encoding="utf-8")
    with pytest.raises(behaviour.BehaviourFileError,
                       match="cases.csv: the header must be .*; missing capability, variant, "
                             "expected, direction; unknown label"):
        behaviour.load_cases(path, spec)


@pytest.fixture
def toy_cases(tmp_path, spec):
    path = tmp_path / "behaviour.csv"
    path.write_text(HEADER + "\n".join([
        "MFT,plain positive,wonderful and lovely,,positive,",
        "MFT,plain negative,terrible and awful,,negative,",
        "MFT,negation,not terrible at all,,positive,",
        "INV,casing,great value,GREAT VALUE,positive,",
        "INV,typo,awful service and cold food,awful servise and cold fod,negative,",
        "DIR,add negative phrase,superb acting,superb acting. terrible awful boring,,not_up",
        "DIR,add positive phrase,boring film,boring film. wonderful superb lovely,,not_down",
        "DIR,add positive phrase,great battery,great battery. terrible awful broke,,not_down",
    ]) + "\n", encoding="utf-8")
    return behaviour.load_cases(path, spec)


def test_each_kind_of_check_passes_or_fails(toy_model, toy_cases, spec):
    result = behaviour.run(toy_model, toy_cases, 0.5, spec)
    verdicts = dict(zip(result.cases["row"], result.cases["passed"], strict=True))
    # a bag of words reads "not terrible" as terrible: the negation case fails
    assert verdicts == {1: True, 2: True, 3: False, 4: True, 5: True, 6: True, 7: True,
                        8: False}
    rates = result.pass_rates()
    assert list(rates.index) == ["MFT", "INV", "DIR"]
    assert rates["pass_rate"].round(3).tolist() == [0.667, 1.0, 0.667]
    assert result.failures()["row"].tolist() == [3, 8]
    labelled = result.labelled()
    assert len(labelled) == 3 + 2 * 2 and set(labelled["kind"]) == {"MFT", "INV"}
    summary = result.summary()
    assert json.loads(json.dumps(summary))["pass_rates"]["DIR"] == {
        "cases": 3, "passed": 2, "pass_rate": pytest.approx(2 / 3)}
    assert [f["row"] for f in summary["failures"]] == [3, 8]
