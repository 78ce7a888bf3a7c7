"""The batch command: score a file with the deployed model, one row out for every row in.

    python -m shared.predict --task sentiment input.csv            # writes input.predictions.csv
    python -m shared.predict --task spam inbox.csv -o scored.csv --text-column body

The file is read by stage 2's reader (``shared.core.csv_reader.iter_csv``): a file
stage 2 refuses is refused here with the same error, naming the line (a row
with more fields than the header, a quote never closed, not UTF-8), never
read with its values shifted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from shared.core import command_line, csv_reader, storage
from shared.core.catalog import Catalog, MissingArtifactError
from shared.core.manifest import ManifestMismatchError
from shared.core.modelfile import UntrustedModelError
from shared.core.records import DataSourceError
from shared.serving.predictor import Predictor

#: rows scored (and logged as one batch) at a time, so a large file needs little memory
CHUNK_ROWS = 1000
OUTPUT_COLUMNS = ("label", "confidence", "low_confidence", "prediction_id", "error")


class BatchInputError(ValueError):
    """The input file cannot be read as a table with the text column."""


def predict_file(
    predictor: Predictor, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
    text_column: str = "text", log_path: str | os.PathLike[str] | None = None,
    store_text: bool = True,
) -> dict[str, Any]:
    """Score every row of a CSV file into ``output_path`` (written atomically).

    The output holds the input's columns, then label, confidence,
    low_confidence, prediction_id and error: one row out for every row in; a
    row that cannot be scored keeps its place with the reason in ``error``.
    Scored rows go to the prediction log (when ``log_path`` is given), one
    batch per chunk of CHUNK_ROWS rows. Returns the counts and batch ids.
    """
    input_path = Path(input_path)
    if not input_path.is_file():
        raise BatchInputError(f"{input_path} does not exist or is not a file")
    source = f"batch:{input_path.name}"
    counts = {"rows_in": 0, "rows_scored": 0, "rows_failed": 0, "rows_logged": 0, "batches": []}
    try:
        with storage.atomic_path(output_path) as tmp:
            first = True
            for chunk in csv_reader.iter_csv(input_path, chunk_rows=CHUNK_ROWS):
                if text_column not in chunk.columns:
                    raise BatchInputError(
                        f"{input_path.name} has no column {text_column!r}; its columns are "
                        f"{', '.join(map(repr, chunk.columns))}. Name the text column with "
                        "--text-column."
                    )
                if chunk.empty:
                    continue
                texts = list(chunk[text_column])
                if log_path is not None:
                    result, batch_id = predictor.predict_and_log(texts, log_path, source, store_text)
                    counts["batches"].append(batch_id)
                    # the model's failures (invalid scores) are logged too, with their error
                    counts["rows_logged"] += int((result["prediction_id"] != "").sum())
                else:
                    result = predictor.predict(texts)
                    result["prediction_id"] = ""
                scored = chunk.copy()
                for column in OUTPUT_COLUMNS:
                    scored[column if column not in chunk.columns else f"predicted_{column}"] = (
                        result[column].to_numpy()
                    )
                scored.to_csv(tmp, mode="w" if first else "a", header=first, index=False,
                              encoding="utf-8", lineterminator="\n")
                first = False
                counts["rows_in"] += len(chunk)
                counts["rows_failed"] += int((result["error"] != "").sum())
            if first:
                raise BatchInputError(f"{input_path.name} holds no rows")
    except DataSourceError as error:
        raise BatchInputError(str(error)) from None
    counts["rows_scored"] = counts["rows_in"] - counts["rows_failed"]
    return counts


def main(argv: list[str] | None = None) -> int:
    """The batch command; exit 0 when the file was scored, 2 when it could not be."""
    from shared.data.tasks import TASKS

    parser = command_line.parser("predict", "Score a CSV file with the deployed model: one row out for "
                        "every row in.", [
        "python -m shared predict reviews.csv                  # writes reviews.predictions.csv",
        "python -m shared predict --task spam inbox.csv -o scored.csv --text-column body",
        "python -m shared predict big.parquet --dask local",
    ])
    parser.add_argument("input", type=Path, help="CSV file (UTF-8) with a text column "
                        "(with --dask also a Parquet file or folder)")
    command_line.add_task_and_root(parser, TASKS, holds="models/<task>/deployed")
    parser.add_argument("-o", "--output", type=Path,
                        help="output CSV (default: INPUT with suffix .predictions.csv)")
    parser.add_argument("--text-column", default="text", help="the column holding the texts")
    parser.add_argument("--no-log", action="store_true",
                        help="do not append the predictions to the prediction log")
    parser.add_argument("--hash-texts", action="store_true",
                        help="privacy: log each text's SHA-256 and length, not the text")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="score partition by partition on a Dask cluster (a scheduler "
                             "address, or 'local'); INPUT may be CSV or Parquet, the output is a "
                             "Parquet data set (default: INPUT.predictions.parquet)")
    args = parser.parse_args(argv)
    cat = Catalog.for_task(args.task, args.root)
    if args.dask is not None:
        from shared.serving import dask_scoring

        return dask_scoring.run_command(
            args, None if args.no_log else cat.path("prediction_log"), cat.deployed_dir)
    output = args.output or args.input.with_name(args.input.stem + ".predictions.csv")
    try:
        predictor = Predictor.from_deployed(cat.deployed_dir)
        counts = predict_file(
            predictor, args.input, output, args.text_column,
            None if args.no_log else cat.path("prediction_log"), store_text=not args.hash_texts,
        )
    except (ManifestMismatchError, UntrustedModelError, MissingArtifactError,
            BatchInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{counts['rows_in']} rows in, {counts['rows_scored']} scored, "
          f"{counts['rows_failed']} not scored (see the error column); wrote {output}")
    if not args.no_log:
        print(f"logged {counts['rows_logged']} predictions to {cat.relative(cat.path('prediction_log'))} "
              f"(model {predictor.model_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
