"""Reading the run history: ``python -m shared runs``, and where a run stands among earlier ones.

The history is written by ``shared.run.tracking`` (one MLflow parent run per pipeline run);
this module lists it. ``runs`` prints the newest runs of a task as a table: when, which data
set, the primary metric with its 95% interval, the gate, the release and what the run did with
its stages. A run that found stage 5 up to date evaluated nothing, and shows no result: its
stage runs name the run that produced what it kept (``produced_by``).

    python -m shared runs                    # sentiment, the embedded store under the project
    python -m shared runs --task spam --last 5
    make ui                                  # the same runs in MLflow's web UI, on 127.0.0.1
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.core import command_line
from shared.run import tracking


@dataclass(frozen=True)
class RunRow:
    """One pipeline run as the table shows it."""

    run_id: str
    name: str
    started: str
    dataset: str
    metric: str
    value: float | None
    low: float | None
    high: float | None
    gate: str
    release: str
    stages: str

    @property
    def result(self) -> str:
        """'f1 0.775 [0.704, 0.836]', or '-' for a run that evaluated nothing."""
        if self.value is None:
            return "-"
        shown = f"{self.metric} {self.value:.3f}"
        if self.low is not None and self.high is not None:
            shown += f" [{self.low:.3f}, {self.high:.3f}]"
        return shown


def _row(run: Any) -> RunRow:
    tags, metrics = run.data.tags, run.data.metrics
    metric = tags.get("primary_metric", "")
    ran = [key.removeprefix("stage_") for key, action in sorted(tags.items())
           if key.startswith("stage_") and action == "ran"]
    stages = ("ran " + " ".join(ran)) if ran else "nothing ran (all up to date)"
    failed = [key.removeprefix("stage_") for key, action in sorted(tags.items())
              if key.startswith("stage_") and action == "failed"]
    if failed:
        stages += f", FAILED at {failed[0]}"
    return RunRow(
        run_id=run.info.run_id, name=tags.get("mlflow.runName", ""),
        started=_when(run.info.start_time), dataset=tags.get("dataset", ""), metric=metric,
        value=metrics.get(f"test.{metric}"), low=metrics.get(f"test.{metric}.low"),
        high=metrics.get(f"test.{metric}.high"), gate=tags.get("gate", "-"),
        release=tags.get("release", "-"), stages=stages,
    )


def _when(milliseconds: int | None) -> str:
    from datetime import UTC, datetime

    if not milliseconds:
        return ""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def pipeline_runs(mlflow_client: Any, experiment: str, dataset: str | None = None,
                  last: int = 20) -> list[RunRow]:
    """The newest ``last`` pipeline runs of an experiment (of ``dataset`` only, when given)."""
    query = f"tags.kind = '{tracking.PIPELINE}'"
    quote = next((q for q in "'\"" if dataset is not None and q not in dataset), None)
    if dataset is not None and quote is not None:
        query += f" and tags.dataset = {quote}{dataset}{quote}"
    elif dataset is not None:  # a name with both quotes: MLflow's filter cannot spell it
        last = 50_000
    runs = mlflow_client.search_runs([experiment], filter_string=query, max_results=last,
                                     order_by=["attributes.start_time DESC"])
    return [_row(run) for run in runs
            if dataset is None or run.data.tags.get("dataset") == dataset]


def standing(current: RunRow, earlier: list[RunRow]) -> dict[str, Any] | None:
    """Where ``current``'s primary metric sits among ``earlier`` evaluated runs (same task and
    data set): its rank, how many runs, the best one and the newest ten (as plain dicts, as
    the recorder sends them to the runner). None when ``current`` evaluated nothing."""
    if current.value is None:
        return None
    scored = [row for row in earlier if row.value is not None and row.metric == current.metric
              and row.run_id != current.run_id]
    best = max(scored, key=lambda row: row.value, default=None)
    rank = 1 + sum(row.value > current.value for row in scored)
    return {"metric": current.metric, "value": current.value, "rank": rank,
            "runs": len(scored) + 1, "best": None if best is None else asdict(best),
            "earlier": [asdict(row) for row in scored[:10]]}


def format_table(rows: list[RunRow]) -> str:
    """The rows as a plain-text table, newest first (as the other commands print theirs)."""
    import pandas as pd

    header = ("started (UTC)", "run", "dataset", "result [95% interval]", "gate", "release",
              "stages")
    lines = [(r.started, r.run_id[:8], _short(r.dataset), r.result, r.gate, r.release, r.stages)
             for r in rows]
    return pd.DataFrame(lines, columns=header).to_string(index=False)


def _short(dataset: str, width: int = 40) -> str:
    return dataset if len(dataset) <= width else "..." + dataset[-(width - 3):]


def main(argv: list[str] | None = None) -> int:
    """``python -m shared runs``: the newest runs of a task; exit 2 when the store cannot be
    read."""
    from shared.data.tasks import TASKS

    parser = command_line.parser("runs", "List the newest runs of a task from the run history.", [
        "python -m shared runs                          # sentiment runs, newest first",
        "python -m shared runs --task spam --last 5",
        "python -m shared runs --dataset sms-spam --task spam",
        "python -m shared runs --tracking-uri http://127.0.0.1:5000",
    ])
    command_line.add_task_and_root(parser, TASKS, holds="mlruns/, the embedded run history")
    parser.add_argument("--dataset", help="only runs on this data set (as given to run)")
    parser.add_argument("--last", type=int, default=20, help="how many runs (default 20)")
    parser.add_argument("--tracking-uri", help="the store to read (default: MLFLOW_TRACKING_URI, "
                                               "else mlruns/ under --root)")
    args = parser.parse_args(argv)
    uri = tracking.resolve_uri(Path(args.root), args.tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        print(f"no run history in {tracking.shown_uri(uri)} yet: `python -m shared run` "
              "records one")
        return 0
    try:
        mlflow_client = tracking.client(uri)
        experiment = mlflow_client.get_experiment_by_name(tracking.experiment_name(args.task))
        rows = ([] if experiment is None else
                pipeline_runs(mlflow_client, experiment.experiment_id, args.dataset, args.last))
    except Exception as error:  # noqa: BLE001 (any store failure is reported the same way)
        reason = tracking.without_credentials(str(error).splitlines()[0] if str(error) else "")
        print(f"error: cannot read the run history at {tracking.shown_uri(uri)}: "
              f"{type(error).__name__}: {reason}", file=sys.stderr)
        return 2
    if not rows:
        print(f"no runs of task {args.task} in {tracking.shown_uri(uri)}")
        return 0
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
