"""What counting character n-grams word by word buys: a deployed model scoring texts it has not
seen, in batches of 100, with ``CompactTfidfVectorizer``'s own counting and with
scikit-learn's (``TfidfVectorizer._count_vocab``), alternated in one process.

Usage::

    DATA_CACHE_DIR=... python benchmarks/char_ngrams.py --deployed DIR [--texts 1000]

``--deployed`` is a deployed model folder (``models/<task>/deployed`` of a run whose model
has character n-grams). The texts are rt-polarity sentences, shuffled with a fixed seed:
3,000 warm both the words the vectorizer keeps and the process, then each of the 3 rounds
scores ``--texts`` new sentences with each counting (so the lexicon's per-text cache holds
none of them, as in serving). It prints the milliseconds per text of each round, the medians
and their ratio, and exits 1 unless both countings give the same probabilities.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from shared.data.sources import load_dataset
from shared.model import features
from shared.serving.predictor import Predictor

WARM_TEXTS = 3_000
ROUNDS = 3
COUNTINGS = {"scikit-learn": TfidfVectorizer._count_vocab,
             "word by word": features.CompactTfidfVectorizer._count_vocab}


def score(model: object, texts: list[str], batch: int = 100) -> tuple[float, np.ndarray]:
    """Milliseconds per text, and the probabilities, of scoring ``texts`` in batches."""
    start = time.perf_counter()
    scores = [model.predict_proba(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    return (time.perf_counter() - start) / len(texts) * 1000, np.vstack(scores)


def main(argv: list[str] | None = None) -> int:
    """Print one row per round and counting, the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployed", required=True, help="a deployed model folder")
    parser.add_argument("--texts", type=int, default=1_000, help="new texts per round")
    args = parser.parse_args(argv)
    model = Predictor.from_deployed(args.deployed).model
    texts = load_dataset("rt-polarity", "sentiment").frame["text"].tolist()
    random.Random(0).shuffle(texts)
    needed = WARM_TEXTS + ROUNDS * len(COUNTINGS) * args.texts
    if needed > len(texts):
        parser.error(f"--texts {args.texts} needs {needed:,} sentences; rt-polarity has "
                     f"{len(texts):,}")
    score(model, texts[:WARM_TEXTS])
    times: dict[str, list[float]] = {name: [] for name in COUNTINGS}
    same = True
    start = WARM_TEXTS
    print("| round | counting | ms per text |\n|---|---|---|")
    try:
        for round_number in range(1, ROUNDS + 1):
            for name, counting in COUNTINGS.items():
                chunk = texts[start:start + args.texts]
                start += args.texts
                features.CompactTfidfVectorizer._count_vocab = counting
                elapsed, probabilities = score(model, chunk)
                times[name].append(elapsed)
                print(f"| {round_number} | {name} | {elapsed:.3f} |")
                # the same texts under the other counting, for the answers (not timed)
                features.CompactTfidfVectorizer._count_vocab = COUNTINGS[
                    next(n for n in COUNTINGS if n != name)]
                same = same and np.array_equal(probabilities, score(model, chunk)[1])
    finally:
        features.CompactTfidfVectorizer._count_vocab = COUNTINGS["word by word"]
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"median, {name}: {value:.3f} ms per text")
    print(f"ratio (scikit-learn / word by word): "
          f"{medians['scikit-learn'] / medians['word by word']:.2f}x")
    print(f"same probabilities from both countings: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
