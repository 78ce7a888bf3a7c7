import pytest

from shared.text import TextCleaner, clean_text, dedup_key


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


@pytest.mark.parametrize("raw", ["  a  b ", "x<br>y", "ﬁ\u200b", "Ça va?\r\n"])
def test_clean_text_is_idempotent(raw):
    assert clean_text(clean_text(raw)) == clean_text(raw)


def test_dedup_key_ignores_case_and_spacing():
    assert dedup_key("Great  Film") == dedup_key("great film")


def test_text_cleaner_is_the_same_function():
    texts = ["  A<br>b ", "c"]
    assert list(TextCleaner().fit(texts).transform(texts)) == [clean_text(t) for t in texts]
