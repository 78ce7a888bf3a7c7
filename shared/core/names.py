"""Person first names and gendered words: the lists the text path blinds and augments with,
and the disjoint lists stage 5 checks with.

**First names** come from Faker's person providers (MIT licence), every locale that has
Latin-script first names: about 21,000 names of many origins. A name that is also an English
word ("will", "grace", "mark", "joy", "rich", "bill") stays a word. Frequency cannot tell the
two apart (word lists rank "jessica" as common, because names are common), so the test is
the case of Webster's Second International word list (``web2``, public domain, shipped by
the ``english-words`` package, MIT): its lower-case entries are words, its capitalised ones
proper names. A Faker name whose lower-case form is a lower-case ``web2`` entry is a word.

**Held out.** A fifth of the names (by a hash of the name, so the split never changes) is
kept out of the blinding list: stage 5's name check (``shared.model.sensitivity``) uses only those,
so it measures whether blinding generalises to names the list does not hold, not the list.

**Gendered words** are pairs ("husband"/"wife"). Counterfactual data augmentation (Lu et al.
2018) adds, for every training text with a gendered word, a copy with each such word swapped
(:func:`gender_swap`), so the model cannot learn that "wife" is more negative than "husband".
Ten pairs are held out of the augmentation, for stage 5's gender check.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import pickle
import re
import unicodedata
from importlib import resources
from pathlib import Path

import numpy as np

#: the placeholder token every person first name becomes
NAME_TOKEN = "xxname"
#: the share of names (and gender pairs) held out for stage 5's checks: one in ``HOLD_OUT``
HOLD_OUT = 5
_NAME_ATTRIBUTES = ("first_names", "first_names_male", "first_names_female",
                    "first_names_nonbinary", "first_names_unisex",
                    # lists some locales keep apart: Estonia's Estonian and Russian names,
                    # Japan's and China's first names in Latin letters ("Hiroshi", "Mei")
                    "first_names_est", "first_names_male_est", "first_names_female_est",
                    "first_names_rus", "first_names_male_rus", "first_names_female_rus",
                    "first_romanized_names", "first_romanized_names_male",
                    "first_romanized_names_female")
_WORDLIKE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


class _PlainDataUnpickler(pickle.Unpickler):
    """Reads a pickle of plain data (sets and strings) and refuses anything else.

    ``english-words`` ships its lists as pickles of a ``set`` of ``str``: built from opcodes
    alone, with no global to look up. Refusing every global means the file can build no
    object but those, whatever it holds.
    """

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"english-words list refers to {module}.{name}; only plain "
                                     "sets of strings are read")


def _read_web2() -> list[str]:
    data = resources.files("english_words").joinpath("data", "web2_alpha.pickle").read_bytes()
    return sorted(str(w) for w in _PlainDataUnpickler(io.BytesIO(data)).load())


@functools.cache
def web2_words() -> frozenset[str]:
    """The ``web2`` entries (alphabetic, cased as in the list), read as plain data."""
    return frozenset(_word_lists()["web2"])


@functools.cache
def english_words() -> frozenset[str]:
    """Lower-case ``web2`` entries: English words, not proper names."""
    return frozenset(w for w in web2_words() if w.islower())


#: endings that make a word of a word ("miles", "burns", "loved")
SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "est")


def in_words(word: str, words: frozenset[str] | set[str]) -> bool:
    """``word`` is in ``words``, or is one of them with a common ending ("loved", "films")."""
    return word in words or any(word.endswith(s) and word[:-len(s)] in words
                                for s in SUFFIXES if len(word) > len(s) + 2)


def _latin(name: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name)


@functools.cache
def faker_first_names() -> frozenset[str]:
    """Every Latin-script first name of every Faker locale, lower-cased."""
    return frozenset(_word_lists()["faker"])


def _read_faker() -> list[str]:
    import importlib

    from faker.config import AVAILABLE_LOCALES

    names: set[str] = set()
    for locale in AVAILABLE_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except (ImportError, AttributeError):
            continue  # a locale without a person provider of its own
        for klass in provider.__mro__:
            for attribute in _NAME_ATTRIBUTES:
                value = vars(klass).get(attribute)
                if isinstance(value, list | tuple | dict):
                    names.update(str(n) for n in value)
    return sorted({n.lower() for n in names if _WORDLIKE.fullmatch(n) and _latin(n)})


@functools.cache
def _word_lists() -> dict[str, list[str]]:
    """``web2`` and Faker's first names as read from their packages: the first time, from the
    packages (0.4 s: a pickle of 236,000 words and 80 locale modules), then from a JSON copy
    in the user's cache (``storage.user_cache_folder``), which every stage's kernel and
    every service worker would otherwise pay again. The copy is named by both packages'
    versions, the Unicode tables the Latin-script test reads and this module's code, so an
    upgrade or an edit reads the packages anew; a copy that is not two non-empty lists of
    strings is rebuilt, and without a cache folder the packages are read every time."""
    from importlib import metadata

    from shared.core import storage

    made_by = (f"faker {metadata.version('faker')}, english-words "
               f"{metadata.version('english-words')}, unicode {unicodedata.unidata_version}, "
               ).encode() + Path(__file__).read_bytes()

    def build() -> tuple[dict[str, list[str]], bytes]:
        lists = {"web2": _read_web2(), "faker": _read_faker()}
        return lists, json.dumps(lists, ensure_ascii=False).encode("utf-8")

    return storage.user_cached(f"word-lists-{hashlib.sha256(made_by).hexdigest()[:16]}.json",
                               _checked_copy, build)


def _checked_copy(data: bytes) -> dict[str, list[str]] | None:
    """The lists of a copy, or None unless it is two non-empty lists of strings."""
    try:
        lists = json.loads(data)
    except ValueError:  # not JSON (or not UTF-8)
        return None
    good = (isinstance(lists, dict) and set(lists) == {"web2", "faker"}
            and all(isinstance(v, list) and v and all(isinstance(w, str) for w in v)
                    for v in lists.values()))
    return lists if good else None


def held_out(item: str) -> bool:
    """True for the fifth of names (or gender pairs) kept for stage 5's checks."""
    return hashlib.sha256(item.encode("utf-8")).digest()[0] % HOLD_OUT == 0


@functools.cache
def blinding_names() -> frozenset[str]:
    """The names the text path blinds: Faker's, minus English words (or words with an ending:
    "miles", "burns"), minus the held-out fifth."""
    words = english_words()
    return frozenset(n for n in faker_first_names()
                     if not in_words(n, words) and not held_out(n))


@functools.cache
def check_names() -> tuple[str, ...]:
    """Stage 5's names (capitalised, sorted): held out of blinding, and not English words."""
    words = english_words()
    names = (n for n in faker_first_names()
             if held_out(n) and not in_words(n, words) and "-" not in n and "'" not in n)
    return tuple(sorted(n[:1].upper() + n[1:] for n in names))


#: gendered word pairs (masculine, feminine). "her" maps back to "his" (its possessive use is
#: the commoner in reviews); the object "her" -> "him" is not told apart.
GENDER_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"), ("his", "her"), ("him", "her"), ("himself", "herself"),
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"),
    ("husband", "wife"), ("husbands", "wives"), ("son", "daughter"), ("sons", "daughters"),
    ("father", "mother"), ("fathers", "mothers"), ("dad", "mum"), ("dad", "mom"),
    ("daddy", "mommy"), ("brother", "sister"), ("brothers", "sisters"), ("uncle", "aunt"),
    ("nephew", "niece"), ("grandfather", "grandmother"), ("grandpa", "grandma"),
    ("grandson", "granddaughter"), ("boyfriend", "girlfriend"), ("fiance", "fiancee"),
    ("groom", "bride"), ("king", "queen"), ("prince", "princess"), ("sir", "madam"),
    ("mr", "ms"), ("mr", "mrs"), ("gentleman", "lady"), ("gentlemen", "ladies"),
    ("male", "female"), ("guy", "gal"), ("actor", "actress"), ("waiter", "waitress"),
    ("host", "hostess"), ("stepfather", "stepmother"), ("landlord", "landlady"),
    ("policeman", "policewoman"), ("businessman", "businesswoman"), ("lad", "lass"),
    ("bloke", "woman"), ("hero", "heroine"), ("monk", "nun"), ("widower", "widow"),
)


#: pairs kept out of the augmentation: stage 5's gender check also uses these, so it measures
#: whether the model learnt to ignore gender, not only the pairs it was shown
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("nephew", "niece"), ("grandson", "granddaughter"), ("fiance", "fiancee"),
    ("prince", "princess"), ("waiter", "waitress"), ("landlord", "landlady"),
    ("stepfather", "stepmother"), ("widower", "widow"), ("lad", "lass"), ("monk", "nun"),
)
#: the pairs counterfactual augmentation swaps
AUGMENTED_PAIRS = tuple(p for p in GENDER_PAIRS if p not in HELD_OUT_PAIRS)


@functools.cache
def _swap_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for masculine, feminine in AUGMENTED_PAIRS:
        table.setdefault(masculine, feminine)
        table.setdefault(feminine, masculine)
    return table


_WORD = re.compile(r"[A-Za-z]+")


def _with_case(word: str, other: str) -> str:
    if word.isupper() and len(word) > 1:
        return other.upper()
    return other.capitalize() if word[0].isupper() else other


def feminine(text: str) -> str:
    """``text`` with every masculine word of :data:`GENDER_PAIRS` (held-out pairs included)
    made feminine: stage 5's gender check scores both."""
    table: dict[str, str] = {}
    for masculine, other in GENDER_PAIRS:
        table.setdefault(masculine, other)
    return _WORD.sub(lambda m: _with_case(m.group(0), table[m.group(0).lower()])
                     if m.group(0).lower() in table else m.group(0), text)


def gender_swap(text: str) -> str | None:
    """``text`` with every gendered word of :data:`AUGMENTED_PAIRS` swapped (case kept), or
    None when it holds none."""
    table = _swap_table()
    swapped = False

    def swap(match: re.Match[str]) -> str:
        nonlocal swapped
        word = match.group(0)
        other = table.get(word.lower())
        if other is None:
            return word
        swapped = True
        return _with_case(word, other)

    result = _WORD.sub(swap, text)
    return result if swapped else None


def gender_augmented(
    texts: list[str], labels: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[list[str], np.ndarray, list[tuple[np.ndarray, np.ndarray]] | None]:
    """Texts and labels with a gender-swapped copy of every text that has a gendered word
    appended (same label), and each split's training part extended by the copies of its own
    training texts (validation parts keep the originals only, so scores stay comparable)."""
    copies = [(i, swapped) for i, text in enumerate(texts)
              if (swapped := gender_swap(str(text))) is not None]
    if not copies:
        return list(texts), np.asarray(labels), splits
    origin = np.array([i for i, _ in copies])
    position = np.full(len(texts), -1)
    position[origin] = np.arange(len(texts), len(texts) + len(copies))
    texts = list(texts) + [swapped for _, swapped in copies]
    labels = np.concatenate([np.asarray(labels), np.asarray(labels)[origin]])
    if splits is not None:
        splits = [(np.concatenate([train, position[train][position[train] >= 0]]), valid)
                  for train, valid in splits]
    return texts, labels, splits
