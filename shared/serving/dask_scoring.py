"""Batch scoring on a Dask cluster: partition by partition, one writer for the log.

    python -m shared.predict --task sentiment reviews.parquet --dask tcp://127.0.0.1:8786
    python -m shared.predict --task sentiment reviews.csv --dask local --no-log

The input (a CSV, or a Parquet file or folder) is a ``dask.dataframe``; each
partition is scored on a worker by the same ``shared.serving.predictor.Predictor`` as
in-process scoring (sent to every worker once), so predictions are identical.
Workers only compute. This process is the single writer: as each partition
finishes, it appends the partition's predictions to the log in one
transaction and writes the partition's output part, in any order of
completion; the parts keep the input's order by their names. One row out for
every row in, with the batch command's columns.

Exactly once: a partition is logged when its result arrives, and a result
arrives once. A worker that dies mid-partition never logged anything; Dask
computes the partition again elsewhere. The output appears (renamed into
place) only when every partition is done.

Workers read the input and the client writes the output, so on a real cluster
the input must be on storage every worker can read (a shared folder, or a
URL ``dask.dataframe`` understands).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from shared.core import csv_reader
from shared.core.records import DataSourceError
from shared.data import partitions
from shared.serving import prediction_log
from shared.serving.predictor import INVALID_SCORE, Predictor

OUTPUT_COLUMNS = ("label", "confidence", "low_confidence", "prediction_id", "error")
#: bytes of CSV per partition (a quoted text spanning lines must not straddle a boundary:
#: convert such files to Parquet first)
CSV_BLOCKSIZE = "16MB"


class DaskInputError(ValueError):
    """The input cannot be read as a table with the text column."""


def read_input(path: str | os.PathLike[str], blocksize: str | int = CSV_BLOCKSIZE) -> Any:
    """The input as a ``dask.dataframe``, every value a string as the batch command reads it."""
    import dask.dataframe as dd

    path = Path(path)
    if not path.exists():
        raise DaskInputError(f"{path} does not exist")
    if path.suffix.lower() == ".parquet" or path.is_dir():
        return dd.read_parquet(partitions.part_files(path))
    # each block is parsed by pandas with the header's default handling, which shifts the
    # values of a first row with one field too many; stage 2's reader checks the whole file
    # first (one streamed pass on this machine), so it is refused as stage 2 refuses it
    try:
        for _ in csv_reader.iter_csv(path, chunk_rows=100_000):
            pass
    except DataSourceError as error:
        raise DaskInputError(str(error)) from None
    return dd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8",
                       blocksize=blocksize, skip_blank_lines=False)


def score_frame(
    frame: pd.DataFrame, predictor: Predictor, text_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One partition scored (runs on a worker): the partition and the predictor's answers."""
    if text_column not in frame.columns:
        raise DaskInputError(f"no column {text_column!r}; the columns are "
                             f"{', '.join(map(repr, frame.columns))}. Name it with --text-column.")
    texts = [None if pd.isna(t) else t for t in frame[text_column]]
    result = predictor.predict(texts)
    result.index = frame.index
    return frame, result


def score(
    client: Any, predictor: Predictor, input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str], text_column: str = "text",
    log_path: str | os.PathLike[str] | None = None, store_text: bool = True,
    on_partition: Callable[[int], None] | None = None, blocksize: str | int = CSV_BLOCKSIZE,
) -> dict[str, Any]:
    """Score ``input_path`` on the cluster into a Parquet data set at ``output_path``.

    Each finished partition is logged (one transaction) and written as
    ``part-NNNNN.parquet`` by this process; ``on_partition(index)`` is called
    after each. Returns the counts, the partitions and the batch ids.
    """
    import dask
    from distributed import as_completed

    input_path = Path(input_path)
    frame = read_input(input_path, blocksize)
    source = f"batch:{input_path.name}"
    remote = client.scatter(predictor, broadcast=True)
    futures = client.compute([dask.delayed(score_frame)(part, remote, text_column)
                              for part in frame.to_delayed()])
    position = {future.key: index for index, future in enumerate(futures)}
    counts: dict[str, Any] = {"rows_in": 0, "rows_scored": 0, "rows_failed": 0,
                              "partitions": len(futures), "batches": []}
    start = time.perf_counter()
    with partitions.replacing_folder(output_path) as staging:
        for future, (part, result) in as_completed(futures, with_results=True):
            index = position[future.key]
            ids = pd.Series("", index=result.index, dtype=object)
            scored = result["error"] == ""
            # the model's failures are logged too, with their error (answered = logged)
            logs = scored | result["error"].str.startswith(INVALID_SCORE)
            if log_path is not None and logs.any():
                batch_id, logged = _log(result[logs], predictor, log_path, source, store_text)
                ids[logs] = logged
                counts["batches"].append(batch_id)
            result["prediction_id"] = ids
            out = part.copy()
            for column in OUTPUT_COLUMNS:
                out[column if column not in part.columns else f"predicted_{column}"] = \
                    result[column].to_numpy()
            out.reset_index(drop=True).to_parquet(staging / partitions.part_name(index),
                                                  index=False)
            counts["rows_in"] += len(part)
            counts["rows_failed"] += int((~scored).sum())
            if on_partition is not None:
                on_partition(index)
    counts["rows_scored"] = counts["rows_in"] - counts["rows_failed"]
    counts["seconds"] = time.perf_counter() - start
    return counts


def _log(result: pd.DataFrame, predictor: Predictor, log_path: str | os.PathLike[str],
         source: str, store_text: bool) -> tuple[str, list[str]]:
    """Append a partition's scored rows to the log in one transaction (as the predictor does)."""
    columns = [result[c].to_numpy() for c in ("text", "label", "confidence", "score",
                                               "latency_ms", "unknown_word_share", "error")]
    return prediction_log.append(
        log_path, (prediction_log.LoggedPrediction(*row) for row in zip(*columns, strict=True)),
        model_version=predictor.model_version, source=source, store_text=store_text)


def run_command(args: argparse.Namespace, log_path: Path | None, deployed_dir: Path) -> int:
    """``python -m shared.predict ... --dask ADDRESS``: exit 0 when scored, 2 when not."""
    from shared.scale import cluster

    output = args.output or args.input.with_name(args.input.stem + ".predictions.parquet")
    try:
        predictor = Predictor.from_deployed(deployed_dir)
        with cluster.connect(args.dask) as client:
            if client is None:
                raise cluster.ClusterError("--dask needs an address, or 'local'")
            counts = score(client, predictor, args.input, output, args.text_column, log_path,
                           store_text=not args.hash_texts)
    except (cluster.ClusterError, DaskInputError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{counts['rows_in']} rows in, {counts['rows_scored']} scored, {counts['rows_failed']} "
          f"not scored (see the error column), {counts['partitions']} partitions on the cluster; "
          f"wrote {output}")
    if log_path is not None:
        print(f"logged {counts['rows_scored']} predictions, one transaction per partition "
              f"(model {predictor.model_version})")
    return 0
