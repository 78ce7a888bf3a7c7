"""Step 4 of the text path: which words are person first names, and what training texts teach."""

import pytest

from shared.core import name_rules, normalise
from shared.core.names import NAME_TOKEN
from shared.model.text import TextNormalizer


def test_listed_names_are_blinded_in_any_case_and_words_stay_words():
    assert name_rules.blind_names("Aisha and dave loved it") == f"{NAME_TOKEN} and {NAME_TOKEN} " \
        "loved it"
    assert name_rules.blind_names("Will and Grace will grace the stage, Mark my words") == \
        "Will and Grace will grace the stage, Mark my words"
    assert name_rules.blind_names("Fatima's cake") == f"{NAME_TOKEN}'s cake"


def test_lower_cased_text_is_blinded_from_the_list():
    assert name_rules.blind_names("mohammed recommended it") == f"{NAME_TOKEN} recommended it"


def test_capitalised_words_never_seen_in_lower_case_are_blinded_when_asked():
    seen = {"loved", "it", "the", "will", "love", "great"}
    text = "Oluwaseun loved it, Chidi Loved it, Will loved it, Avoid it"
    assert name_rules.blind_names(text, "list", seen) == text  # not in the list: kept
    assert name_rules.blind_names(text, "list_and_capitalised", seen) == \
        f"{NAME_TOKEN} loved it, {NAME_TOKEN} Loved it, Will loved it, Avoid it"
    # a first name that is also an English word ("tyrone" is one in web2) is a name when the
    # training texts never held it in lower case; "will" they held, so "Will" stays
    assert name_rules.blind_names("Tyrone came", "list_and_capitalised", seen) == \
        f"{NAME_TOKEN} came"
    # the rule of model files written before it kept such names as words
    assert name_rules.blind_names("Tyrone came", "list_and_capitalised", seen,
                                 name_words=False) == "Tyrone came"
    # all capitals ("FREE") and stems of seen words ("Loves") are not names
    assert name_rules.blind_names("FREE Loves", "list_and_capitalised", seen) == "FREE Loves"


def test_a_corpus_written_in_lower_case_teaches_no_case_only_the_names_it_uses_as_words():
    """rt-polarity is all lower case: "jessica" there says nothing about "Jessica"."""
    assert name_rules.known_words(["jessica loved it", "the film was great"], "list") == set()
    seen = name_rules.known_words(["jessica loved it"] * 19 + ["The film was great"], "list")
    assert seen == {"film", "was", "great"}
    # with no case learnt, English words that are no first names stand in for it; of the
    # first names that are also words, those the corpus uses are words, with their stems
    # ("will", "marks", "loved": Faker lists "Love"), the others names ("Tyrone")
    texts = ["jessica will see it", "it marks a low point", "we loved the film", "10/10"]
    known = name_rules.known_words(texts, "list_and_capitalised")
    assert known == {"will", "marks", "mark", "loved", "love"}
    assert name_rules.blind_names("Loved it, Tyrone? Will Oluwaseun? Mark, Love it",
                                  "list_and_capitalised", known) == \
        f"Loved it, {NAME_TOKEN}? Will {NAME_TOKEN}? Mark, Love it"
    # a text without letters uses no capitals: 20 of them and one cased text are no cased corpus
    assert name_rules.known_words(["10/10 :)"] * 20 + ["The film"], "list") == set()
    # the rule with nothing learnt, as model files written before it have: "Tyrone" a word
    assert name_rules.blind_names("Loved it, Tyrone? Oluwaseun did", "list_and_capitalised") == \
        f"Loved it, Tyrone? {NAME_TOKEN} did"
    with pytest.raises(ValueError, match="names='everything'"):
        TextNormalizer(names="everything").fit(["x"])


@pytest.mark.parametrize("mode", ["list", "list_and_capitalised", "list_and_unseen"])
def test_words_collected_a_batch_at_a_time_are_the_words_of_all_texts(mode):
    texts = ["jessica loved it"] * 30 + ["The film was great", "Priya said Awful", "ok"]
    collector = name_rules.WordCollector(mode)
    for start in range(0, len(texts), 7):
        collector.update(texts[start:start + 7])
    assert collector.words() == name_rules.known_words(texts, mode)
    collector.update(["The Hotel was quiet"] * 3)  # now enough texts use capitals
    assert collector.words() == name_rules.known_words(texts + ["The Hotel was quiet"] * 3, mode)
    assert TextNormalizer(names=mode).fit_words(collector.words()).known_words_ == \
        TextNormalizer(names=mode).fit(texts + ["The Hotel was quiet"] * 3).known_words_


def test_spam_blinds_unseen_name_like_words_but_keeps_brands_and_cues():
    known = name_rules.known_words(["Your Amazon parcel", "FREE entry, text WIN"],
                                  "list_and_unseen")
    text = "Hi Chidi, Oluwaseun: your Amazon PayPal HMRC FREE refund"
    assert name_rules.blind_names(text, "list_and_unseen", known) == \
        f"Hi {NAME_TOKEN}, {NAME_TOKEN}: your Amazon PayPal HMRC FREE refund"


@pytest.mark.parametrize("mode", ["list", "list_and_capitalised", "list_and_unseen"])
def test_a_word_judged_once_is_blinded_as_when_judged_each_time(mode):
    texts = ["Jessica loved it", "Hi Chidi, Oluwaseun: your Amazon PayPal HMRC FREE refund",
             "O'Brien's film, with Will and Grace", "Loved it. Avoid Tyrone's sequel"] * 2
    known = name_rules.known_words(["the film was good", "Your Amazon parcel"], mode)
    decided: dict[str, bool] = {}
    remembered = [name_rules.blind_names(t, mode, known, decided) for t in texts]
    assert remembered == [name_rules.blind_names(t, mode, known) for t in texts]
    assert decided and all(isinstance(v, bool) for v in decided.values())
    path = normalise.text_path(True, True, True, mode, known)
    assert [path(t) for t in texts] == [path(t) for t in texts]
