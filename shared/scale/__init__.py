"""Stages 2 to 5 out of core and on Dask: the same work in chunks and Parquet parts.

- ``chunk_validation`` (stage 2), ``prepare_parts`` (stage 3), ``incremental`` (stage 4:
  the search on a sample, then ``partial_fit`` over every part), ``streaming_eval``
  (stage 5: calibration on held-out scores, the test parts in a stream);
- ``stage_engines``: the one interface the notebooks of stages 2 to 5 call, with an
  in-memory and an out-of-core implementation (no notebook cell branches on the engine);
- ``stages``: stages 4 and 5 as one function each on either engine (``train_stage``,
  ``evaluate_stage``), which the notebooks, the benchmarks and the tests call;
- ``cluster``: connecting to a Dask scheduler, or starting a local cluster.

May import: core, data, model.
"""
