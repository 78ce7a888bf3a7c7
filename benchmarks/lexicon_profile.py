"""How fast is the lexicon feature group? cProfile of ``SentimentLexicon`` on 10,000 rt-polarity
sentences: every text scored (cold), then again from the per-process cache (warm).

Usage::

    DATA_CACHE_DIR=... python benchmarks/lexicon_profile.py [--texts 10000]

VADER's ``polarity_scores`` is pure Python; the profile shows it called once per distinct
text however often the search transforms it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

from shared.data.sources import load_dataset
from shared.model import features
from shared.model.text import TextCleaner


def main(argv: list[str] | None = None) -> int:
    """Print the analyzer's build time, texts per second cold and warm, and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=10_000)
    args = parser.parse_args(argv)
    frame = load_dataset("rt-polarity", "sentiment").frame
    texts = TextCleaner().transform(frame["text"][: args.texts])
    group = features.SentimentLexicon()
    start = time.perf_counter()
    features._vader()
    print(f"analyzer built in {time.perf_counter() - start:.3f} s")
    features._cached_scores.cache_clear()
    start = time.perf_counter()
    group.fit_transform(texts)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    group.transform(texts)
    warm = time.perf_counter() - start
    print(f"cold: {len(texts) / cold:,.0f} texts/s ({cold:.2f} s); "
          f"warm (cached): {len(texts) / warm:,.0f} texts/s")
    features._cached_scores.cache_clear()
    profile = cProfile.Profile()
    profile.enable()
    group.fit_transform(texts)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
