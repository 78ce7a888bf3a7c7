import pytest

from shared.core import problem
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec, ProblemSpecError
from shared.data import tasks
from shared.data.tasks import TASKS, UnknownTaskError, get_task


@pytest.mark.parametrize("name", sorted(TASKS))
def test_builtin_specs_are_valid_and_round_trip(name, tmp_path):
    spec = get_task(name).spec.validate()
    cat = Catalog.for_task(name, tmp_path)
    problem.save(spec, cat)
    assert problem.load(cat) == spec


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("primary_metric", "auc", "primary_metric='auc'"),
        ("target", 1.5, "target=1.5"),
        ("positive_label", "maybe", "positive_label='maybe'"),
        ("confidence_threshold", 0.3, "confidence_threshold=0.3"),
        ("cv_folds", 1, "cv_folds=1"),
    ],
)
def test_invalid_fields_are_named(spec, field, value, message):
    with pytest.raises(ProblemSpecError, match=message.replace("(", r"\(")):
        spec.with_overrides(**{field: value})


def test_none_override_keeps_default(spec):
    assert spec.with_overrides(target=None) == spec
    assert spec.with_overrides(target=0.9).target == 0.9


def test_unknown_override_lists_valid_fields(spec):
    with pytest.raises(ProblemSpecError, match="unknown problem-spec field"):
        spec.with_overrides(colour="red")


def test_spam_rule_needs_a_false_positive_limit(spam_spec):
    with pytest.raises(ProblemSpecError, match="max_false_positive_rate"):
        ProblemSpec.from_dict({**spam_spec.to_dict(), "max_false_positive_rate": None})


def test_negative_label(spec, spam_spec):
    assert spec.negative_label == "negative"
    assert spam_spec.negative_label == "ham"


def test_unknown_task_lists_choices():
    with pytest.raises(UnknownTaskError, match="sentiment, spam"):
        get_task("fraud")


def test_load_missing_spec_says_which_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_problem_definition"):
        problem.load(Catalog.for_task("sentiment", tmp_path))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_model_age_days", 0), ("max_latency_ratio", 1.0), ("max_invalid_scores", -1),
     ("min_behaviour_pass_rate", 1.5), ("slice_margin", -0.1), ("min_slice_texts", 0),
     ("max_metric_regression", 2), ("max_text_ms", 0), ("max_model_mb", -1.0),
     ("label_delay_hours", -1), ("retention_days", 0),
     ("interval_margin", 1.5), ("regression_confidence", 0.3), ("regression_confidence", 1.0),
     ("max_feedback_share", 1.0), ("max_feedback_share", -0.1)],
)
def test_release_and_monitoring_fields_are_checked(spec, field, value):
    with pytest.raises(ProblemSpecError, match=f"{field}={value!r}"):
        spec.with_overrides(**{field: value})


def test_a_public_data_set_brings_its_own_defaults():
    spec, sources = tasks.default_spec("spam", "sms-spam")
    assert spec.max_false_positive_rate == 0.005
    assert sources["max_false_positive_rate"] == "data set sms-spam default"
    assert sources["target"] == "task default"
    assert any("0.5% of ham blocked" in note for note in spec.notes)
    builtin, builtin_sources = tasks.default_spec("spam", "builtin")
    assert builtin == get_task("spam").spec
    assert set(builtin_sources.values()) == {"task default"}
    assert tasks.default_spec("spam", "my_messages.csv")[0] == get_task("spam").spec


@pytest.mark.parametrize("dataset", ["sms-spam-only", "builtin+sms-spam-only",
                                     "sms-spam+builtin"])
def test_a_mix_holding_a_public_set_gets_its_defaults(dataset):
    spec, sources = tasks.default_spec("spam", dataset)
    assert spec.max_false_positive_rate == 0.005
    assert sources["max_false_positive_rate"] == "data set sms-spam default"
    assert any("--dataset sms-spam means sms-spam+builtin" in note for note in spec.notes)


def test_overrides_that_change_a_value_are_recorded(tmp_path):
    spec, sources = tasks.run_spec("spam", "sms-spam", target=0.7, seed=42, cv_folds=None)
    assert spec.target == 0.7 and sources["target"] == "override -p"
    assert sources["seed"] == "task default", "an override equal to the default changes nothing"
    assert spec.value_sources == {"target": "override -p",
                                  "max_false_positive_rate": "data set sms-spam default",
                                  "interval_margin": "data set sms-spam default"}
    cat = Catalog.for_task("spam", tmp_path)
    problem.save(spec, cat)
    assert problem.load(cat) == spec
    table = problem.as_table(spec)
    assert table.loc["target", "source"] == "override -p"
    assert table.loc["cv_folds", "source"] == "task default"
    changed = problem.changed_values(spec, get_task("spam").spec)
    assert changed == {
        "target": {"value": 0.7, "default": 0.8, "source": "override -p"},
        "max_false_positive_rate": {"value": 0.005, "default": 0.03,
                                    "source": "data set sms-spam default"},
        "interval_margin": {"value": 0.07, "default": 0.2,
                            "source": "data set sms-spam default"},
    }


def test_a_spec_written_before_the_new_fields_still_loads(spec):
    old = {k: v for k, v in spec.to_dict().items()
           if k not in ("max_model_age_days", "slice_margin", "value_sources")}
    assert ProblemSpec.from_dict(old) == spec


@pytest.mark.parametrize(("test_size", "folds", "minimum"),
                         [(0.2, 5, 7), (0.1, 5, 10), (0.3, 10, 15), (0.2, 2, 8)])
def test_minimum_texts_per_label(spec, test_size, folds, minimum):
    assert spec.with_overrides(test_size=test_size,
                               cv_folds=folds).min_texts_per_label() == minimum


def test_each_task_names_the_feature_groups_its_search_switches():
    assert get_task("sentiment").spec.feature_groups == ("char", "lexicon", "embedding")
    assert get_task("spam").spec.feature_groups == ("char", "shape")


@pytest.mark.parametrize("groups", [("char", "emoji"), ("char", "char"), "char"])
def test_feature_groups_must_be_known_and_named_once(spec, groups):
    with pytest.raises(ProblemSpecError, match="feature_groups="):
        spec.with_overrides(feature_groups=groups)


def test_feature_groups_round_trip_and_an_older_spec_gets_the_default(spec, tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    chosen = spec.with_overrides(feature_groups=("shape",))
    problem.save(chosen, cat)
    assert cat.read("problem_spec")["feature_groups"] == ["shape"]
    assert problem.load(cat) == chosen
    assert spec.with_overrides(feature_groups=()).feature_groups == ()
    old = {k: v for k, v in spec.to_dict().items() if k != "feature_groups"}
    assert ProblemSpec.from_dict(old).feature_groups == ("char",)


def test_a_run_names_the_feature_groups_as_one_comma_separated_parameter():
    spec, sources = tasks.run_spec("sentiment", "builtin", feature_groups="char, lexicon")
    assert spec.feature_groups == ("char", "lexicon")
    assert sources["feature_groups"] == "override -p"
    with pytest.raises(ProblemSpecError, match="feature_groups="):
        tasks.run_spec("sentiment", "builtin", feature_groups="char,emoji")
