"""The text rules as a pipeline step (``shared.text.TextCleaner``)."""

from shared.text import TextCleaner
from shared.text_rules import clean_text


def test_text_cleaner_is_the_same_function():
    texts = ["  A<br>b ", "c"]
    assert list(TextCleaner().fit(texts).transform(texts)) == [clean_text(t) for t in texts]
