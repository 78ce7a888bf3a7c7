"""Stages 2 and 3: where the data comes from, which rows are fit to use, and the split.

- ``sources`` (built-in sets, public sets, the user's files, several joined:
  ``multisource``), ``public_data`` and ``archives`` (the cache and the download),
  ``userfile`` and ``label_mapping`` (a user's own file and its labels), ``tasks`` (the
  built-in tasks and their default problem spec);
- ``validation``: stage 2, every row kept or quarantined with a reason, the snapshot;
- ``preparation``: stage 3, cleaning, de-duplication, the stratified split;
- ``chunks``, ``partitions`` and ``engines``: reading a data set in chunks, the
  Parquet parts with seeded hashes, and which engine a run uses (in memory or out of
  core), which stages 2 to 5 ask.

May import: core.
"""
