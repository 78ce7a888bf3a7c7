"""The text path between cleaning and the featurizers, in one fixed order:

1. **confusables**: invisible characters go, and inside a word that mixes scripts each
   lookalike letter becomes the Latin letter it imitates ("pаypal" with a Cyrillic "а"), from
   Unicode's confusables table (``confusable-homoglyphs``); NFKC, in cleaning, already folds
   full-width and mathematical letters ("𝐅𝐑𝐄𝐄");
2. **typed placeholders**: e-mail addresses, URLs and bare domains, money amounts,
   percentages, phone numbers and short codes become ``xxemail``, ``xxurl``, ``xxmoney``,
   ``xxpercent``, ``xxphone``, ``xxshortcode``, so a model learns "a link" rather than a
   domain it saw once;
3. **de-leet**: letters split by separators join ("V-e-r-i-f-y"), and digits or symbols
   standing for letters inside a word are read as those letters when that makes a known word
   ("FR3E", "acc0unt", "Exclus1ve");
4. **name blinding**: person first names become ``xxname`` (``shared.names``), from the list
   and, where the spec says so, any capitalised word the training texts never held in lower
   case ("Oluwaseun" in cased text).

Plain Python and the two word lists; ``shared.text.TextNormalizer`` is the pipeline step that
applies it, the same in training, evaluation, the batch command and the service.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Collection

from shared.names import NAME_TOKEN, blinding_names, english_words

# -- 1. confusables -----------------------------------------------------------------------
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufe00-\ufe0f\ufeff]")
_NON_ASCII_WORD = re.compile(r"\w*[^\x00-\x7f]\w*")


@functools.lru_cache(maxsize=65_536)
def _latin_lookalike(word: str) -> str:
    """``word`` with each lookalike letter of another script made the Latin letter, when it
    mixes Latin letters with others; else unchanged."""
    if not any("a" <= c.lower() <= "z" for c in word):
        return word
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(word, greedy=True, preferred_aliases=["latin"]) or []
    table = {}
    for item in found:
        latin = [g["c"] for g in item["homoglyphs"] if len(g["c"]) == 1 and g["c"].isascii()
                 and g["c"].isalpha()]
        if latin:
            table[item["character"]] = latin[0]
    return "".join(table.get(c, c) for c in word)


def fold_confusables(text: str) -> str:
    """No invisible characters; lookalike letters inside mixed-script words made Latin."""
    text = _INVISIBLE.sub("", text)
    return _NON_ASCII_WORD.sub(lambda m: _latin_lookalike(m.group(0)), text)


# -- 2. typed placeholders ----------------------------------------------------------------
_TLDS = ("com|net|org|info|biz|io|co|uk|us|me|ly|ru|cn|de|fr|nl|es|it|eu|in|au|ca|nz|ie|"
         "xyz|top|site|online|app|shop|club|live|link|click|store|icu|vip|win|bid|loan|work|"
         "page|tk|ml|ga|cf|gq|cc|tv|ws|gov|edu|mobi|pro|example|test")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + _TLDS + r")\b(?:/[^\s]*)?",
    re.IGNORECASE)
_CURRENCY = "£$€¥₹"
_MONEY = re.compile(
    rf"[{_CURRENCY}]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:usd|gbp|eur|dollars?|pounds?|euros?|quid|bucks)\b"
    rf"|[{_CURRENCY}]{{2,}}", re.IGNORECASE)
_PERCENT = re.compile(r"\b\d+(?:[.,]\d+)?\s?%|\b\d+(?:[.,]\d+)?\s?per ?cent\b", re.IGNORECASE)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[\d ().-]{5,}\d)(?!\w)")
_SHORT_CODE = re.compile(
    r"\b((?:text|txt|send|reply|sms|call|ring|dial|to)\b\W+(?:\w+\W+){0,3}?)(\d{4,6})\b",
    re.IGNORECASE)

PLACEHOLDERS = ("xxemail", "xxurl", "xxmoney", "xxpercent", "xxphone", "xxshortcode")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    return " xxphone " if digits >= 7 else text


def mask_placeholders(text: str) -> str:
    """E-mail addresses, URLs and domains, money, percentages, phone numbers and short codes
    replaced by their typed placeholder (dates are left alone, not read as phone numbers)."""
    text = _EMAIL.sub(" xxemail ", text)
    text = _URL.sub(" xxurl ", text)
    text = _MONEY.sub(" xxmoney ", text)
    text = _PERCENT.sub(" xxpercent ", text)
    dates: list[str] = []

    def hide(match: re.Match[str]) -> str:
        dates.append(match.group(0))
        return f"\x00{len(dates) - 1}\x00"

    text = _DATE.sub(hide, text)
    text = _PHONE.sub(_phone, text)
    text = _SHORT_CODE.sub(lambda m: f"{m.group(1)} xxshortcode ", text)
    text = re.sub("\x00(\\d+)\x00", lambda m: dates[int(m.group(1))], text)
    return re.sub(r" {2,}", " ", text).strip()


# -- 3. de-leet -----------------------------------------------------------------------------
_SPLIT_LETTERS = re.compile(r"\b(?:[A-Za-z][-._*·~/]){2,}[A-Za-z]\b"
                            r"|(?<!\S)(?:[A-Za-z] ){3,}[A-Za-z](?!\S)")
_LEET = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
_TOKEN = re.compile(r"[\w@$!|€]+")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "est")


def join_split_letters(text: str) -> str:
    """Letters split by one separator each, "V-e-r-i-f-y" or "F R E E", joined up."""
    return _SPLIT_LETTERS.sub(lambda m: re.sub(r"[-._*·~/ ]", "", m.group(0)), text)


def is_word(word: str, known: Collection[str]) -> bool:
    """``word`` (lower case) is an English word or a known one, or one of them with a suffix."""
    return _in(word, english_words()) or _in(word, known)


def _in(word: str, words: Collection[str]) -> bool:
    """``word`` is in ``words``, or is one of them with a common suffix ("loved", "films")."""
    return word in words or any(word.endswith(s) and word[:-len(s)] in words
                                for s in _SUFFIXES if len(word) > len(s) + 2)


def _deleet_token(token: str, known: Collection[str]) -> str:
    letters = sum(c.isalpha() for c in token)
    leet = [c for c in token if c in _LEET]
    if letters < 2 or not leet or len(leet) > letters or not all(
            c.isalpha() or c in _LEET for c in token):
        return token
    if is_word(token.lower(), known):
        return token
    options = [_LEET[c] if c in _LEET else c.lower() for c in token]
    for letters_chosen in itertools.islice(itertools.product(*options), 16):
        word = "".join(letters_chosen)
        if is_word(word, known):
            upper = all(c.isupper() for c in token if c.isalpha())
            return word.upper() if upper else word
    return token


def deleet(text: str, known: Collection[str] = ()) -> str:
    """Split letters joined, then digits and symbols inside words read as the letters they
    stand for, where the result is an English word or one of ``known``."""
    text = join_split_letters(text)
    return _TOKEN.sub(lambda m: _deleet_token(m.group(0), known), text)


# -- 4. name blinding ---------------------------------------------------------------------
_NAME_LIKE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


def _capitalised(token: str) -> bool:
    """"Jessica", "DeShawn", "O'Brien": an upper-case first letter and some lower case."""
    return len(token) > 1 and token[0].isupper() and any(c.islower() for c in token)


def blind_names(text: str, mode: str = "list", seen_lower: Collection[str] = ()) -> str:
    """Person first names replaced by ``xxname``: those of the list (any case), and with
    ``mode`` "list_and_capitalised" also capitalised words whose lower-case form, or its stem
    ("Loved": "love"), is not in ``seen_lower``, the words the training texts held in lower
    case. An English word list would not do here: it holds "tyrone" and "amy" in lower case.
    """
    if mode == "off":
        return text
    names = blinding_names()
    capitalised = mode == "list_and_capitalised"

    def blind(match: re.Match[str]) -> str:
        token = match.group(0)
        suffix = _POSSESSIVE.search(token)
        core = token[:suffix.start()] if suffix else token
        parts = re.split(r"['’-]", core.lower())
        if all(p in names for p in parts):
            return NAME_TOKEN + (suffix.group(0) if suffix else "")
        if capitalised and _capitalised(core) and not _in(core.lower(), seen_lower):
            return NAME_TOKEN + (suffix.group(0) if suffix else "")
        return token

    return _NAME_LIKE.sub(blind, text)


def text_path(confusables: bool, placeholders: bool, leet: bool, names: str,
              seen_lower: Collection[str]) -> Callable[[str], str]:
    """The steps switched on, in the one order, as one function of a text."""
    def run(text: str) -> str:
        if confusables:
            text = fold_confusables(text)
        if placeholders:
            text = mask_placeholders(text)
        if leet:
            text = deleet(text, seen_lower)
        return blind_names(text, names, seen_lower)
    return run


_LOWER_WORD = re.compile(r"\b[^\W\d_A-Z]+\b")


def lower_case_words(texts: Collection[str]) -> set[str]:
    """Every word written all in lower case somewhere in ``texts``."""
    words: set[str] = set()
    for text in texts:
        words.update(w for w in _LOWER_WORD.findall(text) if w.islower())
    return words
