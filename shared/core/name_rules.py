"""Step 4 of the text path (``shared.core.normalise``): which words are person first names.

A word is a name when the list holds it (Faker's first names minus English words,
``shared.core.names``), and, as the spec's ``name_blinding`` says, also when it is written like a
name and the training texts taught that it is no word: ``known_words`` is what they teach, and
``WordCollector`` learns the same a batch at a time (the out-of-core training stream).

Plain Python and the two word lists."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable

from shared.core.names import (
    NAME_TOKEN,
    SUFFIXES,
    blinding_names,
    english_words,
    faker_first_names,
    web2_words,
)
from shared.core.names import in_words as _in

_NAME_LIKE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_WORD_PART = re.compile(r"[^\W\d_]+")


@functools.cache
def _name_words() -> dict[str, str]:
    """English words that Faker also lists as first names ("will", "grace", "tyrone"), and
    the same with an ending ("marks", "loved"), each to its word: what a corpus written in lower
    case can teach (``WordCollector``)."""
    words = english_words() & faker_first_names()
    return {w + ending: w for w in words for ending in ("", *SUFFIXES)}


@functools.cache
def _common_words() -> frozenset[str]:
    """English words that are no first names ("Avoid", "Loved" at a sentence's start). A ``web2``
    word that Faker lists as a first name ("Tyrone") is a name when capitalised, unless the
    training texts held it as a word ("will", "bill": in lower case beside capitals, or at all
    in a corpus written in lower case)."""
    return english_words() - faker_first_names()


@functools.cache
def _common_words_before() -> frozenset[str]:
    """Older files', caseless corpora's ("Love it") and spam's rule: "Grace" a name, "Tyrone" not."""
    names = {w.lower() for w in web2_words() if w[:1].isupper()} & faker_first_names()
    return english_words() - names


def _capitalised(token: str) -> bool:
    """"Jessica", "DeShawn", "O'Brien": an upper-case first letter and some lower case."""
    return len(token) > 1 and token[0].isupper() and any(c.islower() for c in token)


def _is_name(token: str, names: frozenset[str], mode: str, known: Collection[str],
             name_words: bool = True) -> bool:
    lower = token.lower()
    if lower in names:
        return True
    joined = "'" in token or "’" in token or "-" in token
    if not joined and not (mode != "list" and token[0].isupper()):
        return False  # the common case: a word in lower case, not on the list
    core = _POSSESSIVE.sub("", token) if joined else token
    if joined and all(p in names for p in re.split(r"['’-]", core.lower())):
        return True
    first = re.split(r"['’]", core)[0] if joined else core
    if mode == "list_and_capitalised":
        common = _common_words() if name_words and known else _common_words_before()
        return (_capitalised(first) and not _in(first.lower(), known)
                and not _in(first.lower(), common))
    if mode == "list_and_unseen":  # "Jessica", never "PayPal", "HMRC" or a word of training
        return (len(first) > 1 and first[0].isupper() and first[1:].islower()
                and first.lower() not in known and not _in(first.lower(), _common_words_before()))
    return False


#: the words whose blinding a text path remembers (then it starts again)
DECIDED_WORDS = 200_000


def blind_names(text: str, mode: str = "list", known: Collection[str] = (),
                decided: dict[str, bool] | None = None, name_words: bool = True) -> str:
    """Person first names replaced by ``xxname``: those of the list (any case), and with
    ``mode`` "list_and_capitalised" also capitalised words whose lower-case form, or its stem
    ("Loved": "love"), is neither in ``known``, the words the training texts held in lower
    case, nor an English word that is no first name ("Avoid", "Inedible" at the start of a
    sentence in a small corpus). A corpus written in lower case teaches no case, only which
    first names that are also English words it uses as words (``known``: "will", "grace";
    :func:`known_words`), so there the English words decide the rest. A first name that is
    also an English word ("Tyrone", "Grace") is blinded by this rule when the training texts
    never held it as a word (:func:`_common_words`); with ``known`` empty, the older rule
    keeps it a word.

    ``mode`` "list_and_unseen" (spam) also blinds a word written "Jessica" (one capital, then
    lower case) that the training texts never held in any case (``known``) and that is no
    English word: a brand or cue the training saw ("Amazon"), one with capitals inside
    ("PayPal") or one in capitals ("HMRC", "FREE") stays, as the model may lean on it.

    A contraction is judged by its first part ("I'd"); a possessive keeps its "'s".

    ``decided``, when given, holds what was decided for each word before with the same
    ``mode`` and ``known`` (:func:`text_path` keeps one per path): a word is judged once.
    ``name_words`` False: the rule of older model files (:func:`_common_words_before`)."""
    if mode == "off":
        return text
    names = blinding_names()

    def is_name(token: str) -> bool:
        if decided is None:
            return _is_name(token, names, mode, known, name_words)
        found = decided.get(token)
        if found is None:
            if len(decided) >= DECIDED_WORDS:
                decided.clear()
            found = decided[token] = _is_name(token, names, mode, known, name_words)
        return found

    # most texts name nobody: say so with set operations before looking at any token
    if names.isdisjoint(_WORD_PART.findall(text.lower())) and not (mode != "list" and any(
            is_name(t) for t in _NAME_LIKE.findall(text) if t[0].isupper())):
        return text
    pieces, end = [], 0
    for match in _NAME_LIKE.finditer(text):
        token = match.group(0)
        if is_name(token):
            possessive = _POSSESSIVE.search(token)
            pieces += [text[end:match.start()], NAME_TOKEN,
                       possessive.group(0) if possessive else ""]
            end = match.end()
    return "".join(pieces) + text[end:] if pieces else text


#: a corpus where fewer than one text in this many uses capitals holds no case to learn from
CASED_SHARE = 20
_LOWER_WORD = re.compile(r"\b[^\W\d_A-Z]+\b")


def known_words(texts: Collection[str], mode: str) -> set[str]:
    """What the text path learns from the training texts: for "list_and_unseen", every word
    they hold (lower-cased); otherwise every word written all in lower case in a text that
    uses capitals. Only there does lower case say "a word, not a name": in a corpus written
    all in lower case (rt-polarity) "jessica" is lower case too. When fewer than one text in
    ``CASED_SHARE`` uses capitals, the corpus teaches no case: for "list_and_capitalised" the
    set is then the first names that are also English words ("will", "grace") that it uses,
    so that "Will" stays a word and "Tyrone", never used, is a name; for "list" it is empty."""
    collector = WordCollector(mode)
    collector.update(texts)
    return collector.words()


class WordCollector:
    """:func:`known_words` of texts given a batch at a time (the out-of-core training
    stream): the same set as of all the texts at once."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.texts = self.cased = 0
        self._words: set[str] = set()
        self._name_words: set[str] = set()  # for a corpus written in lower case

    def update(self, texts: Iterable[str]) -> None:
        """Take in the words of ``texts``."""
        forms = _name_words()
        for text in texts:
            self.texts += 1
            if self.mode == "list_and_unseen":
                self._words.update(w.lower() for w in _WORD_PART.findall(text))
                continue
            if text != text.lower():  # it uses capitals (a text without letters does not)
                self.cased += 1
                self._words.update(w for w in _LOWER_WORD.findall(text) if w.islower())
            if self.mode == "list_and_capitalised":  # the word and its stem: "loved", "love"
                for word in _WORD_PART.findall(text):
                    if word in forms:
                        self._name_words.update((word, forms[word]))

    def words(self) -> set[str]:
        """The words learnt from every text so far."""
        if self.mode != "list_and_unseen" and self.cased < self.texts / CASED_SHARE:
            return set(self._name_words)
        return set(self._words)
