"""The text rules (``shared.core.text_rules``): cleaning, duplicates, what can be scored."""

import subprocess
import sys

import pytest

from shared.core.text_rules import clean_text, dedup_key, unscoreable_reason


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  too   many\tspaces \n", "too many spaces"),
        ("line<br/>break<BR>", "line break"),
        ("zero\u200bwidth\x07bell", "zerowidthbell"),
        ("ﬁne ＦＵＬＬ width", "fine FULL width"),
        ("NOT good!!", "NOT good!!"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize("raw", ["  a  b ", "x<br>y", "ﬁ\u200b", "Ça va?\r\n",
                                 # an accent held apart by a zero-width space; a break made
                                 # by removing one; a break inside a break
                                 "cafe\u200b\u0301", "<b\u200br>", "<br<br>>"])
def test_clean_text_is_idempotent(raw):
    assert clean_text(clean_text(raw)) == clean_text(raw)


def test_dedup_key_ignores_case_and_spacing():
    assert dedup_key("Great  Film") == dedup_key("great film")


@pytest.mark.parametrize(("text", "reason"), [
    (None, "missing text"),
    (float("nan"), "missing text"),
    ("12345", "text is a number, not words"),
    (" 1,000.5 ", "text is a number, not words"),
    (42, "text is a number, not words"),
    (b"bytes", "text is not a string"),
    ("NULL", "text is a missing-value marker (NaN, NULL, N/A...)"),
    (" n/a ", "text is a missing-value marker (NaN, NULL, N/A...)"),
    ("   ", "empty text"),
    ("\u200b\u200b", "empty text"),
    ("x" * 20_001, "text longer than 20,000 characters"),
    ("great film", None),
    ("4 stars", None),
])
def test_one_rule_decides_what_a_scoreable_text_is(text, reason):
    assert unscoreable_reason(text) == reason


def test_the_length_limit_is_a_parameter():
    assert unscoreable_reason("a" * 11, max_chars=10) == "text longer than 10 characters"
    assert unscoreable_reason("a" * 10, max_chars=10) is None


def test_the_rules_load_without_scikit_learn():
    # the data stages apply them in kernels that never load scikit-learn
    code = "import sys, shared.core.text_rules, shared.data.validation; print('sklearn' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.strip()
    assert loaded == "False"
