"""Retraining from feedback: which labels are used and why the others are quarantined, the
cap, the frozen test set, and challenger against champion through stage 6.

The workflow's stages run in-process with the small model (``conftest.deploy_small_model``
in place of ``shared.run.runner.run``, with the same arguments), so that a retrain takes seconds;
the feedback, the data set mix, the hash split and stage 6 are the real ones.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import deploy_small_model

from shared.core import storage
from shared.core.catalog import Catalog
from shared.core.manifest import verify
from shared.core.text_rules import dedup_key
from shared.data import tasks
from shared.deploy import challenger, feedback, release
from shared.run import retrain
from shared.serving import guards, prediction_log
from shared.serving.prediction_log import LoggedPrediction

HONEST = guards.key_id("honest-key-" + "h" * 20)
OTHER = guards.key_id("other-key-" + "o" * 20)
ATTACKER = guards.key_id("attacker-key-" + "a" * 20)


def log_feedback(cat: Catalog, texts: list[str], labels: list[str], key: str | None) -> list[str]:
    """Log a prediction for each text, then its feedback label as sent with ``key``."""
    path = cat.path("prediction_log")
    _, ids = prediction_log.append(path, [LoggedPrediction(t, "negative", 0.6, 0.4, 1.0)
                                          for t in texts], "test", "service")
    prediction_log.add_feedback_many(path, zip(ids, labels, strict=True), api_key_id=key)
    return ids


def in_process(rows: int | None = None):
    """``shared.run.runner.run`` for tests: stages 1 to 6 in-process, a weaker model with rows."""
    def run(task, dataset, overrides, root, log=print, tracking_uri=None):
        deploy_small_model(root, task, dataset, overrides, rows)
    return run


# --- judging feedback, without a model ----------------------------------------------------

def feedback_frame(rows: list[tuple]) -> pd.DataFrame:
    """(text, label, key) rows as feedback.read_feedback gives them, newest last."""
    return pd.DataFrame({
        "feedback_id": range(1, len(rows) + 1),
        "prediction_id": [f"p{i}" for i in range(len(rows))],
        "label": [r[1] for r in rows], "feedback_at": "2025-01-01T00:00:00",
        "api_key_id": [r[2] for r in rows], "text": [r[0] for r in rows]})


def test_every_label_is_used_or_quarantined_with_its_reason(spec):
    original = feedback.original_labels(pd.DataFrame({
        "text": ["Great film", "Awful food", "Both ways"], "label": ["positive", "negative",
                                                                    "positive"],
        "dataset": "builtin"}), spec)
    frozen = {challenger.text_key("Frozen text, lovely")}
    sent = feedback_frame([
        ("A new and lovely text", "positive", HONEST),       # used
        ("great FILM", "positive", HONEST),                  # agrees with the original: kept
        ("Awful food", "positive", HONEST),                  # contradicts the original
        ("Sent without a key", "positive", None),
        (None, "negative", HONEST),                          # the log kept only a hash
        ("Frozen text, lovely", "positive", HONEST),
        ("Two senders disagree", "positive", HONEST),
        ("two senders disagree", "negative", OTHER),
        ("12345", "negative", HONEST),                       # no words
        ("A label the task lacks", "neutral", HONEST),
    ])
    chosen = feedback.select_feedback(sent, original, frozen, spec, 1000, 250)
    assert chosen.used["text"].tolist() == ["A new and lovely text", "great FILM"]
    assert chosen.used["original"].tolist() == [False, True]
    reasons = dict(zip(chosen.quarantined["text"].fillna("<none>"),
                       chosen.quarantined["reason"], strict=True))
    assert reasons == {
        "Awful food": "same text with conflicting labels: the original data set builtin "
                      "labels it otherwise",
        "Sent without a key": feedback.NO_KEY, "<none>": feedback.NO_TEXT,
        "Frozen text, lovely": feedback.FROZEN,
        "Two senders disagree": "same text with conflicting labels: other feedback labels it "
                                "otherwise",
        "two senders disagree": "same text with conflicting labels: other feedback labels it "
                                "otherwise",
        "12345": reasons["12345"], "A label the task lacks": feedback.UNKNOWN_LABEL,
    }
    assert "number" in reasons["12345"]
    assert chosen.counts["labels_read"] == 10 and chosen.counts["labels_used"] == 2
    assert sum(chosen.counts["quarantined"].values()) == 8


def test_new_feedback_texts_are_kept_without_e_mail_addresses_or_phone_numbers(spec):
    original = feedback.original_labels(pd.DataFrame({
        "text": ["Great stay, ring 07700 900123 to book"], "label": ["positive"]}), spec)
    frozen = {challenger.text_key("Lovely, write to ann@example.com")}
    sent = feedback_frame([
        ("Loved it, mail me at jo.smith@example.com or call +44 7700 900456", "positive",
         HONEST),
        ("Great stay, ring 07700 900123 to book", "positive", HONEST),  # the original's own
        ("Lovely, write to ann@example.com", "positive", HONEST),     # the frozen set's
        ("Awful, booked on 12/05/2024", "negative", HONEST),          # a date is no number
    ])
    chosen = feedback.select_feedback(sent, original, frozen, spec, 1000, 250)
    assert chosen.used["text"].tolist() == ["Loved it, mail me at xxemail or call xxphone",
                                            "Great stay, ring 07700 900123 to book",
                                            "Awful, booked on 12/05/2024"]
    # keyed and split as kept, so stage 3's hash split puts it on the same side
    assert chosen.used["dedup"].iloc[0] == dedup_key(chosen.used["text"].iloc[0])
    assert chosen.quarantined["reason"].tolist() == [feedback.FROZEN]


def test_feedback_is_capped_per_side_round_robin_over_the_keys(spec):
    rows = [(f"attacker text {i}", "negative", ATTACKER) for i in range(60)]
    rows += [(f"honest text {i}", "positive", HONEST) for i in range(6)]
    capped = spec.with_overrides(max_feedback_share=0.2)  # 0.25 new texts per original one
    chosen = feedback.select_feedback(feedback_frame(rows), feedback.original_labels(
        pd.DataFrame({"text": ["x y"], "label": ["positive"]}), spec), set(), capped, 40, 12)
    used, counts = chosen.used, chosen.counts
    assert counts["new_texts"] == {"train": 10, "test": 3}  # 0.25 x 40 and 0.25 x 12
    assert (used["side"] == "train").sum() == 10
    # the honest key's texts are taken in turn with the attacker's, not after them
    honest = used[used["api_key_id"] == HONEST]
    assert len(honest) >= 4, used
    assert set(chosen.quarantined["reason"]) == {
        "over the feedback cap (max_feedback_share 20% of each split)"}
    # within a key and a side of the split, the newest come first
    held = chosen.quarantined
    for side in ("train", "test"):
        kept_ids = used[(used["api_key_id"] == ATTACKER) & (used["side"] == side)]
        over_ids = held[(held["api_key_id"] == ATTACKER) & (held["side"] == side)]
        assert kept_ids["feedback_id"].min() > over_ids["feedback_id"].max()
    assert feedback.select_feedback(feedback_frame(rows), feedback.original_labels(
        pd.DataFrame({"text": ["x y"], "label": ["positive"]}), spec), set(),
        spec.with_overrides(max_feedback_share=0.0), 40, 12).used.empty


# --- retraining a deployed model ----------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    return deploy_small_model(tmp_path)


def honest_feedback(cat: Catalog) -> None:
    batch = cat.read("new_batch")
    log_feedback(cat, list(batch["text"]), list(batch["label"]), HONEST)


def test_nothing_deployed_cannot_be_retrained(tmp_path, capsys):
    assert retrain.main(["--task", "sentiment", "--root", str(tmp_path)]) == 2
    assert "nothing of task 'sentiment' is deployed" in capsys.readouterr().err


def test_a_retrain_on_honest_feedback_keeps_the_split_and_is_released(project):
    cat = project
    champion = verify(cat.deployed_dir)
    champion_test = set(cat.read("test")["text"].map(dedup_key))
    honest_feedback(cat)
    original = pd.read_csv(tasks.get_task("sentiment").builtin_dataset)
    log_feedback(cat, [original.loc[0, "text"]],
                 ["positive" if original.loc[0, "label"] == "negative" else "negative"], OTHER)
    log_feedback(cat, ["A keyless label, great"], ["positive"], None)
    frozen_text = cat.read("deployed_reference").loc[0, "text"]
    log_feedback(cat, [frozen_text], [cat.read("deployed_reference").loc[0, "label"]], OTHER)
    assert retrain.pending_labels(cat) == len(cat.read("new_batch")) + 2

    result = retrain.retrain("sentiment", cat.root, run=in_process(), log=lambda *a: None)

    assert result.outcome == retrain.RELEASED, result.report.get("detail")
    new = verify(cat.deployed_dir)
    assert new.release != champion.release and result.report["champion"] == champion.release
    # the original rows were split as before: the frozen texts are all in the test split
    test = cat.read("test")
    assert champion_test <= set(test["text"].map(dedup_key))
    frozen = challenger.load_frozen(cat)
    assert frozen.record["release"] == champion.release and frozen.keys <= set(
        test["text"].map(challenger.text_key))
    # provenance: the data set column, the feedback file and its rows
    train = cat.read("train")
    share = (train["dataset"] == retrain.FEEDBACK_NAME).mean()
    assert 0 < share <= 0.2 and result.report["train_feedback_share"] == round(share, 4)
    assert set(train["source"][train["dataset"] == retrain.FEEDBACK_NAME]) == {"feedback"}
    rows = storage.read_csv(result.folder / "feedback_rows.csv")
    assert set(rows["api_key_id"]) == {HONEST} and len(rows) == len(cat.read("new_batch"))
    quarantine = storage.read_csv(result.folder / "quarantine.csv")
    assert sorted(quarantine["reason"].str.split(" \\(|:", regex=True).str[0]) == [
        "no API key recorded", "same text with conflicting labels",
        "text of the frozen test set"]
    # stage 6 compared the challenger with the champion on the same fresh split, and on
    # the frozen set with the release it was frozen from
    checks = [c["check"] for c in result.report["checks"]]
    assert any(f"below the live release {champion.release}" in c for c in checks)
    assert any(f"frozen from release {champion.release}" in c for c in checks)
    assert retrain.pending_labels(cat) == 0


def test_a_worse_challenger_is_refused_and_the_champion_stays(project):
    cat = project
    champion = release.live_release(cat)
    honest_feedback(cat)
    result = retrain.retrain("sentiment", cat.root, run=in_process(rows=60),
                             log=lambda *a: None)
    assert result.outcome == retrain.REFUSED
    assert release.live_release(cat) == champion
    assert f"below the live release {champion} with 95% confidence" in result.report["detail"]
    assert storage.read_json(result.folder / "retrain.json")["outcome"] == "refused"


def test_relabelled_texts_cannot_walk_into_production(project):
    # someone with a key labels many new texts that read as praise "negative": the
    # challenger learns it, and may look fine on the fresh split that holds their labels;
    # on the frozen set, whose labels they cannot touch, it is worse than the champion
    cat = project
    champion = release.live_release(cat)
    praise = list(cat.read("train").query("label == 'positive'")["text"])
    texts = [f"{a} {b}" for a, b in zip(praise, praise[1:] + praise[:1], strict=True)]
    log_feedback(cat, texts, ["negative"] * len(texts), ATTACKER)
    relaxed = {"target": 0.3, "min_behaviour_pass_rate": 0.0, "slice_margin": 0.3,
               "interval_margin": 0.3}
    result = retrain.retrain("sentiment", cat.root, overrides=relaxed, run=in_process(),
                             log=lambda *a: None)
    assert result.outcome == retrain.REFUSED and release.live_release(cat) == champion
    assert "on the frozen test set" in result.report["detail"]
    assert result.report["feedback"]["quarantined"] == {
        "over the feedback cap (max_feedback_share 20% of each split)":
            len(texts) - sum(result.report["feedback"]["new_texts"].values())}
    assert result.report["train_feedback_share"] <= 0.2


def test_a_dry_run_judges_the_feedback_and_runs_nothing(project, capsys):
    cat = project
    champion = release.live_release(cat)
    honest_feedback(cat)
    assert retrain.main(["--task", "sentiment", "--root", str(cat.root), "--dry-run",
                         "-p", "budget", "quick", "-p", "max_feedback_share", "0.1"]) == 0
    out = capsys.readouterr().out
    assert f"froze the test split of release {champion}" in out
    # -p values of later stages are accepted; a cap of 0.1 still leaves room for all 60
    assert "60 used" in out and "dry run: no run started" in out
    assert release.live_release(cat) == champion
    assert retrain.pending_labels(cat) == len(cat.read("new_batch")), "still to be learnt"
    assert retrain.main(["--task", "sentiment", "--root", str(cat.root), "--dataset",
                         "builtin-recent"]) == 2
    assert "not the data set the frozen test set was made for" in capsys.readouterr().err
