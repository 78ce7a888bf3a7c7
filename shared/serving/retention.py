"""Retention: texts that users or data sets sent are kept ``retention_days`` (stage 1), no longer.

What holds texts, and what happens to it once older than the limit:

- the prediction log's predictions and their feedback: deleted in one transaction, the
  deleted texts overwritten and the write-ahead log emptied (``prediction_log.purge``);
- stage 2's quarantine file (excerpts of rejected rows): deleted;
- the run's reports (executed notebooks and their HTML pages, which show texts): deleted;
  the next run writes them again;
- a retrain's record of the feedback it read (``models/<task>/retrain/<time>/*.csv``: the
  feedback texts, the rows used, the quarantined labels): deleted; its ``retrain.json`` holds
  counts and ids, no text, and stays (the next retrain reads where the last one stopped);
- the embedded run history's copies of texts (``mlruns/artifacts/<task>/<run>/artifacts/``:
  each stage's HTML page or failed notebook, and a release's reference predictions): deleted;
  the runs, their parameters, metrics and other files stay. A team's tracking server keeps
  its own policy.

Alerts and monitoring figures hold no texts and stay. A release's reference predictions are
the test split's texts, part of the training data, and live as long as their release (the
newest few are kept). ``apply`` is called by the watch loop on every tick and by
``python -m shared log purge``.
"""

from __future__ import annotations

import time
from pathlib import Path

from shared.core.catalog import Catalog
from shared.serving import prediction_log

DAY_SECONDS = 86_400.0
#: the files of a tracked run that hold texts (``shared.run.tracking``), inside its artifacts
TRACKED_TEXTS = ("reports/*.html", "reports/*.ipynb", "model/reference_predictions.csv")


def _older_than(path: Path, days: float, now: float) -> bool:
    return now - path.stat().st_mtime > days * DAY_SECONDS


def apply(cat: Catalog, retention_days: float, now: float | None = None) -> dict[str, int]:
    """Delete what is older than ``retention_days``; return the counts per kind."""
    now = time.time() if now is None else now
    counts = {"predictions": 0, "feedback": 0, "quarantine": 0, "reports": 0,
              "retrain files": 0, "run history files": 0}
    log = cat.path("prediction_log")
    if log.exists():
        counts.update(prediction_log.purge(log, retention_days))
    quarantine = cat.path("quarantine")
    if quarantine.exists() and _older_than(quarantine, retention_days, now):
        quarantine.unlink()
        counts["quarantine"] = 1
    reports = cat.reports_dir
    if reports.is_dir():
        for page in [*reports.glob("*.html"), *reports.glob("*.ipynb")]:
            if _older_than(page, retention_days, now):
                page.unlink()
                counts["reports"] += 1
    for table in sorted(cat.retrain_dir.glob("*/*.csv")):
        if _older_than(table, retention_days, now):
            table.unlink()
            counts["retrain files"] += 1
    for pattern in TRACKED_TEXTS:
        for copy in sorted(cat.tracked_files_dir.glob(f"*/artifacts/{pattern}")):
            if _older_than(copy, retention_days, now):
                copy.unlink()
                counts["run history files"] += 1
    return counts
