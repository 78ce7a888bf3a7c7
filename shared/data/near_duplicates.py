"""Near-duplicate texts: texts that share a passage of ``PASSAGE_WORDS`` consecutive words.

Stage 3 removes exact duplicates, but a data set can still hold the same content many times
over: a review posted twice with one word changed, a text quoted inside another, a template
filled in again and again, texts pasted together from the same sentences. Cross-validated on
such texts, a model is scored on content that its training folds already held, so the search
rewards memorising it: on 10,000 texts made of rt-polarity sentences (``benchmarks/scale.py``),
97% of each validation fold shared a five-word passage with its training folds, and the search
scored complement naive Bayes with its weakest smoothing at 0.993.

Two texts are near-duplicates here when they share a run of ``PASSAGE_WORDS`` words (lower
case, word characters only); a text of fewer words is one passage, the whole text. Eight
words: among the 10,662 distinct rt-polarity sentences, 20 share an eight-word passage with
an earlier one (751 a five-word passage, 2 a thirteen-word passage), and none of the 960
hand-written built-in reviews does; in the sms-spam collection 267 of 5,171 distinct messages
do, nearly all copies of the same spam campaigns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from shared.data.partitions import text_hashes

#: words in a passage that two texts must share to be near-duplicates
PASSAGE_WORDS = 8
_WORD = re.compile(r"\w+")


def passages(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """Every run of ``words`` consecutive words of ``text``, lower-cased; the text's words as
    one passage when it has ``words`` or fewer (none when it has no word)."""
    tokens = _WORD.findall(text.lower())
    if len(tokens) <= words:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i:i + words]) for i in range(len(tokens) - words + 1)]


def distinct(texts: Iterable[str], words: int = PASSAGE_WORDS) -> np.ndarray:
    """True for each text that shares no passage with a text kept before it: of each group
    of near-duplicates, the first (in the given order) is kept. No two kept texts share a
    passage."""
    grams = [passages(str(text), words) for text in texts]
    hashes = text_hashes(np.array([g for group in grams for g in group], dtype=object),
                         "passage")
    keep = np.zeros(len(grams), dtype=bool)
    seen: set[int] = set()
    start = 0
    for i, group in enumerate(grams):
        own = set(hashes[start:start + len(group)].tolist())
        start += len(group)
        if seen.isdisjoint(own):
            keep[i] = True
            seen |= own
    return keep
