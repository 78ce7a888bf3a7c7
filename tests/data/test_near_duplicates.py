"""Texts that share a passage of eight words (shared.data.near_duplicates)."""

from shared.data.near_duplicates import PASSAGE_WORDS, distinct, passages

LONG = "the plot twists kept me guessing right up to the very last scene"


def test_passages_are_runs_of_eight_words_in_lower_case():
    assert PASSAGE_WORDS == 8
    runs = passages("The plot twists kept me guessing right up to the end!")
    assert runs[0] == "the plot twists kept me guessing right up"
    assert runs[-1] == "kept me guessing right up to the end"
    assert len(runs) == 11 - 8 + 1
    assert passages("Great film, loved it.") == ["great film loved it"]
    assert passages("?!") == []


def test_a_shared_passage_makes_a_near_duplicate_and_the_first_is_kept():
    texts = [LONG,
             "a dull cast. " + LONG,                      # holds the whole of the first
             "loved it. " + " ".join(LONG.split()[:8]),  # shares exactly eight words
             "so good. " + " ".join(LONG.split()[:7]),  # only seven: distinct
             "an entirely different review of a noisy kettle that broke within a week"]
    assert distinct(texts).tolist() == [True, False, False, True, True]
    assert distinct(texts[::-1]).tolist() == [True, True, True, False, False]


def test_short_texts_are_near_duplicates_only_when_their_words_are_equal():
    texts = ["Great film!", "great   FILM", "great film indeed", "?!", "?!"]
    assert distinct(texts).tolist() == [True, False, True, True, True]


def test_no_two_kept_texts_share_a_passage():
    sentences = [f"sentence number {i} says something quite long about the film" for i in
                 range(30)]
    texts = [" ".join(sentences[j] for j in (i % 30, (i * 7) % 30, (i * 11) % 30)[: 1 + i % 3])
             for i in range(200)]
    kept = [set(passages(t)) for t, k in zip(texts, distinct(texts), strict=True) if k]
    assert len(kept) >= 10
    assert all(not (a & b) for i, a in enumerate(kept) for b in kept[i + 1:])
