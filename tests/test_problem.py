import pytest

from shared import problem
from shared.catalog import Catalog
from shared.problem import ProblemSpec, ProblemSpecError
from shared.tasks import TASKS, UnknownTaskError, get_task


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
