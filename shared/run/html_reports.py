"""Every run, readable in a browser: each executed notebook as HTML, and an index page.

``reports/<task>/NN_name.html`` is the executed notebook converted by nbconvert
(figures embedded, nothing to download); ``reports/<task>/index.html`` links
the seven pages and summarizes the run: what this run did with each stage (ran,
up to date, failed, not run) and its time, the held-out metrics and the gate.
A failed run says so in its title; a page or a result that this run did not
make (a stage it did not reach) is labelled as the earlier run's, with its
date and data set. Pass marks are words (PASS, FAIL), not emoji. It opens from
disk, with no server.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

from shared.core import storage
from shared.core.catalog import STAGES, Catalog
from shared.core.records import EvaluationReport, RecordError
from shared.model.metrics import METRIC_NAMES
from shared.run.run_record import RunRecord


def html_path(cat: Catalog, notebook: str) -> Path:
    """Where the HTML page of an executed notebook goes."""
    return cat.reports_dir / Path(notebook).with_suffix(".html").name


@functools.cache
def _exporter() -> Any:
    """One HTML exporter for the process: each new one compiles its templates again (the
    seven pages of a run: 1.5-1.9 s with one exporter each, 1.0-1.1 s with this one; the
    same bytes)."""
    from nbconvert import HTMLExporter  # imported only where a page is written: it is slow

    return HTMLExporter()


def notebook_page(executed: Path, target: Path) -> Path:
    """Convert an executed notebook to a standalone HTML page, atomically."""
    body, _ = _exporter().from_filename(str(executed))
    return storage.write_text(target, body)


#: what a run did with a stage, as the index shows it
RAN, SKIPPED, FAILED, NOT_RUN = "ran", "up to date (skipped)", "FAILED", "not run"


def index_page(
    cat: Catalog, record: RunRecord, title: str, this_run: dict[str, str] | None = None,
    standing: dict[str, Any] | None = None,
) -> Path:
    """Write ``reports/<task>/index.html``: the run summary and a link to every page.

    ``this_run`` maps each stage key to what this run did with it: ``"ran"``,
    ``"skipped"`` or ``"failed"``; a stage it does not name was not run. Without
    it (an older caller), the record's last action is shown. ``standing``
    (``shared.run.history.standing``, rows as dicts) places this run's primary metric among the
    earlier runs of its task and data set in the run history.
    """
    rows = []
    for stage in STAGES:
        last = record.stages.get(stage.key)
        page = html_path(cat, stage.notebook)
        action = (this_run.get(stage.key) if this_run is not None
                  else (last.last_action if last is not None else None))
        status = {"ran": RAN, "skipped": SKIPPED, "failed": FAILED}.get(action or "", NOT_RUN)
        ours = action in ("ran", "skipped")
        if action == "failed":
            failed = cat.reports_dir / f"FAILED_{stage.notebook}"
            link = (f'<a href="{html.escape(failed.name)}">{html.escape(failed.name)}</a>'
                    if failed.exists() else html.escape(stage.notebook))
        elif page.exists() and last is not None and not ours:
            link = (f'{html.escape(stage.notebook)} (<a href="{html.escape(page.name)}">page of '
                    f"an earlier run, {html.escape(_when(last.started_at))}</a>)")
        elif page.exists():
            link = f'<a href="{html.escape(page.name)}">{html.escape(stage.notebook)}</a>'
        else:
            link = html.escape(stage.notebook)
        seconds = (f"{last.seconds:.1f} s" if ours and last is not None
                   and last.seconds is not None else "")
        rows.append(f"<tr><td>{stage.key}</td><td>{html.escape(stage.title)}</td><td>{link}</td>"
                    f"<td class='{status.split()[0].lower()}'>{html.escape(status)}</td>"
                    f"<td class='num'>{seconds}</td></tr>")
    failed_at = [key for key, action in (this_run or {}).items() if action == "failed"]
    if failed_at:
        title = f"{title}: FAILED at stage {failed_at[0]}"
    body = [f"<h1>{html.escape(title)}</h1>", "<h2>Stages</h2>",
            "<table><tr><th></th><th>stage</th><th>notebook</th><th>this run</th>"
            "<th>time</th></tr>", *rows, "</table>", _evaluation_section(cat, record, this_run),
            _standing_section(standing)]
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    return storage.write_text(cat.reports_dir / "index.html", page)


def _when(started_at: str) -> str:
    """A record's time as the page shows it: date and time, UTC."""
    return started_at.replace("T", " ").replace("+00:00", " UTC")


def _evaluation_section(
    cat: Catalog, record: RunRecord | None = None, this_run: dict[str, str] | None = None,
) -> str:
    """Held-out metrics and the gate, when stage 5 has written them.

    Shown as this run's only when this run ran stage 5 or found it up to date;
    otherwise under a heading that says they are the earlier run's, with its
    date and data set.
    """
    try:
        evaluation = EvaluationReport.load(cat)
    except (FileNotFoundError, RecordError):
        return "<p>No held-out metrics yet: stage 5 has not run.</p>"
    evaluated = record.stages.get("05") if record is not None else None
    ours = this_run is None or this_run.get("05") in ("ran", "skipped")
    heading = "Held-out test metrics"
    if not ours:
        when = _when(evaluated.started_at) if evaluated is not None else "an unknown date"
        on = (f" on data set {html.escape(evaluated.dataset)}"
              if evaluated is not None and evaluated.dataset else "")
        heading = (f"Results of the previous successful run (stage 05 of {html.escape(when)}"
                   f"{on}), not of this run")
    primary = evaluation.primary_metric
    interval = evaluation.intervals.get(primary, {})
    metric_rows = "".join(
        f"<tr><td>{name}</td><td class='num'>{evaluation.test[name]:.3f}</td></tr>"
        for name in METRIC_NAMES if evaluation.test.get(name) is not None)
    checks = "".join(
        f"<li><strong>{'PASS' if c.passed else 'FAIL'}</strong> {html.escape(c.check)}: "
        f"{c.value:.3f}</li>"
        for c in evaluation.gate.checks)
    gate = "Gate" if ours else "Gate of the previous run"
    return (f"<h2>{heading}</h2><p>Model: "
            f"{html.escape(evaluation.training.model_description)}; threshold "
            f"{evaluation.threshold:.3f}; 95% interval of {primary}: {interval.get('low', 0):.3f}"
            f" to {interval.get('high', 0):.3f}.</p><table>{metric_rows}</table>"
            f"<h2>{gate}: {evaluation.gate.verdict}</h2><ul>{checks}</ul>")


def _standing_section(standing: dict[str, Any] | None) -> str:
    """This run's primary metric among the earlier runs of its task and data set."""
    if standing is None:
        return ""
    metric, value = html.escape(standing["metric"]), standing["value"]
    lead = f"This run's {metric}"
    if standing.get("kept_from") is not None:
        lead = (f"This run found stage 5 up to date and kept the evaluation of run "
                f"{html.escape(standing['kept_from']['name'])}: its {metric}")
    if standing["runs"] == 1:
        return (f"<h2>Among earlier runs</h2><p>{lead}, {value:.3f}, is the first of this task "
                "and data set in the run history.</p>")
    best = standing["best"]
    rows = "".join(
        f"<tr><td>{html.escape(row['started'])}</td><td>{html.escape(row['name'])}</td>"
        f"<td class='num'>{row['value']:.3f}</td><td>{html.escape(row['gate'])}</td></tr>"
        for row in standing["earlier"])
    return (f"<h2>Among earlier runs</h2><p>{lead}, {value:.3f}, ranks {standing['rank']} of "
            f"{standing['runs']} evaluated runs of this task and data set in the run history "
            f"(best: {best['value']:.3f}, run {html.escape(best['name'])}). The newest earlier "
            f"ones:</p><table><tr><th>started (UTC)</th><th>run</th><th>{metric}</th>"
            f"<th>gate</th></tr>{rows}</table>")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed { color: #b00020; font-weight: bold; }
"""
