"""Every run, readable in a browser: each executed notebook as HTML, and an index page.

``reports/<task>/NN_name.html`` is the executed notebook converted by nbconvert
(figures embedded, nothing to download); ``reports/<task>/index.html`` links
the seven pages and summarizes the run: which stages ran and which were up to
date, their times, the held-out metrics and the gate. It opens from disk, with
no server.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

from shared import storage
from shared.catalog import STAGES, Catalog
from shared.metrics import METRIC_NAMES
from shared.records import EvaluationReport, RecordError
from shared.run_record import RunRecord


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


def index_page(cat: Catalog, record: RunRecord, title: str) -> Path:
    """Write ``reports/<task>/index.html``: the run summary and a link to every page."""
    rows = []
    for stage in STAGES:
        last = record.stages.get(stage.key)
        page = html_path(cat, stage.notebook)
        link = (f'<a href="{html.escape(page.name)}">{html.escape(stage.notebook)}</a>'
                if page.exists() else html.escape(stage.notebook))
        if last is None:
            status, seconds = "not run", ""
        else:
            status = {"ran": "ran", "skipped": "up to date (skipped)"}.get(last.last_action, "")
            status = f"{status}, {last.outcome}" if last.outcome != "succeeded" else status
            seconds = f"{last.seconds:.1f} s" if last.seconds is not None else ""
        rows.append(f"<tr><td>{stage.key}</td><td>{html.escape(stage.title)}</td><td>{link}</td>"
                    f"<td>{html.escape(status)}</td><td class='num'>{seconds}</td></tr>")
    body = [f"<h1>{html.escape(title)}</h1>", "<h2>Stages</h2>",
            "<table><tr><th></th><th>stage</th><th>notebook</th><th>this run</th>"
            "<th>time of its last run</th></tr>", *rows, "</table>", _evaluation_section(cat)]
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    return storage.write_text(cat.reports_dir / "index.html", page)


def _evaluation_section(cat: Catalog) -> str:
    """Held-out metrics and the gate, when stage 5 has written them."""
    try:
        evaluation = EvaluationReport.load(cat)
    except (FileNotFoundError, RecordError):
        return "<p>No held-out metrics yet: stage 5 has not run.</p>"
    primary = evaluation.primary_metric
    interval = evaluation.intervals.get(primary, {})
    metric_rows = "".join(
        f"<tr><td>{name}</td><td class='num'>{evaluation.test[name]:.3f}</td></tr>"
        for name in METRIC_NAMES if evaluation.test.get(name) is not None)
    checks = "".join(
        f"<li>{'✅' if c.passed else '❌'} {html.escape(c.check)}: {c.value:.3f}</li>"
        for c in evaluation.gate.checks)
    return (f"<h2>Held-out test metrics</h2><p>Model: "
            f"{html.escape(evaluation.training.model_description)}; threshold "
            f"{evaluation.threshold:.3f}; 95% interval of {primary}: {interval.get('low', 0):.3f}"
            f" to {interval.get('high', 0):.3f}.</p><table>{metric_rows}</table>"
            f"<h2>Gate: {evaluation.gate.verdict}</h2><ul>{checks}</ul>")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""
