"""The text rules as a pipeline step (``shared.model.text.TextCleaner``)."""

from shared.core.text_rules import clean_text
from shared.model.text import TextCleaner


def test_text_cleaner_is_the_same_function():
    texts = ["  A<br>b ", "c"]
    assert list(TextCleaner().fit(texts).transform(texts)) == [clean_text(t) for t in texts]
