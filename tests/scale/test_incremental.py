"""The out-of-core stage 4 (shared.scale.incremental): its search sample, its candidates, the
steps fitted on the search sample, and a stream of parts trained with partial_fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

from shared.core.catalog import Catalog
from shared.data import partitions
from shared.data.near_duplicates import passages
from shared.data.tasks import get_task
from shared.model.features import LogCountRatio, SentimentLexicon
from shared.model.models import text_normaliser
from shared.scale import incremental, streaming_eval

GOOD = ["a lovely warm film", "great acting and a brilliant script", "fresh and funny",
        "wonderful, I loved it", "a delight from start to end"]
BAD = ["a dull and lifeless film", "awful script and poor acting", "boring and far too long",
       "a waste of money", "terrible, I hated it"]


SPEC = get_task("sentiment").spec.with_overrides(engine="out_of_core")


def training_parts(tmp_path, texts: list[str], labels: list[str]) -> Catalog:
    cat = Catalog.for_task("sentiment", tmp_path)
    with partitions.PartWriter(cat.path("train_parts"), part_rows=70) as writer:
        writer.write(pd.DataFrame({"text": texts, "label": labels}))
    return cat


def test_without_near_duplicates_the_sample_is_the_stratified_sample(tmp_path):
    texts = [f"review number {i} of a film" for i in range(400)]
    labels = ["positive" if i % 4 else "negative" for i in range(400)]
    cat = training_parts(tmp_path, texts, labels)
    chosen = incremental.sample(cat, SPEC, rows=100)
    plain = partitions.stratified_sample(cat.path("train_parts"), 100, SPEC.seed,
                                         columns=["text", "label"])
    pd.testing.assert_frame_equal(chosen, plain)
    assert chosen.attrs == {"pool": 300, "near_duplicates": 0}


def test_the_sample_holds_no_two_texts_that_share_a_passage(tmp_path):
    rng = np.random.default_rng(0)
    sentences = {label: [f"this {label} sentence number {i} is long enough to count here"
                         for i in range(60)] for label in ("positive", "negative")}
    labels = rng.choice(["positive", "negative"], size=600).tolist()
    texts = [" ".join(rng.choice(sentences[label], size=rng.integers(1, 4), replace=False))
             for label in labels]
    keep = ~pd.Series(texts).duplicated().to_numpy()  # stage 3 drops exact duplicates
    cat = training_parts(tmp_path, list(np.array(texts)[keep]), list(np.array(labels)[keep]))
    chosen = incremental.sample(cat, SPEC, rows=100)
    held = [set(passages(text)) for text in chosen["text"]]
    assert 10 <= len(chosen) < 100
    assert all(not (a & b) for i, a in enumerate(held) for b in held[i + 1:])
    assert set(chosen["label"]) == {"positive", "negative"}
    assert chosen.attrs["pool"] == 300
    assert chosen.attrs["near_duplicates"] >= 300 - 100


def frame(copies: int, extra: str = "") -> pd.DataFrame:
    texts = [f"{t} {extra}".strip() + f" {i}" for i in range(copies) for t in GOOD + BAD]
    labels = [label for _ in range(copies) for label in ["positive"] * 5 + ["negative"] * 5]
    return pd.DataFrame({"text": texts, "label": labels})


def nbsvm(spec, **params):
    candidate = next(c for c in incremental.candidates(spec.seed, text_normaliser(spec),
                                                       spec.feature_groups)
                     if c.name == "NB-SVM (SGD)")
    return candidate, candidate.pipeline.set_params(**params)


def test_the_nbsvm_candidate_searches_the_spec_s_feature_groups():
    spec = get_task("sentiment").spec
    candidate, pipeline = nbsvm(spec)
    grid = candidate.grids[incremental.GRID]
    # every group but the sentence encoder, which costs too much at out-of-core sizes
    assert set(grid) == {"clf__alpha"} | {f"features__{g}" for g in spec.feature_groups
                                          if g != "embedding"}
    assert any(isinstance(v, SentimentLexicon) for v in grid["features__lexicon"])
    assert isinstance(pipeline.named_steps["nb"], LogCountRatio)
    assert isinstance(pipeline.named_steps["clf"], SGDClassifier)
    assert pipeline.named_steps["clf"].loss == "log_loss"
    with pytest.raises(ValueError, match="unknown feature group"):
        incremental.candidates(0, None, ("colour",))


def test_fit_front_fits_vocabulary_and_ratios_on_the_sample_only():
    spec = get_task("sentiment").spec
    _, pipeline = nbsvm(spec)
    normalise = pipeline.named_steps["normalise"]
    sample = frame(3)
    normalise.fit(list(sample["text"]))
    front = incremental.fit_front(pipeline, normalise, list(sample["text"]), sample["label"],
                                  spec)
    word = pipeline.named_steps["features"].transformer_list[0][1]
    assert isinstance(word, TfidfVectorizer) and "lovely" in word.vocabulary_
    assert "unseen" not in word.vocabulary_
    ratio = pipeline.named_steps["nb"].ratio_
    assert front.transform(["a lovely film"]).shape == (1, len(ratio))
    # the hashing candidates learn nothing there: their blocks are only marked fitted
    hashing = incremental.candidates(spec.seed)[1].pipeline
    hashed = incremental.fit_front(hashing, normalise, [], [], spec)
    assert hashed.transform(["a lovely film"]).shape[1] == incremental.N_FEATURES


def test_nbsvm_trains_on_every_part_and_shows_its_terms(tmp_path):
    spec = get_task("sentiment").spec
    cat = Catalog.for_task("sentiment", tmp_path)
    with partitions.PartWriter(cat.path("train_parts"), part_rows=40) as writer:
        writer.write(frame(12, extra="The stream"))
    sample = frame(4)
    _, pipeline = nbsvm(spec, clf__alpha=1e-4)
    stream = incremental.train_stream(pipeline, cat, spec, epochs=2, batch_rows=25, n_jobs=1,
                                      sample_texts=sample["text"],
                                      sample_labels=sample["label"])
    scores = stream.model.predict_proba(["a lovely warm film", "awful and boring"])
    positive = list(stream.model.classes_).index("positive")
    assert scores[0, positive] > 0.5 > scores[1, positive]
    # the TF-IDF vocabulary is the sample's; the known words are the whole stream's
    word = stream.model.named_steps["features"].transformer_list[0][1]
    assert "stream" not in word.vocabulary_
    assert "stream" in stream.model.named_steps["vocabulary"].vocabulary_
    assert stream.rows_trained + len(stream.holdout) == 120
    # the text path learns from every training text, as in memory, not from the sample alone
    # (the sample is written in lower case: alone, it teaches no case)
    assert "stream" in stream.model.named_steps["normalise"].known_words_.split("\n")
    terms = streaming_eval.term_weights(stream.model, n=3)
    assert set(terms["label"]) == {"positive", "negative"}
    assert np.all(terms["weight"] > 0)
