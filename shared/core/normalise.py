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
4. **name blinding**: person first names become ``xxname`` (``shared.core.name_rules``), from
   the list and, as the spec's ``name_blinding`` says, also capitalised words the training
   texts never held in lower case ("Oluwaseun"; sentiment), or words written like a name that
   they never held at all (spam, which keeps brands and cues such as "PayPal" and "HMRC").

Plain Python and the two word lists; ``shared.model.text.TextNormalizer`` is the pipeline step
that applies it, the same in training, evaluation, the batch command and the service."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Collection

from shared.core.name_rules import blind_names, known_words
from shared.core.names import english_words
from shared.core.names import in_words as _in

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
    if text.isascii():
        return text
    text = _INVISIBLE.sub("", text)
    return _NON_ASCII_WORD.sub(lambda m: _latin_lookalike(m.group(0)), text)


# -- 2. typed placeholders ----------------------------------------------------------------
# the endings of bare domains ("bit.ly/x", "parcel-fee.example"): the common ones, and those
# most used for phishing and smishing since 2021 (xyz, top, cyou, sbs, bond, cfd, ...)
_TLDS = ("com|net|org|info|biz|io|uk|ly|ru|cn|de|fr|nl|es|eu|au|nz|xyz|icu|vip|tk|ml|ga|cf|gq|"
         "cc|tv|ws|gov|edu|mobi|cyou|sbs|cfd|buzz|qpon|example|test")
# endings that are also words: "sorry da thangam.it's my mistake", "pain.it will come down",
# "reply.Win" are sentences typed without a space after the full stop, so a bare domain ending
# in one counts only with a path ("t.co/x", "amzn.in/d/x"), a hyphen or digit in its name
# ("parcel-fee.online", "win4u.me") or two names before it ("secure.bank.co")
_WORD_TLDS = ("co|us|me|it|in|ca|ie|top|site|online|app|shop|club|live|link|click|store|win|"
              "bid|loan|work|page|pro|bond|lol|fun|life|today|support|help|rest|one|services")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+)(" + _TLDS + "|" + _WORD_TLDS
    + r")(?-i:\.[a-z]{2})?\b(/[^\s]*)?",  # a country after the ending: "nus.edu.sg"
    re.IGNORECASE)
_WORD_TLD = re.compile(f"(?:{_WORD_TLDS})", re.IGNORECASE)
_CURRENCY = "£$€¥₹"
_MONEY = re.compile(
    rf"[{_CURRENCY}]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:usd|gbp|eur|dollars?|pounds?|euros?|quid|bucks|usdt|btc|eth)\b"
    rf"|[{_CURRENCY}]{{2,}}", re.IGNORECASE)
_PERCENT = re.compile(r"\b\d+(?:[.,]\d+)?\s?%|\b\d+(?:[.,]\d+)?\s?per ?cent\b", re.IGNORECASE)
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[\d ().-]{5,}\d)(?!\w)")
# "Text WIN to 80086", "reply STOP to 61616": a number sent to, not a year ("since 2019")
_SHORT_CODE = re.compile(r"\b((?:text|txt|send|reply|sms|msg)\b(?:\s+\S+){0,2}?\s+to\s+)(\d{4,6})\b",
                         re.IGNORECASE)

_DIGIT_OR_CURRENCY = re.compile(rf"[0-9{_CURRENCY}]")
PLACEHOLDERS = ("xxemail", "xxurl", "xxmoney", "xxpercent", "xxphone", "xxshortcode")


def _is_url(match: re.Match[str]) -> bool:
    name, tld, path = match.group(1, 2, 3)
    # "pain.it": a sentence without a space after its full stop, not a domain
    return not (name is not None and not path and _WORD_TLD.fullmatch(tld)
                and name.count(".") < 2 and not any(c.isdigit() or c == "-" for c in name))


def mask_placeholders(text: str, keep: bool = False) -> str:
    """E-mail addresses, URLs and domains, money, percentages, phone numbers and short codes
    replaced by their typed placeholder (dates are left alone, not read as phone numbers).

    With ``keep``, each placeholder is followed by what it stands for ("xxurl
    parcel-fee.example/gb7", "xxphone 0800 555 0199"): the placeholder says what kind of
    thing the text holds, and the words inside a link stay readable ("parcel", "fee").
    """
    kept: list[str] = []

    def tag(name: str, original: str) -> str:
        if not keep:
            return f" {name} "
        kept.append(original)  # put back at the end, so that no later pattern reads it
        return f" {name} \x01{len(kept) - 1}\x01 "

    if "@" in text:
        text = _EMAIL.sub(lambda m: tag("xxemail", m.group(0)), text)
    if "." in text:
        text = _URL.sub(lambda m: tag("xxurl", m.group(0)) if _is_url(m) else m.group(0), text)
    if _DIGIT_OR_CURRENCY.search(text):  # what is left needs a digit or a currency sign
        text = _MONEY.sub(lambda m: tag("xxmoney", m.group(0)), text)
        text = _PERCENT.sub(lambda m: tag("xxpercent", m.group(0)), text)
        text = _phone_numbers(text, tag, short_codes=True)
    if kept:
        text = re.sub("\x01(\\d+)\x01", lambda m: kept[int(m.group(1))], text)
    return re.sub(r" {2,}", " ", text).strip()


def _phone_numbers(text: str, tag: Callable[[str, str], str], short_codes: bool) -> str:
    """Phone numbers (7 digits or more; dates are hidden first, not read as numbers) and,
    with ``short_codes``, short codes replaced by ``tag(placeholder, original)``."""
    dates: list[str] = []

    def hide(match: re.Match[str]) -> str:
        dates.append(match.group(0))
        return f"\x00{len(dates) - 1}\x00"

    text = _DATE.sub(hide, text)
    text = _PHONE.sub(lambda m: tag("xxphone", m.group(0))
                      if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), text)
    if short_codes:
        text = _SHORT_CODE.sub(lambda m: m.group(1) + tag("xxshortcode", m.group(2)), text)
    return re.sub("\x00(\\d+)\x00", lambda m: dates[int(m.group(1))], text)


def redact_contacts(text: str) -> str:
    """E-mail addresses and phone numbers replaced by ``xxemail`` and ``xxphone``, the text
    path's own placeholders: how a user's text is kept once it outlives the retention of the
    log (feedback that becomes training data). A text without either is returned as it is."""
    redacted = _EMAIL.sub(" xxemail ", text) if "@" in text else text
    if any(c.isdigit() for c in redacted):
        redacted = _phone_numbers(redacted, lambda name, original: f" {name} ", short_codes=False)
    return text if redacted == text else re.sub(r" {2,}", " ", redacted).strip()


# -- 3. de-leet -----------------------------------------------------------------------------
_SPLIT_LETTERS = re.compile(r"\b(?:[A-Za-z][-._*·~/]){2,}[A-Za-z]\b"
                            r"|(?<!\S)(?:[A-Za-z] ){3,}[A-Za-z](?!\S)")
_LEET = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
         "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
# a run of letters and leet characters holding at least one leet character
_TOKEN = re.compile(r"[A-Za-z0-9@$!|€]*[0-9@$!|€][A-Za-z0-9@$!|€]*")


def join_split_letters(text: str) -> str:
    """Letters split by one separator each, "V-e-r-i-f-y" or "F R E E", joined up."""
    return _SPLIT_LETTERS.sub(lambda m: re.sub(r"[-._*·~/ ]", "", m.group(0)), text)


def is_word(word: str, known: Collection[str]) -> bool:
    """``word`` (lower case) is an English word or a known one, or one of them with a suffix."""
    return _in(word, english_words()) or _in(word, known)


# a number with its ending, or a word with a number after it, is no disguised word: "1st",
# "14th", "9am" (not "gam"), "10pm"; "No1", "SW7", "ni8" (night, not "nib")
_NUMBER_WITH_ENDING = re.compile(r"\d+(?:st|nd|rd|th|am|pm)|[A-Za-z]+\d+", re.IGNORECASE)


def _deleet_token(token: str, known: Collection[str]) -> str:
    core = token.rstrip("!")
    if core != token:  # "you!", "FR3E!!": marks after a word end a sentence, not a letter
        return _deleet_token(core, known) + token[len(core):] if core else token
    if _NUMBER_WITH_ENDING.fullmatch(token):
        return token
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


@functools.lru_cache(maxsize=100_000)
def _fixed_steps(text: str, confusables: bool, placeholders: bool | str) -> str:
    """Steps 1 and 2, which learn nothing: cached, since the search normalises every
    training text once per fold."""
    if confusables:
        text = fold_confusables(text)
    return mask_placeholders(text, keep=placeholders == "keep") if placeholders else text


def text_path(confusables: bool, placeholders: bool | str, leet: bool, names: str,
              known: Collection[str], name_words: bool = True) -> Callable[[str], str]:
    """The steps switched on, in the one order, as one function of a text. ``placeholders``
    is False (off), True (the placeholder alone) or "keep" (the placeholder, then what it
    stands for: :func:`mask_placeholders`)."""
    decided: dict[str, bool] = {}  # each word's blinding, judged once for this path

    def run(text: str) -> str:
        text = _fixed_steps(text, confusables, placeholders)
        if leet:
            text = deleet(text, known)
        return blind_names(text, names, known, decided, name_words)
    return run


def for_spec(spec: object, training_texts: Collection[str]) -> Callable[[str], str]:
    """The text path stage 1's spec asks for, fitted on ``training_texts`` as the pipeline
    step (``shared.model.text.TextNormalizer``) is: the same function, without scikit-learn."""
    on = bool(spec.text_normalisation)
    return text_path(on, placeholder_mode(spec), on, spec.name_blinding,
                     known_words(training_texts, spec.name_blinding))


def placeholder_mode(spec: object) -> bool | str:
    """The spec's typed placeholders as the text path takes them: False when its
    ``text_normalisation`` is off, else True ("replace") or "keep"."""
    if not spec.text_normalisation:
        return False
    return "keep" if getattr(spec, "placeholders", "replace") == "keep" else True
