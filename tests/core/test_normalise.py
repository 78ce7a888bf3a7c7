"""The text path: confusables, typed placeholders and de-leet one by one (name blinding:
``test_name_rules.py``), and the steps together as the pipeline step."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shared.core import modelfile, normalise
from shared.core.names import NAME_TOKEN
from shared.core.problem import ProblemSpecError
from shared.model import models
from shared.model.text import TextNormalizer, raw_text


def test_lookalike_letters_inside_latin_words_become_latin():
    assert normalise.fold_confusables("pаypаl login") == "paypal login"  # Cyrillic а
    assert normalise.fold_confusables("Vеrify yоur ассount") == "Verify your account"
    assert normalise.fold_confusables("fr\u200bee\u00ad gift") == "free gift"  # invisible
    # a word written wholly in another script is a word of that script, not a disguise
    assert normalise.fold_confusables("спасибо друг") == "спасибо друг"


@pytest.mark.parametrize("text, expected", [
    ("mail jo.b+x@mail.example now", "mail xxemail now"),
    ("go to https://bit.example/x7Ks2?a=1 today", "go to xxurl today"),
    ("visit www.win-big.example", "visit xxurl"),
    ("see parcel-redeliver.com/track", "see xxurl"),
    ("only £5.99 or $1,000 or 20 dollars", "only xxmoney or xxmoney or xxmoney"),
    ("Make $$$ fast", "Make xxmoney fast"),
    ("save 50% or 12.5 per cent", "save xxpercent or xxpercent"),
    ("call 07700 900123 or +44 (0)20 7946 0958", "call xxphone or xxphone"),
    ("Text WIN to 80086 now", "Text WIN to xxshortcode now"),
    ("see you on 2024-05-01 at 10:30", "see you on 2024-05-01 at 10:30"),
    ("room 12 for 3 nights", "room 12 for 3 nights"),
])
def test_each_placeholder_type(text, expected):
    assert normalise.mask_placeholders(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("mail jo.b+x@mail.example now", "mail xxemail jo.b+x@mail.example now"),
    ("pay at parcel-fee.example/gb7 today", "pay at xxurl parcel-fee.example/gb7 today"),
    ("only £5.99 or 20 dollars", "only xxmoney £5.99 or xxmoney 20 dollars"),
    ("save 50%", "save xxpercent 50%"),
    ("call 0800 555 0199 now", "call xxphone 0800 555 0199 now"),
    ("Text WIN to 80086 now", "Text WIN to xxshortcode 80086 now"),
    # what a placeholder keeps is not read again by a later pattern: a link's digits are
    # no phone number, an e-mail address no link
    ("see win.example/07700900123", "see xxurl win.example/07700900123"),
    ("see you on 2024-05-01 at 10:30", "see you on 2024-05-01 at 10:30"),
])
def test_each_placeholder_can_keep_what_it_stands_for(text, expected):
    assert normalise.mask_placeholders(text, keep=True) == expected


def test_the_spec_chooses_placeholders_alone_or_with_what_they_stand_for(spam_spec):
    assert spam_spec.placeholders == "keep"
    assert models.text_normaliser(spam_spec).placeholders == "keep"
    assert models.text_normaliser(spam_spec.with_overrides(placeholders="replace")
                                  ).placeholders is True
    off = spam_spec.with_overrides(text_normalisation=False)
    assert models.text_normaliser(off).placeholders is False
    path = normalise.for_spec(spam_spec, ["a b"])
    assert path("call 0800 555 0199") == "call xxphone 0800 555 0199"
    with pytest.raises(ValueError, match="placeholders='both'"):
        TextNormalizer(placeholders="both").fit(["x"])
    with pytest.raises(ProblemSpecError, match="placeholders='both'"):
        spam_spec.with_overrides(placeholders="both").validate()


@pytest.mark.parametrize("text, expected", [
    # a sentence typed without a space after its full stop is no domain, though "it", "in" or
    # "me" are also top-level domains (these were links in 2011 ham, and blocked it)
    ("Sorry da thangam.it's my mistake", "Sorry da thangam.it's my mistake"),
    ("Howz pain.it will come down", "Howz pain.it will come down"),
    ("at home.in a bit", "at home.in a bit"),
    # such an ending is a domain with a path, a hyphen or digit in the name, or two names
    ("see t.co/x7Ks2 now", "see xxurl now"),
    ("pay at usps-fee.top today", "pay at xxurl today"),
    ("win4u.me now", "xxurl now"),
    ("secure.bank.co now", "xxurl now"),
    # a country after the ending belongs to the domain
    ("staff.science.nus.edu.sg/~phy/teaching", "xxurl"),
    ("see bbc.co.uk/news", "see xxurl"),
    # endings used for smishing since 2021, and crypto amounts
    ("pay at evri-redelivery.cyou now", "pay at xxurl now"),
    ("it was fun.today was long", "it was fun.today was long"),
    ("top up 80 USDT or 0.1 BTC", "top up xxmoney or xxmoney"),
])
def test_a_domain_ending_that_is_a_word_needs_more_than_a_full_stop(text, expected):
    assert normalise.mask_placeholders(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("FR3E iPh0ne", "FREE iPh0ne"),
    ("your acc0unt", "your account"),
    ("Exclus1ve 0ffer", "exclusive offer"),
    ("fr0m home", "from home"),
    ("V-e-r-i-f-y now", "Verify now"),
    ("F R E E entry", "FREE entry"),
    ("mp3 and b4 and 4u", "mp3 and b4 and 4u"),  # not words once read as letters: kept
    ("it scored 10/10", "it scored 10/10"),
    # an exclamation mark after a word is punctuation; a number with its ending is a number
    ("I miss you! See you at 9am on the 1st", "I miss you! See you at 9am on the 1st"),
    ("FR3E!! prize", "FREE!! prize"),
    ("W0RK!", "WORK!"),
    ("the No1 song, gd ni8", "the No1 song, gd ni8"),
])
def test_deleet_reads_digits_and_symbols_as_letters_only_when_that_makes_a_word(text, expected):
    assert normalise.deleet(text) == expected


def test_an_older_model_file_s_step_keeps_its_name_rule():
    step = TextNormalizer(names="list_and_capitalised").fit(["The hotel was great"])
    del step.name_words  # as a step read from a file written before the parameter
    assert list(step.transform(["Tyrone came"])) == ["Tyrone came"]
    assert list(TextNormalizer(names="list_and_capitalised").fit(["The hotel was great"])
                .transform(["Tyrone came"])) == [f"{NAME_TOKEN} came"]


def test_the_step_keeps_the_raw_text_and_learns_lower_case_words():
    step = TextNormalizer(names="list_and_capitalised").fit(["The hotel was great"])
    out = step.transform(["Jessica loved the hotel at www.x.com", "Priya said great"])
    assert list(out) == [f"{NAME_TOKEN} loved the hotel at xxurl", f"{NAME_TOKEN} said great"]
    assert raw_text(out[0]) == "Jessica loved the hotel at www.x.com"
    assert "great" in step.known_words_.split("\n")


@pytest.mark.parametrize("spec_name", ["spec", "spam_spec"])  # placeholders alone, and kept
def test_a_pipeline_with_the_text_path_round_trips_through_skops(tmp_path, spec_name, request):
    spec = request.getfixturevalue(spec_name)
    texts = ["Jessica loved it", "awful, Dave hated it", "great film", "boring and bad"] * 5
    labels = ["positive", "negative", "positive", "negative"] * 5
    model = models.text_pipeline(LogisticRegression(), char=True,
                                 normaliser=models.text_normaliser(spec)).fit(texts, labels)
    path = modelfile.save_model(model, tmp_path / "model.skops")
    loaded = modelfile.load_model(path)
    probe = ["Oluwaseun loved it", "FR3E offer at www.a.example"]
    assert np.array_equal(loaded.predict_proba(probe), model.predict_proba(probe))
    assert modelfile.save_model(loaded, tmp_path / "again.skops").read_bytes() == path.read_bytes()


@pytest.mark.parametrize(("text", "kept"), [
    ("Mail jo.smith@example.com or call +44 7700 900456!", "Mail xxemail or call xxphone !"),
    ("Booked for 12/05/2024, room 12, from 10:30", "Booked for 12/05/2024, room 12, from 10:30"),
    ("Text WIN to 80082 now", "Text WIN to 80082 now"),  # a short code is no one's number
    ("No contacts  here", "No contacts  here"),  # returned as it is, spaces and all
])
def test_contacts_are_redacted_with_the_text_paths_placeholders(text, kept):
    assert normalise.redact_contacts(text) == kept

