"""Stages 2 to 5 out of core and on Dask: the same work in chunks and Parquet parts.

- ``chunk_validation`` (stage 2), ``prepare_parts`` (stage 3), ``incremental`` (stage 4:
  the search on a sample, then ``partial_fit`` over every part), ``streaming_eval``
  (stage 5: calibration on held-out scores, the test parts in a stream);
- ``out_of_core``: stages 4 and 5 as one function each, as the notebooks run them;
- ``cluster``: connecting to a Dask scheduler, or starting a local cluster.

May import: core, data, model.
"""
