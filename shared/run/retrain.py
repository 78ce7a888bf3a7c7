"""Retraining from feedback: ``python -m shared retrain --task T`` (or ``python -m shared.retrain``).

The labels that ``POST /feedback`` recorded in the prediction log become training data,
and the model trained on them (the challenger) replaces the live one (the champion)
only if stage 6 lets it. One code path: the retrain writes the accepted feedback as a
data set of its own and runs the workflow (``shared.run.runner``) on the original data
plus that file, as any run would; stage 6 (``shared.deploy.deployment``,
``shared.deploy.challenger``) decides.

1. **The champion** is the live release; without one there is nothing to retrain.
2. **The frozen test set** (``shared.deploy.challenger.freeze``) is kept at the first retrain
   from the live release's test split, with its scores, and checked against its
   SHA-256 at every later use. Feedback can never reach it.
3. **The original data** is the data set the frozen set was made for (``--dataset`` at
   the first retrain; by default the data set of the last run's stage 2). It is loaded
   with stage 2's own reader to find the labels feedback could contradict.
4. **The feedback** (``shared.deploy.feedback.select_feedback``): the latest label of each prediction.
   Feedback is untrusted input. A label is used only when an API key sent it (the
   service records the key's public name, ``shared.serving.guards.key_id``), and only when
   the log kept the text. Every other label is quarantined with its reason, the first
   that applies: no text; no key; the text's own (``text_rules``); an unknown label;
   a text of the frozen test set; a label that contradicts the original data, or
   another feedback label for the same text (stage 2's rule of multi-source loading:
   "same text with conflicting labels"; the original row is kept, feedback can never
   take a curated row out of training); over the cap. A label that agrees with an
   original text is kept and counted by stage 3 as a duplicate across data sets.
5. **The cap**: new feedback texts make at most ``max_feedback_share`` (stage 1) of the
   training split, and as much of the test split. Texts are taken round-robin over
   the API keys, newest first within each key, so that one sender cannot crowd out
   the others.
6. **The run**: ``--dataset <original>+<feedback.csv>`` with stage 3's ``hash_split``
   on the feedback (the original rows split exactly as the champion's did, so the
   frozen texts stay in the test split; each feedback text split by a hash of it).
   Stages whose inputs changed run (2 to 7); stage 6 compares the challenger with the
   champion on the same fresh test split and on the frozen set.

Everything a retrain read and decided is in ``models/<task>/retrain/<time>/``:
``feedback.csv`` (the data set given to stage 2), ``feedback_rows.csv`` (each used
label's prediction id, key name and time; its position is stage 2's ``row``),
``quarantine.csv`` and ``retrain.json``. These hold texts users sent: delete them
with the prediction log's retention.

The watch loop (``shared.monitoring.monitor``) triggers a retrain through :func:`pending_labels`
(usable labels not yet seen by a retrain) and :func:`retrain`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shared.core import command_line, storage
from shared.core.catalog import PROJECT_DIR, Catalog
from shared.core.problem import ProblemSpec
from shared.core.text_rules import dedup_key
from shared.deploy import challenger, release
from shared.deploy.feedback import Selection, original_labels, read_feedback, select_feedback
from shared.run import tracking

#: the feedback data set's file name, and so its name in the ``dataset`` column
FEEDBACK_NAME = "feedback.csv"
#: the ``source`` of every feedback row (the channel is not known for a logged text)
FEEDBACK_SOURCE = "feedback"

RELEASED, REFUSED, FAILED, NOTHING = "released", "refused", "failed", "nothing to learn"
DRY_RUN = "dry run"


class RetrainError(RuntimeError):
    """The retrain cannot start; the message says why and what to do."""


def pending_labels(cat: Catalog) -> int:
    """Feedback labels a retrain could use (sent with an API key, text kept) that arrived
    after the last retrain read the log: what the watch loop weighs before a retrain."""
    feedback = read_feedback(cat.path("prediction_log"), last_feedback_id(cat))
    return int((feedback["api_key_id"].notna() & feedback["text"].notna()).sum())


def last_feedback_id(cat: Catalog) -> int:
    """The newest feedback id the last retrain read (0 before the first; a dry run does not
    count)."""
    for path in sorted(cat.retrain_dir.glob("*/retrain.json"), reverse=True):
        report = storage.read_json(path)
        if report.get("outcome") != DRY_RUN:
            return int(report.get("last_feedback_id", 0))
    return 0


@dataclass
class RetrainResult:
    """How a retrain ended (``outcome``), where its files are, and what it recorded."""

    outcome: str
    folder: Path | None
    report: dict[str, Any]


def _default_dataset(cat: Catalog) -> str:
    from shared.run.run_record import RunRecord

    record = RunRecord.read(cat).stages.get("02")
    dataset = record.dataset if record is not None and record.dataset else "builtin"
    if FEEDBACK_NAME in dataset:
        raise RetrainError(
            f"the last run's data set {dataset!r} already holds feedback, and no frozen test "
            "set says which data was the original: name it with --dataset")
    return dataset


#: the run's column options for a user's file, and the keys of a data set part's own options
COLUMN_OPTIONS = {"text_column": "text", "label_column": "label", "positive_label": "positive"}


def _column_options(overrides: dict[str, Any]) -> dict[str, Any]:
    return {name: overrides[name] for name in COLUMN_OPTIONS if overrides.get(name) is not None}


def _with_own_options(dataset: str, task: str, overrides: dict[str, Any]) -> str:
    """The original data set with the run's column options as its own (``file:text=...``):
    run-wide, they would apply to the feedback file too, whose labels are the task's."""
    from shared.data.sources import parse_dataset

    options = _column_options(overrides)
    if not options:
        return dataset
    parts = parse_dataset(dataset, task)
    if len(parts) != 1 or parts[0].path is None or parts[0].options:
        raise RetrainError(
            f"-p {', '.join(options)} apply to every user file of the run, the feedback file "
            f"too; give them as the data set's own options instead: --dataset "
            f"FILE:text=...,label=...,positive=...")
    return f"{dataset}:" + ",".join(f"{COLUMN_OPTIONS[k]}={v}" for k, v in options.items())


def retrain(
    task: str, root: Path = PROJECT_DIR, dataset: str | None = None,
    overrides: dict[str, Any] | None = None, dry_run: bool = False,
    log: Callable[..., Any] = print, run: Callable[..., Any] | None = None,
    tracking_uri: str | None = None,
) -> RetrainResult:
    """Retrain the live model of ``task`` on its original data plus the usable feedback, and
    let stage 6 decide. ``run`` replaces ``shared.run.runner.run`` (same arguments); with
    ``tracking_uri`` the run is recorded in that run history, as any run is. Raises
    RetrainError when it cannot start (nothing live, a frozen set that changed, another
    data set than the frozen set's)."""
    from shared.data import sources, tasks, validation
    from shared.deploy.deployment import live_manifest

    started = datetime.now(UTC)
    cat = Catalog.for_task(task, Path(root))
    overrides = dict(overrides or {})
    champion = release.live_release(cat)
    live = live_manifest(cat)
    if champion is None or live is None:
        raise RetrainError(f"nothing of task {task!r} is deployed under {cat.root}: run the "
                           "workflow first (python -m shared run), then retrain its live model")
    try:
        frozen = challenger.load_frozen(cat)
    except challenger.FrozenSetError as error:
        raise RetrainError(str(error)) from None
    if frozen is not None:
        if dataset is not None and dataset != frozen.record["dataset"]:
            raise RetrainError(
                f"--dataset {dataset!r} is not the data set the frozen test set was made for "
                f"({frozen.record['dataset']!r}); a retrain adds feedback to that data")
        dataset = frozen.record["dataset"]
    else:
        dataset = dataset or _default_dataset(cat)
        frozen = challenger.freeze(cat, storage.read_csv(cat.deployed_dir /
                                                         "reference_predictions.csv"),
                                   champion, live.metrics.threshold, dataset, (FEEDBACK_NAME,))
        log(f"froze the test split of release {champion} as the frozen test set "
            f"({frozen.record['rows']} texts, SHA-256 {frozen.record['sha256'][:12]})")
    spec_fields = {f.name for f in fields(ProblemSpec)}  # -p may also set stage 2-6 values
    spec, _ = tasks.run_spec(task, dataset, **{k: v for k, v in overrides.items()
                                               if k in spec_fields})
    data = sources.load_dataset(dataset, task, **_column_options(overrides))
    kept = validation.validate(data, spec).kept
    distinct = set(kept["text"].map(dedup_key))
    frozen_dedup = set(frozen.table["text"].map(dedup_key))
    feedback = read_feedback(cat.path("prediction_log"))
    selection = select_feedback(feedback, original_labels(data.frame, spec), frozen.keys, spec,
                                len(distinct - frozen_dedup), len(frozen_dedup & distinct))
    folder = cat.retrain_dir / started.strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, exist_ok=True)
    used = selection.used
    storage.write_csv(folder / FEEDBACK_NAME, pd.DataFrame(
        {"text": used["text"], "label": used["label"], "source": FEEDBACK_SOURCE}))
    storage.write_csv(folder / "feedback_rows.csv", used.assign(row=range(1, len(used) + 1))[
        ["row", "feedback_id", "prediction_id", "api_key_id", "feedback_at", "side", "original"]])
    storage.write_csv(folder / "quarantine.csv", selection.quarantined[
        ["feedback_id", "prediction_id", "api_key_id", "feedback_at", "reason", "label", "text"]])
    mix = f"{_with_own_options(dataset, task, overrides)}+{folder / FEEDBACK_NAME}"
    report: dict[str, Any] = {
        "task": task, "started_at": started.isoformat(timespec="seconds"),
        "champion": champion, "dataset": dataset, "mix": mix,
        "frozen": {k: frozen.record[k] for k in ("rows", "sha256", "release")},
        "feedback": selection.counts,
        "last_feedback_id": int(feedback["feedback_id"].max()) if len(feedback) else
        last_feedback_id(cat),
    }
    _describe(selection, log)
    new_texts = sum(selection.counts["new_texts"].values())
    if dry_run or not new_texts:
        outcome = DRY_RUN if dry_run else NOTHING
        report["outcome"] = outcome
        storage.write_json(folder / "retrain.json", report)
        log(f"{outcome}: no run started" + ("" if new_texts else
                                            " (no new labelled text passed the checks)"))
        return RetrainResult(outcome, folder, report)
    if run is None:
        from shared.run.runner import run
    outcome, detail = RELEASED, ""
    try:
        run(task, mix, {**{k: v for k, v in overrides.items() if k not in COLUMN_OPTIONS},
                        "hash_split": [FEEDBACK_NAME]}, Path(root), log=log,
            tracking_uri=tracking_uri)
    except Exception as error:  # noqa: BLE001 - the runner's RunError, or a refusal in-process
        detail = str(error)
        outcome = REFUSED if "refuses to deploy" in detail else FAILED
    now_live = release.live_release(cat)
    if outcome == RELEASED and now_live == champion:
        outcome, detail = FAILED, "the run ended but no new release went live"
    report.update(outcome=outcome, detail=detail, live_release=now_live,
                  finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                  train_feedback_share=_train_share(cat),
                  checks=_release_checks(cat, now_live if outcome == RELEASED else None))
    storage.write_json(folder / "retrain.json", report)
    log(f"retrain {outcome}: " + (f"release {now_live} is live (was {champion})"
                                  if outcome == RELEASED else
                                  f"release {champion} stays live\n{detail}"))
    return RetrainResult(outcome, folder, report)


def _describe(selection: Selection, log: Callable[..., Any]) -> None:
    counts = selection.counts
    log(f"feedback: {counts['labels_read']} labels read, {counts['labels_used']} used "
        f"({counts['new_texts']['train']} new texts for training, "
        f"{counts['new_texts']['test']} for the test split, "
        f"{counts['agreeing_with_original']} agreeing with the original data)")
    for reason, n in counts["quarantined"].items():
        log(f"  quarantined {n:>5}  {reason}")


def _train_share(cat: Catalog) -> float | None:
    """The share of feedback rows in the training split the run wrote."""
    if not cat.path("train").is_file():
        return None
    train = cat.read("train")
    if "dataset" not in train.columns or not len(train):
        return None
    return round(float((train["dataset"] == FEEDBACK_NAME).mean()), 4)


def _release_checks(cat: Catalog, name: str | None) -> list[dict[str, Any]]:
    """The release checks stage 6 recorded for a new release (the refusal message says them
    otherwise)."""
    if name is None:
        return []
    manifest = release.manifest_of(cat, name)
    return [c.to_dict() for c in (manifest.approval.checks if manifest.approval else [])]


def main(argv: list[str] | None = None) -> int:
    """``python -m shared retrain``: exit 0 when a challenger was released or there was
    nothing to learn, 1 when it was refused or the run failed, 2 when it could not start."""
    from shared.data.tasks import TASKS
    from shared.run.runner import parse_value

    parser = command_line.parser("retrain", "Retrain the live model on its data plus labelled feedback; "
                        "stage 6 releases the challenger only if it is not worse than the "
                        "champion.", [
        "python -m shared retrain --task spam",
        "python -m shared retrain --task spam --dry-run        # judge the feedback, run nothing",
        "python -m shared retrain --task sentiment -p max_feedback_share 0.1",
        "python -m shared retrain --task spam --dataset sms-spam   # first retrain only",
        "python -m shared retrain --task spam --min-new-labels 50  # as the watch loop does",
    ])
    command_line.add_task_and_root(parser, TASKS, holds="data/, models/ and reports/")
    parser.add_argument("--dataset", help="the original data (first retrain only; later ones "
                        "use the frozen test set's); default: the last run's data set")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="set a notebook parameter, as for run")
    parser.add_argument("--dry-run", action="store_true",
                        help="judge the feedback and write what would be used; run nothing")
    parser.add_argument("--min-new-labels", type=int, default=0, metavar="N",
                        help="retrain only if at least N feedback labels arrived since the last "
                        "retrain (what the watch loop passes); otherwise exit 0, untouched")
    tracking.add_options(parser)
    args = parser.parse_args(argv)
    overrides = {name: parse_value(value) for name, value in args.parameter}
    if args.min_new_labels:
        waiting = pending_labels(Catalog.for_task(args.task, args.root))
        if waiting < args.min_new_labels:
            print(f"not retrained: {waiting} new feedback label(s) since the last retrain, "
                  f"{args.min_new_labels} needed")
            return 0
    try:
        result = retrain(args.task, args.root, args.dataset, overrides, args.dry_run,
                         tracking_uri=tracking.uri_from(args, args.root))
    except (RetrainError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"retrain record: {result.folder}")
    return 0 if result.outcome in (RELEASED, NOTHING, DRY_RUN) else 1


if __name__ == "__main__":
    sys.exit(main())
