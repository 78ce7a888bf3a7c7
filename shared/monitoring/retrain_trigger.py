"""The watch loop's retrain trigger: drift or a live-metric alert, plus enough new labels.

Off by default. Switched on by a ``[retrain]`` table in the watch loop's TOML file
(``shared.monitoring.notify``) or by ``--retrain-min-labels N``::

    [retrain]
    min_new_labels = 50                  # labelled feedback since the last retrain
    on = ["domain_auc", "live_*"]        # optional: the alerts that trigger (default below)

When a notice of one of those alerts goes out as "firing" or "still firing" (so at most once
per cooldown), the loop runs ``python -m shared retrain --task T --root R --min-new-labels N``
as a child process and waits for it. The retrain command counts the labels itself and stops
with "not retrained" when too few have arrived; otherwise it runs stages 3-6, and stage 6
releases the challenger only if it is not worse than the champion (``shared.run.retrain``).
A child process, not an import: the retrain sits above monitoring (it runs notebooks and
releases), and a failed retrain cannot take the loop down with it.
"""

from __future__ import annotations

import fnmatch
import logging
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.core.catalog import Catalog

if TYPE_CHECKING:  # notify reads the [retrain] table with from_table: no import back at run time
    from shared.monitoring.notify import Notice

logger = logging.getLogger(__name__)

#: the alerts that say the model no longer fits its traffic: drift of the inputs or of the
#: scores, and quality measured on feedback labels (every ``live_*`` metric); an entry may be
#: a shell-style pattern
DEFAULT_ON = ("unknown_word_share", "confidence_psi", "confidence_ks_pvalue",
              "length_ks_pvalue", "label_shift", "domain_auc", "live_*")
#: a retrain runs four stages; one that takes longer than this is stopped and reported
TIMEOUT_SECONDS = 2 * 60 * 60


class RetrainConfigError(ValueError):
    """The ``[retrain]`` settings are wrong; the message names the file, the key and why."""


@dataclass(frozen=True)
class RetrainTrigger:
    """When the watch loop starts a retrain, and with how many new labels at least."""

    min_new_labels: int
    on: tuple[str, ...] = field(default=DEFAULT_ON)

    def triggered_by(self, notices: Sequence[Notice]) -> list[Notice]:
        """The notices (firing or still firing) of the alerts that trigger a retrain."""
        return [n for n in notices if n.firing
                and any(fnmatch.fnmatchcase(n.metric, pattern) for pattern in self.on)]

    def command(self, cat: Catalog) -> list[str]:
        """The retrain command for ``cat``'s task and root."""
        return [sys.executable, "-m", "shared", "retrain", "--task", cat.task,
                "--root", str(cat.root), "--min-new-labels", str(self.min_new_labels)]

    def run(self, cat: Catalog, notices: Sequence[Notice]) -> str | None:
        """Start the retrain if a notice calls for it; return what happened in one line
        (None when nothing triggered)."""
        reasons = self.triggered_by(notices)
        if not reasons:
            return None
        why = ", ".join(sorted({f"{n.metric} in {n.window}" for n in reasons}))
        logger.info("retrain triggered by %s", why)
        try:
            done = subprocess.run(self.command(cat), capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            logger.error("retrain (triggered by %s) did not finish: %s", why, error)
            return f"retrain triggered by {why} did not finish: {error}"
        lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
        if done.returncode:
            logger.error("retrain exited %d: %s", done.returncode, done.stderr.strip()[-2000:])
        return f"retrain triggered by {why}: exit {done.returncode}, {lines[-1]}"


def from_table(raw: Any, path: object) -> RetrainTrigger:
    """The trigger of a ``[retrain]`` TOML table; RetrainConfigError names what is wrong."""
    if not isinstance(raw, dict):
        raise RetrainConfigError(f"{path}: retrain: give a table, [retrain]")
    unknown = sorted(set(raw) - {"min_new_labels", "on"})
    if unknown:
        raise RetrainConfigError(f"{path}: retrain: unknown key(s) {unknown}; use "
                                 "min_new_labels and on")
    labels = raw.get("min_new_labels")
    if not isinstance(labels, int) or isinstance(labels, bool) or labels < 1:
        raise RetrainConfigError(f"{path}: retrain: min_new_labels must be a whole number of "
                                 f"at least 1 (got {labels!r})")
    on = raw.get("on", list(DEFAULT_ON))
    if not (isinstance(on, list) and on and all(isinstance(m, str) for m in on)):
        raise RetrainConfigError(f"{path}: retrain: on must be a list of alert metrics, such "
                                 f"as {list(DEFAULT_ON[-2:])}")
    return RetrainTrigger(labels, tuple(on))
