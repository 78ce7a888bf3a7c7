"""The one interface of stages 2 to 5 (shared.scale.stage_engines), on both engines.

Each engine runs every step on the built-in sentiment set with the real code; the search is
narrowed to one configuration of one family so that the steps stay fast.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pandas as pd
import pytest

from shared.core import problem
from shared.core.catalog import PROJECT_DIR, Catalog
from shared.data import engines, partitions
from shared.data.tasks import get_task
from shared.model import evaluation, training
from shared.scale import incremental, stage_engines, stages, streaming_eval
from shared.scale.stage_engines import InMemory, OutOfCore, StageEngine

STEPS = ("collect", "prepare", "plan_search", "search", "fit_and_save", "calibrate",
         "score_test", "term_weights")


def narrowed(plan: stage_engines.SearchPlan) -> stage_engines.SearchPlan:
    """The plan with its first family only, each searched setting at its first value."""
    first = plan.candidates[0]
    grid = {name: values[:1] for name, values in first.grids[plan.budget].items()}
    return dataclasses.replace(plan, candidates=[
        dataclasses.replace(first, grids={plan.budget: grid}, local_grids={})])


def run_every_step(engine: StageEngine, root) -> dict:
    """Stages 2 to 5 through ``engine``, as the notebooks call it (stage 4 step by step, its
    search narrowed); every record it returned."""
    spec = get_task("sentiment").spec
    cat = Catalog.for_task("sentiment", root)
    problem.save(spec, cat)
    seen: dict = {"cat": cat, "spec": spec}
    seen["collected"] = engine.collect(cat, spec, "builtin")
    seen["prepared"] = engine.prepare(cat, spec)
    seen["plan"] = plan = narrowed(engine.plan_search(cat, spec))
    seen["result"] = result = engine.search(spec, plan, n_jobs=1)
    seen["choice"] = choice = training.choose_configuration(result, plan.candidates, "best",
                                                            spec.cv_folds)
    seen["trained"] = engine.fit_and_save(cat, spec, plan, result, choice, n_jobs=1)
    evaluated = stages.evaluate_stage(cat, spec, engine)  # stage 5 as notebook 05 runs it
    for name in ("calibrated", "threshold", "tested", "terms", "behaviour"):
        seen[name] = getattr(evaluated, name)
    return seen


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(incremental, "BATCH_ROWS", 200)  # partial_fit over several batches
        return {engines.MEMORY: run_every_step(InMemory(), tmp_path_factory.mktemp("memory")),
                engines.OUT_OF_CORE: run_every_step(OutOfCore(epochs=2, dask=""),
                                                    tmp_path_factory.mktemp("out_of_core"))}


def test_for_name_gives_each_engine_and_refuses_others():
    assert isinstance(stage_engines.for_name(engines.MEMORY), InMemory)
    assert isinstance(stage_engines.for_name(engines.OUT_OF_CORE), OutOfCore)
    assert stage_engines.for_name(engines.OUT_OF_CORE).name == engines.OUT_OF_CORE
    with pytest.raises(ValueError, match="engine='gpu'"):
        stage_engines.for_name("gpu")


def test_both_engines_take_the_interface_s_arguments():
    for step in STEPS:
        expected = inspect.signature(getattr(StageEngine, step))
        for engine in (InMemory, OutOfCore):
            assert inspect.signature(getattr(engine, step)) == expected, (engine.__name__, step)


def test_both_engines_collect_and_keep_the_same_rows(runs):
    memory, out_of_core = (runs[e] for e in (engines.MEMORY, engines.OUT_OF_CORE))
    counts = [(r["collected"].report.rows_read, r["collected"].report.rows_kept,
               r["collected"].report.rows_quarantined, r["prepared"].report.rows_out)
              for r in (memory, out_of_core)]
    assert counts[0] == counts[1]
    for name, run in runs.items():
        assert engines.engine_of(run["cat"]) == name
        assert {"text", "label"} <= set(run["collected"].first_rows.columns)
        prepared = run["prepared"]
        assert sum(len(frame) for frame in prepared.splits.values()) == prepared.report.rows_out
        assert len(prepared.train_view) == len(prepared.splits["train"])  # all: under EDA_ROWS
    assert memory["cat"].path("test").is_file() and out_of_core["cat"].path("test_parts").is_dir()


def test_every_step_returns_the_same_records_on_both_engines(runs):
    shapes = []
    for name, run in runs.items():
        tested, trained, plan = run["tested"], run["trained"], run["plan"]
        test_rows = len(run["prepared"].splits["test"])
        assert len(tested.labels) == len(tested.scores) == test_rows == \
            int(tested.slices.xs("length")["texts"].sum())
        assert trained.report.chosen == plan.candidates[0].name
        assert trained.report.search["selection"] == run["choice"].rule == "best"
        assert {"train_size", "valid_mean"} <= set(trained.curve.columns)
        assert run["calibrated"].method in ("none", "sigmoid", "isotonic")
        assert (name == engines.OUT_OF_CORE) == (trained.report.search.get("engine") == name)
        shapes.append((list(tested.worst.columns), list(tested.slices.columns),
                       tested.slices.index.names, list(run["terms"].columns),
                       {"score", "predicted", "confidence"} <= set(tested.reference.columns)))
    assert shapes[0] == shapes[1]


def test_slices_and_behaviour_together_are_what_one_call_gave_before(runs):
    memory = runs[engines.MEMORY]
    cat, spec, threshold, checked = (memory[k] for k in ("cat", "spec", "threshold", "behaviour"))
    tested = memory["tested"]
    joined = pd.concat([tested.slices, evaluation.behaviour_slices(checked, threshold, spec)])
    pd.testing.assert_frame_equal(joined, evaluation.slice_metrics(
        cat.read("test"), tested.scores, threshold, spec, checked))
    ooc = runs[engines.OUT_OF_CORE]
    cat, spec, threshold, checked = (ooc[k] for k in ("cat", "spec", "threshold", "behaviour"))
    joined = pd.concat([ooc["tested"].slices,
                        evaluation.behaviour_slices(checked, threshold, spec)])
    counts = streaming_eval.score_test(cat, ooc["calibrated"].model, spec, threshold).slices
    pd.testing.assert_frame_equal(joined, streaming_eval.slice_metrics(counts, threshold, spec,
                                                                       checked))


def test_out_of_core_refuses_a_hash_split_before_writing_a_part(tmp_path, spec):
    cat = Catalog.for_task("sentiment", tmp_path)
    OutOfCore(dask="").collect(cat, spec, "builtin")
    with pytest.raises(ValueError, match="in-memory engine only"):
        OutOfCore().prepare(cat, spec, ["feedback"])
    assert partitions.count_rows(cat.path("raw_parts")) > 0
    assert not cat.path("train_parts").exists() and not cat.path("clean_parts").exists()


def test_collecting_loads_no_scikit_learn(tmp_path):
    # stage 2's kernel stays light on either engine (tests/run/test_notebook.py checks its imports)
    code = ("import sys\n"
            "from shared.core.catalog import Catalog\n"
            "from shared.data.tasks import get_task\n"
            "from shared.scale import stage_engines\n"
            "spec = get_task('sentiment').spec\n"
            "for name in ('memory', 'out_of_core'):\n"
            f"    cat = Catalog.for_task('sentiment', {str(tmp_path)!r} + '/' + name)\n"
            "    stage_engines.for_name(name).collect(cat, spec, 'builtin')\n"
            "print('sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, check=True,
                            capture_output=True, text=True)
    assert result.stdout.strip() == "False"
